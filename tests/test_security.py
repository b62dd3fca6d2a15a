"""Cross-cutting security checks: CSRF on every POST, login throttling, production
settings, security headers and the Content-Security-Policy the templates live under."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import Plan, Tenant, User
from billing.models import PaymentProfile, State
from tests.helpers import INVOICE_POST, PASSWORD

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
            elif namespace != "admin":  # Django's own admin site: see the URL matrix
                name = f"{namespace}:{entry.name}" if namespace else str(entry.name)
                found.append((name, prefix + str(entry.pattern), entry))

    walk(get_resolver().url_patterns, "", None)
    return found


def snapshot() -> tuple:
    """Everything an accepted POST could change."""
    return (
        list(User.objects.order_by("pk").values_list()),
        list(Tenant.objects.order_by("pk").values_list()),
        list(Plan.objects.order_by("pk").values_list()),
        list(PaymentProfile.objects.order_by("pk").values_list()),
        StateLog.objects.count(),
        Message.objects.count(),
    )


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


@pytest.mark.parametrize("who", ["anonymous", "bob", "alice"])
def test_it_refuses_every_post_without_a_csrf_token(world, who):
    """No view of ours is CSRF-exempt: a POST without the token is refused with the
    styled page and changes nothing, whoever sends it."""
    checked = 0
    for name, route, pattern in app_url_patterns():
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
        before = snapshot()
        response = client.post(path, data)
        assert response.status_code == 403, f"{name} ({path}) as {who}"
        html = response.content.decode()
        assert "This form has expired" in html, name
        assert "Nothing was changed." in html
        assert snapshot() == before, f"{name} changed something without a CSRF token"
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
    assert PaymentProfile.objects.get(user=world["bob"]).state == State.PENDING


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


# --- Production settings -------------------------------------------------------


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # What an operator starts with: none of this process's test-time switches (the
    # browser tests set DJANGO_ALLOW_ASYNC_UNSAFE, for one).
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in unset and not k.startswith(("SECURE_", "BEHIND_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
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
    templates = sorted(TEMPLATES.rglob("*.html"))
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
