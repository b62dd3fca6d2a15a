"""Cross-cutting security checks: CSRF on every POST, login throttling, production
settings, security headers and the Content-Security-Policy the templates live under."""

from __future__ import annotations

import logging
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlencode

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.models import Session
from django.core.exceptions import BadRequest
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from accounts.tokens import api_token_create
from billing.bulk import bulk_start
from billing.models import PaymentProfile, State
from identity.models import SsoDomain
from tests.helpers import INVOICE_POST, PASSWORD, client_for, db_snapshot, operator_env

BASE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES = BASE_DIR / "templates"
LOGIN = reverse("accounts:login")


def app_url_patterns() -> list[tuple[str, str, URLPattern]]:
    """(namespaced name, route, pattern) of every URL of our own apps, straight from the
    resolver, so a URL added later is checked without anyone remembering to list it."""
    found = []

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                ns = entry.namespace or namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), ns)
            elif namespace == "api":
                # The API takes tokens, not sessions or forms: its own matrix (401, 403,
                # 404 in JSON, no CSRF surface) is tests/billing/test_api.py.
                continue
            elif namespace != "admin":  # Django's own admin site: see the URL matrix
                name = f"{namespace}:{entry.name}" if namespace else str(entry.name)
                found.append((name, prefix + str(entry.pattern), entry))

    walk(get_resolver().url_patterns, "", None)
    return found


# --- CSRF --------------------------------------------------------------------


def path_of(route: str, pattern: URLPattern, pk: int) -> str:
    """A concrete path for a route: integer parts get ``pk``, anything else "x"."""
    for key, converter in pattern.pattern.converters.items():
        value = pk if converter.regex == "[0-9]+" else "x"
        route = re.sub(rf"<(?:\w+:)?{key}>", str(value), route)
    return "/" + route


@pytest.fixture
def world(alice, bob, dora, charlie, make_profile):
    make_profile(bob, State.ACTIVE)  # so bob is not held at the gate
    return {"alice": alice, "bob": bob}


# The one view without a CSRF token: Stripe's webhook, which no browser posts to. It
# takes only events signed with the endpoint's secret (tests/billing/test_webhooks.py).
CSRF_EXEMPT = {"billing:stripe_webhook"}


@pytest.mark.parametrize("who", ["anonymous", "bob", "alice"])
def test_it_refuses_every_post_without_a_csrf_token(world, who):
    """No view of ours is CSRF-exempt but Stripe's webhook and SAML's bindings (below):
    a POST without the token is refused with the styled page and changes nothing,
    whoever sends it."""
    checked = 0
    for name, route, pattern in app_url_patterns():
        if name in CSRF_EXEMPT | SAML_BINDINGS:
            continue
        client = Client(enforce_csrf_checks=True)
        if who != "anonymous":
            client.force_login(world[who])
        path = path_of(route, pattern, world["bob"].pk)
        data = {
            **INVOICE_POST,
            "username": "alice@acme.example",
            "password": PASSWORD,
            "accept": "on",
            "email": "bob@acme.example",
            "reason": "x",
            "name": "Hacked",
        }
        before = db_snapshot()
        response = client.post(path, data)
        assert response.status_code == 403, f"{name} ({path}) as {who}"
        html = response.content.decode()
        assert "This form has expired" in html, name
        assert "Nothing was changed." in html
        assert db_snapshot() == before, f"{name} changed something without a CSRF token"
        checked += 1
    assert checked >= 10


