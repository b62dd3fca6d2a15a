"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import time
import uuid

from django.test import Client
from django.utils import timezone
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import Plan, Tenant, User
from billing.models import PaymentProfile, State
from identity.policy import has_device

PASSWORD = "correct horse battery staple"

# What a process started the way an operator starts one inherits from this test run.
_PASSED_ON = {"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR"}


def operator_env(**env: str) -> dict[str, str]:
    """The environment for a subprocess (manage.py, gunicorn, make): ``env`` on top of
    the bare minimum of this one, never the rest. The test run's own switches would
    leak otherwise and change what is being tested: DJANGO_ALLOW_ASYNC_UNSAFE (set
    for the whole process once the browser tests start Playwright), DATABASE_URL,
    a developer's DEBUG or SECURE_*, or the MAKEFLAGS of `make test`."""
    kept = {k: v for k, v in os.environ.items() if k in _PASSED_ON or k.startswith("LC_")}
    return {**kept, **env}


def make_user(email: str, tenant: Tenant | None, *, admin=False, plan=None, terms=True, **extra):
    return User.objects.create_user(
        email=email,
        password=PASSWORD,
        name=extra.pop("name", email.split("@")[0].title()),
        tenant=tenant,
        is_tenant_admin=admin,
        plan=plan,
        terms_accepted_at=timezone.now() if terms else None,
        **extra,
    )


def no_profile_saved() -> bool:
    """Nothing was saved: every profile is still as it was made with its user (state
    none, no details)."""
    return not PaymentProfile.objects.exclude(
        state=State.NONE,
        method="",
        stripe_payment_method_id="",
        company_name="",
        submitted_at=None,
    ).exists()


def state_of(user: User) -> str:
    """The state of the user's payment profile, read back from the database."""
    return PaymentProfile.objects.get(user=user).state


def messages_of(response) -> list[str]:
    """The messages shown on a response's page (follow the redirect to get them)."""
    return [str(m) for m in response.context["messages"]]


# What a person meets on a page, read from its HTML: headings, buttons and links by
# their text, not by how they are styled.
_TAGS = re.compile(r"<[^>]+>")


def _text(fragment: str) -> str:
    return " ".join(_TAGS.sub("", fragment).split())


def headings(html: str) -> list[str]:
    return [_text(m[1]) for m in re.findall(r"<(h[1-6])\b[^>]*>(.*?)</\1>", html, re.S)]


def buttons(html: str) -> list[str]:
    """Each button's name: its text, or its aria-label when it has none (a Close button)."""
    found = []
    for attrs, inner in re.findall(r"<button\b([^>]*)>(.*?)</button>", html, re.S):
        label = re.search(r'aria-label="([^"]*)"', attrs)
        found.append(_text(inner) or (label[1] if label else ""))
    return found


def links(html: str) -> list[tuple[str, str]]:
    """(text, href) of each link."""
    return [
        (_text(inner), href)
        for href, inner in re.findall(r'<a\b[^>]*?\bhref="([^"]*)"[^>]*>(.*?)</a>', html, re.S)
    ]


def client_for(user: User | None) -> Client:
    """A client signed in as `user`, as after our login page: an operator (who always
    needs two-factor sign-in) or anyone with a device gave their second factor too."""
    client = Client()
    if user is not None:
        client.force_login(user)
        if user.is_superuser or has_device(user):
            give_second_factor(client, user)
    return client


def client_with_second_factor(user: User) -> Client:
    """A client signed in as `user` with their second factor given just now: what a
    sudo act (making an API token, turning the payment requirement off, changing
    SSO or two-factor settings) needs (identity.policy)."""
    client = client_for(user)
    give_second_factor(client, user)
    return client


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def give_second_factor(client: Client, user: User) -> None:
    """`user` has an authenticator app (one is set up if they have no device) and
    the client's session gave its code just now, as allauth records it."""
    from allauth.mfa.totp.internal.auth import TOTP

    if not has_device(user):
        TOTP.activate(user, TOTP_SECRET)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()


INVOICE_POST = {
    "method": "invoice",
    "company_name": "Acme Corp",
    "billing_contact": "Bob User",
    "billing_email": "ap@acme.example",
    "address": "1 Main Street",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
    "po_number": "",
    "tax_id": "",
}


def card_post(setup_intent: str, cardholder: str = "Bob User") -> dict:
    """What Payment Information posts for a card: the SetupIntent Stripe.js confirmed
    and the cardholder name; never the card."""
    return {"method": "credit_card", "cardholder_name": cardholder, "setup_intent": setup_intent}


# Every table a request of ours could write to (sessions and axes' log aside).
_TRACKED = (User, Tenant, Plan, PaymentProfile, StateLog, Message)


def db_snapshot() -> dict[str, list[dict]]:
    """Every row of those tables, to compare before and after a request that must
    change nothing (a refused one, a GET)."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in _TRACKED}


def changed_tables(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def bulk_users(tenant: Tenant, count: int, *, prefix: str = "many", plan=None) -> list[User]:
    """`count` users of `tenant` in two queries, each with their profile row (in state
    none, as the app makes it), named "<Prefix> 000" … and mailed <prefix>000@….
    For tests that need many rows; no passwords."""
    users = User.objects.bulk_create(
        User(
            email=f"{prefix}{i:04d}@{tenant.slug}.example",
            name=f"{prefix.title()} {i:04d}",
            tenant=tenant,
            plan=plan,
            plan_name=plan.name if plan else "",  # as save() would: bulk_create skips it
            terms_accepted_at=timezone.now(),
        )
        for i in range(count)
    )
    if not all(user.pk for user in users):  # a database that returns no ids on insert
        users = list(User.objects.filter(email__startswith=prefix, tenant=tenant))
    PaymentProfile.objects.bulk_create(PaymentProfile(user=user) for user in users)
    # bulk_create skips save(): the copies the Users page sorts and filters by.
    PaymentProfile.objects.filter(user__in=users).refresh_sort_keys()
    return users


def run_bulk(*, actor: User, act: str, user_ids, reason: str = ""):
    """Start a bulk act and run it here and now, as the Users page does with a small
    one; what came of it (billing.bulk.BulkResult, skipped users named)."""
    from billing.bulk import bulk_process, bulk_result, bulk_start

    worker = uuid.uuid4().hex
    bulk, _ = bulk_start(actor=actor, act=act, user_ids=user_ids, reason=reason, worker=worker)
    bulk_process(bulk, worker=worker)
    bulk.refresh_from_db()
    return bulk_result(bulk, listed=50)


_cards = iter(range(1, 10**6))


def stripe_card(
    brand: str = "Visa",
    last4: str = "4242",
    exp_month: int = 4,
    exp_year: int = 2039,
    cardholder: str = "Bob User",
):
    """A card as billing.processor.confirmed_card reads it back from Stripe, for tests
    of what the services do with one (each its own SetupIntent and PaymentMethod).
    The tests of the processor itself run against localstripe (test_processor.py)."""
    from billing.processor import ConfirmedCard

    n = next(_cards)
    return ConfirmedCard(
        setup_intent=f"seti_test{n:06d}",
        payment_method=f"pm_test{n:06d}",
        brand=brand,
        last4=last4,
        exp_month=exp_month,
        exp_year=exp_year,
        cardholder=cardholder,
        read_at=timezone.now(),
    )