def test_it_accepts_the_same_post_with_the_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["bob"])
    page = client.get(reverse("billing:profile_edit"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post(
        reverse("billing:profile_edit"), {**INVOICE_POST, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    # bob's profile is active: his new details wait beside it for approval.
    change = PaymentProfile.objects.get(user=world["bob"]).pending_change
    assert change is not None and change.company_name == INVOICE_POST["company_name"]


# The identity provider posts its SAML answer (ACS) and logout messages (SLS) from its
# own site: they cannot carry our CSRF token. They are signed by the IdP instead
# (python3-saml checks), and the ACS only keeps the answer for the next, same-site
# step; tests/identity/test_hostile.py forges such posts.
SAML_BINDINGS = {"saml_acs", "saml_sls"}


def test_the_webhook_and_saml_bindings_are_the_only_csrf_exempt_views():
    exempt = {
        name
        for name, _route, pattern in app_url_patterns()
        if getattr(pattern.callback, "csrf_exempt", False)
    }
    assert exempt == CSRF_EXEMPT | SAML_BINDINGS


# --- Request bodies in charsets Django cannot read ---------------------------------

UNREADABLE_CHARSETS = ("rot13", "hex", "utf-16", "utf-32", "base64", "nope", "latin-1", "utf8")


def every_post_path(pk: int) -> list[str]:
    """Every URL of ours, and those of Django's admin site a POST may reach."""
    ours = [path_of(route, pattern, pk) for _, route, pattern in app_url_patterns()]
    return [*ours, *admin_site_urls(), ADMIN_LOGIN, "/django-admin/logout/"]


def _log_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("django")]


@pytest.mark.parametrize("charset", UNREADABLE_CHARSETS)
@pytest.mark.parametrize("who", ["anonymous", "alice", "root"])
def test_a_body_in_an_unreadable_charset_gets_a_400_and_one_log_line(cast, who, charset, caplog):
    """Django would fail parsing such a form (or its own error page would, reading the
    form again): a 500 and a traceback, or a login that half happens."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32  # as after any page: CSRF then reads the form
    if cast[who] is not None:
        client.force_login(cast[who])
    paths = every_post_path(cast["bob"].pk)
    assert len(paths) > 30
    before = db_snapshot()
    for path in paths:
        caplog.clear()
        response = client.generic(
            "POST",
            path,
            b"username=alice%40acme.example&password=x&csrfmiddlewaretoken=x",
            content_type=f"application/x-www-form-urlencoded; charset={charset}",
        )
        assert response.status_code == 400, path
        assert "could not read" in response.content.decode(), path
        (line,) = _log_lines(caplog)
        assert line.levelname == "WARNING" and line.exc_info is None, path
        assert line.getMessage() == f"Bad Request (unreadable charset {charset}): {path}"
    assert db_snapshot() == before
    assert not Session.objects.exclude(session_key=client.session.session_key).exists()


@pytest.mark.parametrize("charset", ["utf-16", "nope"])
def test_a_query_string_in_an_unreadable_charset_gets_a_400(cast, charset, caplog):
    """(For "rot13" or "hex" Django fails while building the request, which the test
    client does itself: see tests/test_serving.py for those, through the WSGI app.)"""
    client = client_for(cast["alice"])
    response = client.get(
        "/admin/users/?q=b%C3%B6b", headers={"Content-Type": f"text/plain; charset={charset}"}
    )
    assert response.status_code == 400
    assert len(_log_lines(caplog)) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_the_error_pages_never_read_the_request_body(db, status):
    """Django's own error views check the CSRF token of a POST again, reading the
    form again: for a form that failed to parse, the error page fails too (a 500)."""
    request = RequestFactory().post(
        "/login/", b"a=b", content_type="application/x-www-form-urlencoded; charset=latin-1"
    )
    request.user = AnonymousUser()
    request.COOKIES["csrftoken"] = "x" * 32  # so a CSRF check goes on to read the form
    with pytest.raises(BadRequest):
        request.POST  # noqa: B018  (what any reading of the form does)
    handler = get_resolver().resolve_error_handler(status)
    response = handler(request) if status == 500 else handler(request, None)
    assert response.status_code == status


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8"])
def test_a_form_in_utf_8_said_aloud_still_logs_in(alice, charset):
    client = Client()
    response = client.generic(
        "POST",
        LOGIN,
        f"username={alice.email}&password={PASSWORD}".encode(),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 302


def test_a_multipart_form_may_declare_an_ascii_compatible_charset(alice):
    client = Client()
    body = encode_multipart(BOUNDARY, {"username": alice.email, "password": PASSWORD})
    response = client.generic(
        "POST", LOGIN, body, content_type=f"{MULTIPART_CONTENT}; charset=latin-1"
    )
    assert response.status_code == 302


# --- Logging of refused requests -------------------------------------------------


@pytest.mark.parametrize(
    ("who", "path", "status", "message"),
    [
        ("bob", "/admin/users/", 403, "Forbidden (Permission denied): /admin/users/"),
        ("charlie", "BOBS_PLAN", 404, "Not Found: BOBS_PLAN"),
        ("alice", "/no-such-page/", 404, "Not Found: /no-such-page/"),
    ],
)
def test_a_refused_request_is_one_info_line_without_a_traceback(
    cast, make_profile, caplog, who, path, status, message
):
    make_profile(cast["bob"], State.ACTIVE)
    path = path.replace("BOBS_PLAN", reverse("accounts:user_plan", args=[cast["bob"].pk]))
    client = client_for(cast[who])
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    assert client.get(path).status_code == status
    (line,) = [r for r in caplog.records if r.name == "django.request"]
    assert line.getMessage() == message.replace("BOBS_PLAN", path)
    assert line.levelname == "INFO"
    assert line.exc_info is None and line.exc_text is None
    assert "Traceback" not in caplog.text


def test_a_failure_of_ours_is_still_an_error_with_its_traceback(alice, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("billing.views.user_list_page", broken)
    client = client_for(alice)
    client.raise_request_exception = False
    assert client.get(reverse("billing:user_list")).status_code == 500
    (line,) = [r for r in caplog.records if r.name == "django.request"]
    assert line.levelname == "ERROR" and line.exc_info


# --- Login throttling (django-axes) --------------------------------------------


def _log_in(client: Client, email: str, password: str):
    return client.post(LOGIN, {"username": email, "password": password})


def test_it_locks_out_after_repeated_failures_with_a_clear_message(alice, bob, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _log_in(client, alice.email, "wrong password")
        assert response.status_code == 200
        assert "do not match" in response.content.decode()

    response = _log_in(client, alice.email, "wrong password")
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed log-ins" in html
    assert "blocked for a while" in html
    assert reverse("accounts:password_reset") in html

    # Even the right password is refused now, and no session is made.
    response = _log_in(client, alice.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert client.get(reverse("accounts:home")).status_code == 302
    assert not Session.objects.exists()

    # Another e-mail address from the same place is not locked out with her.
    other = Client()
    assert _log_in(other, bob.email, PASSWORD).status_code == 302


def test_it_counts_failures_whatever_the_case_of_the_email(alice, settings):
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        email = alice.email.upper() if i % 2 else alice.email
        _log_in(client, email, "wrong password")
    assert _log_in(client, alice.email, PASSWORD).status_code == 429


def test_it_lets_the_user_in_again_after_the_cool_off(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, alice.email, "wrong password")
    assert _log_in(client, alice.email, PASSWORD).status_code == 429

    cool_off = timedelta(hours=settings.AXES_COOLOFF_TIME)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - cool_off - timedelta(minutes=1)
        )
    response = _log_in(client, alice.email, PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("accounts:home")).status_code == 200


ADMIN_LOGIN = "/django-admin/login/"
PASSWORD_CHANGE = reverse("accounts:password_change")
# One person, spelled five ways: every one of them is the same lockout key.
SPELLINGS = (
    "alice@acme.example",
    "ALICE@ACME.EXAMPLE",
    "Alice@Acme.Example",
    " aLiCe@acme.example ",
    "alice@ACME.example",
)


def _admin_log_in(client: Client, email: str, password: str):
    return client.post(
        ADMIN_LOGIN, {"username": email, "password": password, "next": "/django-admin/"}
    )


def _without_tokens(response) -> str:
    """The page as a visitor compares it: the per-request CSRF token aside."""
    return re.sub(r'value="[^"]{32,}"', 'value=""', response.content.decode())


@pytest.mark.parametrize("log_in", [_log_in, _admin_log_in], ids=["login", "django-admin"])
def test_both_login_pages_share_one_counter_whatever_the_case(alice, settings, log_in):
    """Failures on /login/ and /django-admin/login/, in any spelling of the address,
    add up to one lockout; then neither page lets the right password through."""
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        attempt = _log_in if i % 2 else _admin_log_in
        response = attempt(client, SPELLINGS[i % len(SPELLINGS)], "wrong password")
    assert response.status_code == 429
    assert AccessAttempt.objects.count() == 1  # one key: alice@acme.example from here
    assert AccessAttempt.objects.get().username == "alice@acme.example"
    for spelling in SPELLINGS:
        assert log_in(client, spelling, PASSWORD).status_code == 429, spelling


@pytest.mark.parametrize("log_in", [_log_in, _admin_log_in], ids=["login", "django-admin"])
def test_while_locked_a_right_and_a_wrong_password_get_the_same_answer(alice, settings, log_in):
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _admin_log_in(client, SPELLINGS[i % len(SPELLINGS)], "wrong password")
    for spelling in SPELLINGS:
        right = log_in(client, spelling, PASSWORD)
        wrong = log_in(client, spelling, "wrong password")
        assert (right.status_code, _without_tokens(right)) == (
            wrong.status_code,
            _without_tokens(wrong),
        ), spelling
        assert right.status_code == 429
    assert not Session.objects.exists()


def test_the_django_admin_answers_a_users_right_password_as_a_wrong_one(alice, settings):
    """Only superusers may use the admin site: anyone else's right password is
    refused as a wrong one, and counted, so the answer tells nothing at any try."""
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        right = _admin_log_in(client, SPELLINGS[i], PASSWORD)
        assert right.status_code == 200
        assert "Please enter the correct" in right.content.decode()
    # The try that reaches the limit: the right password is answered as a wrong one.
    assert _admin_log_in(client, alice.email, PASSWORD).status_code == 429


def test_a_superuser_still_logs_in_to_the_django_admin(db):
    User.objects.create_superuser(email="root@ops.example", password=PASSWORD, name="Root")
    client = Client()
    response = _admin_log_in(client, "Root@OPS.example", PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/django-admin/")
    # Then his second factor (tests/identity/test_two_factor.py): set it up first.
    assert client.get("/django-admin/")["Location"].startswith(reverse("mfa_index"))


def _change_password(client: Client, old: str, path: str = PASSWORD_CHANGE):
    return client.post(
        path, {"old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )


def test_wrong_current_passwords_count_towards_the_same_lockout(alice, settings):
    """Changing the password takes the current one: guesses there are log-in failures
    of the same key, and a locked-out account cannot change its password either."""
    client = client_for(alice)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _change_password(client, "wrong password")
        assert response.status_code == 200
        assert "Your old password was entered incorrectly" in response.content.decode()
    assert _log_in(Client(), "ALICE@acme.example", "wrong password").status_code == 429
    right = _change_password(client, PASSWORD)
    wrong = _change_password(client, "wrong password")
    assert right.status_code == wrong.status_code == 429
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_the_django_admin_password_change_counts_too(settings, db):
    root = User.objects.create_superuser(email="root@ops.example", password=PASSWORD, name="Root")
    client = client_for(root)
    path = reverse("admin:password_change")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _change_password(client, "wrong password", path).status_code == 200
    done = _change_password(client, PASSWORD, path)  # not locked yet: it works
    assert (done.status_code, done["Location"]) == (302, reverse("admin:password_change_done"))
    assert User.objects.get(pk=root.pk).check_password(NEW_PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _change_password(client, "wrong password", path)
    assert _change_password(client, NEW_PASSWORD, path).status_code == 429


def test_the_lockout_page_says_how_long_in_words(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _log_in(client, alice.email, "wrong password")
    html = response.content.decode()
    assert "Wait 15 minutes and try again" in html
    assert "PT15M" not in html


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=30), "1 minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=1, minutes=30), "1 hour 30 minutes"),
        (timedelta(hours=2, minutes=1), "2 hours 1 minute"),
        (timedelta(days=1), "24 hours"),
    ],
)
def test_cool_off_times_read_as_words(delta, words):
    from accounts.security import cool_off_in_words

    assert cool_off_in_words(delta) == words


# --- Production settings -------------------------------------------------------


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=operator_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deployment_checklist_with_debug_off():
    done = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="ccm.example.com",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "ccm.example.com"}, "Set SECRET_KEY"),
        ({"SECRET_KEY": "k" * 60}, "Set ALLOWED_HOSTS"),
    ],
)
def test_it_refuses_to_start_in_production_without_a_secret_key_or_hosts(env, message):
    done = _manage("check", DEBUG="false", **env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert message in done.stderr


def test_it_turns_on_secure_cookies_hsts_and_the_redirect_with_debug_off():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS >= 31536000, getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    )
    base = {"DEBUG": "false", "SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "ccm.example.com"}
    done = _manage("shell", "-v", "0", "-c", code, **base)
    assert done.stdout.split() == ["True", "True", "True", "True", "None"], done.stderr
    # Behind a TLS-terminating proxy the operator says so; it is never assumed.
    done = _manage("shell", "-v", "0", "-c", code, **base, BEHIND_TLS_PROXY="true")
    assert "('HTTP_X_FORWARDED_PROTO', 'https')" in done.stdout, done.stderr


# --- Headers and the Content-Security-Policy -----------------------------------


def _csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_it_sends_the_security_headers(world, who, client):
    if who != "anonymous":
        client.force_login(world[who])
    response = client.get(reverse("accounts:home") if who != "anonymous" else LOGIN)
    assert response.status_code == 200
    policy = _csp(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_every_page_of_a_logged_in_user_is_kept_out_of_caches(cast, make_profile):
    """Account, billing and every admin page: nothing stays in a shared browser's cache
    after logging out. (Pages that set Cache-Control themselves keep theirs.)"""
    make_profile(cast["bob"], State.ACTIVE)
    pages = {
        "bob": [reverse("accounts:account"), reverse("billing:profile_edit"), "/"],
        "alice": [
            reverse("billing:user_list"),
            reverse("accounts:user_plan", args=[cast["bob"].pk]),
            reverse("billing:profile_detail", args=[cast["bob"].pk]),
            reverse("billing:profile_history", args=[cast["bob"].pk]),
            reverse("billing:activity"),
            reverse("billing:activity_export"),
            reverse("accounts:tenant_settings"),
            "/no-such-page/",
        ],
        "root": admin_site_urls(),
    }
    for who, paths in pages.items():
        client = client_for(cast[who])
        for path in paths:
            response = client.get(path)
            assert "no-store" in response.get("Cache-Control", ""), (who, path)


def test_static_files_and_anonymous_pages_keep_their_caching(cast):
    client = client_for(cast["alice"])
    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.get("Cache-Control", "")
    assert "Cache-Control" not in Client().get(reverse("accounts:password_reset"))


@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_every_response_refuses_the_browser_features_we_do_not_use(cast, who):
    client = client_for(cast[who])
    responses = [
        client.get(LOGIN),
        client.get(reverse("billing:user_list")),
        client.get("/no-such-page/"),
        client.get("/static/css/app.css"),
        client.generic("POST", LOGIN, b"a=b", content_type="text/plain; charset=hex"),
    ]
    for response in responses:
        policy = dict(
            item.strip().split("=", 1) for item in response["Permissions-Policy"].split(",")
        )
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert policy[feature] == "()", (response.status_code, feature)


INLINE = [
    (re.compile(r"<script\b[^>]*>\s*(?!</script>)\S", re.I), "an inline <script> body"),
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "a <script> without src"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler (on...=)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"//(?:cdn|[\w.-]*cloudflare|[\w.-]*jsdelivr|unpkg)", re.I), "a CDN link"),
]


def find_inline_code(html: str) -> list[str]:
    return [what for pattern, what in INLINE if pattern.search(html)]


def test_no_template_has_inline_scripts_or_styles():
    # E-mail bodies (templates/emails/) are no pages: no CSP applies to them, and mail
    # clients need their styles inline.
    templates = sorted(p for p in TEMPLATES.rglob("*.html") if p.parent.name != "emails")
    assert len(templates) > 10
    offenders = {
        str(path.relative_to(BASE_DIR)): found
        for path in templates
        if (found := find_inline_code(path.read_text()))
    }
    assert offenders == {}


def test_the_scan_would_catch_what_the_policy_blocks():
    assert find_inline_code("<script>alert(1)</script>")
    assert find_inline_code('<div style="color:red">')
    assert find_inline_code('<a onclick="x()">')
    assert not find_inline_code('<script src="/static/js/app.js" defer></script>')


# --- Every URL x every role ------------------------------------------------------
#
# The one permission matrix: every URL the resolver knows, for every role, by GET and
# by POST (with a valid form, so that where the POST is allowed it acts), with the
# exact status or redirect and nothing changed where it did not act. A URL added
# later without an entry here fails `test_every_url_has_an_expected_status`. What
# the pages show is each view's own test file's.

ROLES = ("anonymous", "bob", "alice", "charlie", "root")
L = "→ login"  # 302 to the login page, coming back here afterwards
G = "→ gate"  # 302 to the payment-profile gate (bob's profile is pending)
H = "→ home"  # 302 to the dashboard
B = "→ bulk"  # 302 to a bulk action's page
USERS = "/admin/users/"
T = "/admin/api-tokens/"
SU = "→ set up two-factor"  # 302 to Account > Two-factor sign-in, coming back here
SAML_FINISH = "/sso/saml/x/acs/finish/"

# name: {method: (anonymous, bob, alice, charlie, root)}. bob's profile is pending, so
# bob is held at the gate; root is a superuser with no tenant (he runs the
# installation through /django-admin/, not a tenant's admin area).
EXPECTED: dict[str, dict[str, tuple]] = {
    "accounts:home": {"GET": (L, G, 200, 200, 200), "POST": (L, G, 405, 405, 405)},
    "accounts:login": {"GET": (200, H, H, H, H), "POST": (H, H, H, H, H)},
    "accounts:logout": {"GET": (405,) * 5, "POST": (LOGIN,) * 5},
    "accounts:terms": {"GET": (L, H, H, H, H), "POST": (L, H, H, H, H)},
    "accounts:account": {"GET": (L, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405)},
    "billing:user_list": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, 405, 405, 403)},
    # The CSV of the Users page's list: the same people, GET only.
    "billing:user_export": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, 405, 405, 403)},
    "accounts:user_create": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, USERS, USERS, 403)},
    "accounts:user_plan": {"GET": (L, 403, 200, 404, 403), "POST": (L, 403, USERS, 404, 403)},
    "accounts:plan_list": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, 405, 405, 403)},
    "accounts:plan_create": {
        "GET": (L, 403, 200, 200, 403),
        "POST": (L, 403, "/admin/plans/", "/admin/plans/", 403),
    },
    "accounts:tenant_settings": {
        "GET": (L, 403, 200, 200, 403),
        "POST": (L, 403, "/admin/settings/", "/admin/settings/", 403),
    },
    "accounts:password_change": {
        "GET": (L, 200, 200, 200, 200),
        "POST": (L, *(["/account/password/done/"] * 4)),
    },
    "accounts:password_change_done": {
        "GET": (L, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405),
    },
    "accounts:password_reset": {"GET": (200,) * 5, "POST": ("/password-reset/sent/",) * 5},
    "accounts:password_reset_done": {"GET": (200,) * 5, "POST": (405,) * 5},
    # A made-up link: the page says it is invalid, for anyone, by either method.
    "accounts:password_reset_confirm": {"GET": (200,) * 5, "POST": (200,) * 5},
    "accounts:password_reset_complete": {"GET": (200,) * 5, "POST": (405,) * 5},
    "accounts:api_token_list": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, 405, 405, 403)},
    # The POST makes the token and shows it once, on the page it answers with.
    # A sudo act: alice and charlie set up a second factor first.
    "accounts:api_token_create": {"GET": (L, 403, SU, SU, 403), "POST": (L, 403, SU, SU, 403)},
    "accounts:api_token_revoke": {"GET": (L, 403, 200, 404, 403), "POST": (L, 403, T, 404, 403)},
    "billing:profile_edit": {
        "GET": (L, 200, 200, 200, 200),
        "POST": (L, *(["/account/billing/"] * 4)),
    },
    "billing:gate": {"GET": (L, 200, H, H, H), "POST": (L, 405, 405, 405, 405)},
    # The page's request for a SetupIntent: the processor does not answer in this
    # test (stripe_test_keys), which the JSON says with 503.
    "billing:profile_card_setup": {
        "GET": (L, 405, 405, 405, 405),
        "POST": (L, 503, 503, 503, 503),
    },
    # Stripe's events: no signature, 400, whoever sends it.
    "billing:stripe_webhook": {"GET": (405,) * 5, "POST": (400,) * 5},
    "billing:profile_activate": {
        "GET": (L, 403, 200, 404, 403),
        "POST": (L, 403, USERS, 404, 403),
    },
    "billing:profile_deactivate": {
        "GET": (L, 403, 200, 404, 403),
        "POST": (L, 403, USERS, 404, 403),
    },
    "billing:profile_decline": {
        "GET": (L, 403, 200, 404, 403),
        "POST": (L, 403, USERS, 404, 403),
    },
    # bob's profile has no pending change: alice is shown why there is nothing to
    # review, and her POST comes back with that message.
    "billing:profile_change_review": {
        "GET": (L, 403, 200, 404, 403),
        "POST": (L, 403, USERS, 404, 403),
    },
    "billing:profile_change_withdraw": {
        "GET": (L, 405, 405, 405, 405),
        "POST": (L, *(["/account/billing/"] * 4)),
    },
    "billing:profile_remind": {
        "GET": (L, 405, 405, 405, 405),
        "POST": (L, *(["/account/billing/"] * 4)),
    },
    "billing:profile_detail": {"GET": (L, 403, 200, 404, 403), "POST": (L, 403, 405, 404, 403)},
    "billing:profile_history": {
        "GET": (L, 403, 200, 404, 403),
        "POST": (L, 403, 405, 404, 403),
    },
    # No selection on GET: the page says what to select (400). alice's POST sends the
    # form of the bulk action she already started (cast["bulk"]): its page, nothing
    # run twice; charlie's selects nobody of his tenant: back to the Users page.
    "billing:bulk_confirm": {"GET": (L, 403, 400, 400, 403), "POST": (L, 403, B, USERS, 403)},
    "billing:bulk_detail": {"GET": (L, 403, 200, 404, 403), "POST": (L, 403, 405, 404, 403)},
    "billing:bulk_progress": {"GET": (L, 403, 200, 404, 403), "POST": (L, 403, 405, 404, 403)},
    # identity/: Admin > Sign-in. Every change there is a sudo act: alice and charlie
    # have no second factor yet, so they are sent to set one up (SU) first.
    "identity:sso_settings": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, 405, 405, 403)},
    **{
        f"identity:{name}": {"GET": (L, 403, SU, SU, 403), "POST": (L, 403, SU, SU, 403)}
        for name in ("sso_oidc", "sso_saml", "sso_options", "sso_remove", "domain_add")
    },
    # acme's claim: a stranger's is a 404 before any second factor is asked for.
    "identity:domain_remove": {"GET": (L, 403, SU, 404, 403), "POST": (L, 403, SU, 404, 403)},
    # allauth's names for our own login and logout (the same views).
    "account_login": {"GET": (200, H, H, H, H), "POST": (H, H, H, H, H)},
    "account_logout": {"GET": (405,) * 5, "POST": (LOGIN,) * 5},
    # Two-factor sign-in, open at the gate too. root has an authenticator app.
    "mfa_index": {"GET": (L, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405)},
    # Only in the middle of a sign-in: otherwise back to the login page (→ home).
    "mfa_authenticate": {"GET": (LOGIN, H, H, H, H), "POST": (LOGIN, H, H, H, H)},
    # Asking for the second factor again: only who has one.
    "mfa_reauthenticate": {"GET": (L, 403, 403, 403, 200), "POST": (L, 403, 403, 403, 200)},
    "mfa_reauthenticate_webauthn": {
        "GET": (L, 403, 403, 403, "/account/two-factor/reauthenticate/"),
        "POST": (L, 403, 403, 403, "/account/two-factor/reauthenticate/"),
    },
    "mfa_activate_totp": {
        "GET": (L, 200, 200, 200, "/account/two-factor/app/deactivate/"),
        "POST": (L, 200, 200, 200, "/account/two-factor/app/deactivate/"),
    },
    "mfa_deactivate_totp": {
        "GET": (L, 404, 404, 404, 200),
        "POST": (L, 404, 404, 404, "/account/two-factor/"),
    },
    # Nobody here has recovery codes (root's app was set up without them).
    "mfa_view_recovery_codes": {"GET": (L, 404, 404, 404, 404), "POST": (L, 405, 405, 405, 405)},
    "mfa_generate_recovery_codes": {
        "GET": (L, 200, 200, 200, 200),
        "POST": (L, 200, 200, 200, "/account/two-factor/recovery-codes/"),
    },
    "mfa_download_recovery_codes": {
        "GET": (L, 404, 404, 404, 404),
        "POST": (L, 404, 404, 404, 404),
    },
    "mfa_list_webauthn": {"GET": (L, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405)},
    # No security key yet: the form, sent back without a key's answer.
    "mfa_add_webauthn": {"GET": (L, 200, 200, 200, 200), "POST": (L, 200, 200, 200, 200)},
    # bob's id is nobody's key.
    "mfa_edit_webauthn": {"GET": (L, 404, 404, 404, 404), "POST": (L, 404, 404, 404, 404)},
    "mfa_remove_webauthn": {"GET": (L, 404, 404, 404, 404), "POST": (L, 404, 404, 404, 404)},
    # The identity providers' answers, for a tenant slug nobody has ("x"). The ACS only
    # keeps what was posted and sends the browser on (SAML's POST binding comes from
    # the IdP's site: see test_saml_bindings_are_the_only_csrf_exempt_views).
    "openid_connect_login": {"GET": (404,) * 5, "POST": (404,) * 5},
    "openid_connect_callback": {"GET": (404,) * 5, "POST": (404,) * 5},
    "saml_acs": {"GET": (SAML_FINISH,) * 5, "POST": (SAML_FINISH,) * 5},
    "saml_finish_acs": {"GET": (404,) * 5, "POST": (404,) * 5},
    "saml_login": {"GET": (404,) * 5, "POST": (404,) * 5},
    "saml_metadata": {"GET": (404,) * 5, "POST": (404,) * 5},
    "saml_sls": {"GET": (404,) * 5, "POST": (404,) * 5},
    "socialaccount_login_cancelled": {"GET": (200,) * 5, "POST": (405,) * 5},
    "socialaccount_login_error": {"GET": (401,) * 5, "POST": (405,) * 5},
    "billing:activity": {"GET": (L, 403, 200, 200, 403), "POST": (L, 403, 405, 405, 403)},
    "billing:activity_export": {
        "GET": (L, 403, 200, 200, 403),
        "POST": (L, 403, 405, 405, 403),
    },
}

NEW_PASSWORD = "a much longer pass phrase 42"
BULK_TOKEN = "0123456789abcdef0123456789abcdef"


def post_data(name: str, cast: dict) -> dict:
    """A valid form for each URL, so that where the POST is allowed it really acts."""
    data = {
        "accounts:login": {"username": "alice@acme.example", "password": PASSWORD},
        "account_login": {"username": "alice@acme.example", "password": PASSWORD},
        "accounts:terms": {"accept": "on"},
        "accounts:user_create": {"name": "New Person", "email": "new@new.example", "plan": ""},
        "accounts:user_plan": {"plan": cast["bundle"].pk},
        "accounts:plan_create": {"name": "Enterprise", "kind": "subscription"},
        "accounts:tenant_settings": {"require_payment_profile": "on"},
        "accounts:password_change": {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        "accounts:password_reset": {"email": "bob@acme.example"},
        "accounts:password_reset_confirm": {
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        "accounts:api_token_create": {"name": "ERP"},
        "billing:profile_edit": INVOICE_POST,
        "billing:profile_deactivate": {"reason": "Checking"},
        "billing:profile_decline": {"reason": "Wrong company name"},
        "billing:profile_change_review": {"decision": "approve"},
        "billing:bulk_confirm": {"act": "activate", "ids": cast["bob"].pk, "token": BULK_TOKEN},
    }
    return data.get(name, {})


@pytest.fixture
def cast(alice, bob, dora, charlie, bundle, make_profile):
    make_profile(bob, State.PENDING)
    root = User.objects.create_superuser(email="root@ops.example", password=PASSWORD, name="Root")
    return {
        "anonymous": None,
        "bob": bob,
        "alice": alice,
        "charlie": charlie,
        "root": root,
        "bundle": bundle,
        "token": api_token_create(admin=alice, name="ERP", expires_at=None).token,
        "bulk": bulk_start(actor=alice, act="activate", user_ids=[bob.pk], token=BULK_TOKEN)[0],
        "claim": SsoDomain.objects.create(tenant=alice.tenant, domain="acme.example"),
    }


APP_URLS = {name: (route, pattern) for name, route, pattern in app_url_patterns()}
# The URLs that name a user (or a token) by id.
PK_URLS = sorted(
    name
    for name, (_route, pattern) in APP_URLS.items()
    if any(c.regex == "[0-9]+" for c in pattern.pattern.converters.values())
)


def test_every_url_has_an_expected_status():
    assert sorted(set(APP_URLS) - set(EXPECTED)) == [], "add the new URLs to EXPECTED"
    assert sorted(set(EXPECTED) - set(APP_URLS)) == [], "drop the URLs that are gone"
    assert len(PK_URLS) >= 5, "the unknown-user walk lost the URLs that name a user"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("name", sorted(APP_URLS))
def test_every_url_answers_every_role_as_expected(cast, name, who, method):
    if name not in EXPECTED:
        pytest.fail(f"unknown URL name {name!r}: add its expected statuses to EXPECTED")
    route, pattern = APP_URLS[name]
    # The URLs with an id name bob, except the token one (alice's token) and a bulk
    # action's (alice's).
    pk = {
        "accounts:api_token_revoke": cast["token"].pk,
        "billing:bulk_detail": cast["bulk"].pk,
        "billing:bulk_progress": cast["bulk"].pk,
        "identity:domain_remove": cast["claim"].pk,
    }.get(name, cast["bob"].pk)
    path = path_of(route, pattern, pk)
    expected = EXPECTED[name][method][ROLES.index(who)]
    client = client_for(cast[who])  # root: with his second factor, as operators sign in

    before = db_snapshot()
    response = client.get(path) if method == "GET" else client.post(path, post_data(name, cast))

    location = response.get("Location", "")
    if expected == L:  # (allauth's views quote the path: the same URL)
        assert (response.status_code, unquote(location)) == (302, f"{LOGIN}?next={path}")
    elif expected == G:
        assert (response.status_code, location) == (302, reverse("billing:gate"))
    elif expected == H:
        assert (response.status_code, location) == (302, reverse("accounts:home"))
    elif expected == SU:
        assert (response.status_code, location) == (
            302,
            f"{reverse('mfa_index')}?{urlencode({'next': path})}",
        )
    elif expected == B:
        assert (response.status_code, location) == (
            302,
            reverse("billing:bulk_detail", args=[cast["bulk"].pk]),
        )
    elif isinstance(expected, str):
        assert (response.status_code, location) == (302, expected)
    else:
        assert response.status_code == expected, location

    acted = method == "POST" and isinstance(expected, str) and expected.startswith("/")
    # A successful log-in stamps last_login: that is the POST doing its job.
    acted = acted or (
        method == "POST" and name in ("accounts:login", "account_login") and who == "anonymous"
    )
    acted = acted or (name == "accounts:api_token_create" and response.status_code == 200)
    if not acted:
        # Refused, redirected away or only shown: nothing may have changed.
        assert db_snapshot() == before
    if response.status_code == 200 and "html" in response.get("Content-Type", ""):
        assert find_inline_code(response.content.decode()) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("name", PK_URLS)
def test_it_answers_404_for_a_user_that_does_not_exist(cast, name, method):
    route, pattern = APP_URLS[name]
    path = path_of(route, pattern, 987654)
    client = Client()
    client.force_login(cast["alice"])
    before = db_snapshot()
    response = client.get(path) if method == "GET" else client.post(path, post_data(name, cast))
    assert response.status_code == 404
    assert db_snapshot() == before


def test_a_superuser_runs_the_installation_from_the_django_admin(cast, make_profile):
    client = client_for(cast["root"])
    profile = PaymentProfile.objects.get(user=cast["bob"])
    for path in (
        "/django-admin/",
        f"/django-admin/accounts/user/{cast['bob'].pk}/change/",
        f"/django-admin/billing/paymentprofile/{profile.pk}/change/",
    ):
        assert client.get(path).status_code == 200, path


# logout/login need no login; autocomplete answers only with its query parameters.
SKIPPED_ADMIN_URLS = {None, "logout", "login", "app_list", "autocomplete"}


def refused_add_pages() -> set[str]:
    """The "add" pages of models whose admin allows no adding (profiles are made by the
    services, axes' logs are written by axes): 403 even for a superuser."""
    request = RequestFactory().get("/django-admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    return {
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        for model, model_admin in admin.site._registry.items()
        if not model_admin.has_add_permission(request)
    }


def admin_site_urls() -> list[str]:
    """Every URL of Django's admin site that needs no object id."""
    paths = []

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif (
                namespace == "admin"
                and not entry.pattern.converters
                and entry.name not in SKIPPED_ADMIN_URLS
            ):
                paths.append("/" + prefix + str(entry.pattern))

    walk(get_resolver().url_patterns, "", None)
    return paths


@pytest.mark.parametrize("who", ROLES)
def test_only_a_superuser_gets_into_the_django_admin(cast, who):
    paths = admin_site_urls()
    assert len(paths) > 10
    refused = refused_add_pages()
    assert reverse("admin:billing_paymentprofile_add") in refused
    client = client_for(cast[who])
    for path in paths:
        response = client.get(path)
        if who == "root":
            assert response.status_code == (403 if path in refused else 200), path
        else:
            assert response.status_code == 302, path
            assert response["Location"].startswith("/django-admin/login/"), path
