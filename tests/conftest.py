"""The fixed cast every test shares.

Tenant Acme requires payment profiles and has a paid plan and a bundle:
- ``alice``: Acme admin (on the bundle, so she needs no profile herself);
- ``bob``: Acme user on the paid plan (needs a profile);
- ``dora``: second Acme admin;
- ``betty``: Acme user on the bundle only;
- ``charlie``: admin of tenant Globex.
All have accepted the terms, except where a test says otherwise.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Plan, Tenant, User
from billing.models import Method, PaymentProfile, State
from tests import processor
from tests.helpers import make_user


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """A slow hash per user costs seconds per test file; tests don't need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def mail_goes_through_the_queue(settings):
    """As in production: mail becomes django-mailer queue rows (pytest-django would
    otherwise swap in the locmem backend). The worker delivers to locmem in tests,
    so `mailoutbox` shows what `manage.py mail_worker --once` sent."""
    settings.EMAIL_BACKEND = "accounts.mail.QueueBackend"
    settings.MAILER_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def stripe_test_keys(settings):
    """Card payments configured as in production, with test keys, so every page shows
    its card box; the processor is an address where nothing answers (a test that
    talks to Stripe uses ``card_payments``, which points at a real localstripe)."""
    settings.STRIPE_SECRET_KEY = processor.SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = processor.PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = processor.WEBHOOK_SECRET
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard: connections refused
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT = 5


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory) -> processor.Localstripe:
    """One localstripe process for this test run (each xdist worker its own), on a
    free port of 127.0.0.1, its store in memory; stopped by its pid at the end."""
    server = processor.start_localstripe(tmp_path_factory.mktemp("localstripe") / "log.txt")
    yield server
    server.stop()


@pytest.fixture
def card_payments(settings, localstripe) -> processor.Browser:
    """The app and its page pointed at the real localstripe; returns what plays the
    browser's Stripe.js for tests without one (``tests.processor.Browser``)."""
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = localstripe.js_url
    settings.STRIPE_CSP = {
        directive: [localstripe.url] for directive in ("script-src", "frame-src", "connect-src")
    }
    return processor.Browser(localstripe)


@pytest.fixture
def acme(db) -> Tenant:
    return Tenant.objects.create(name="Acme", slug="acme", require_payment_profile=True)


@pytest.fixture
def globex(db) -> Tenant:
    return Tenant.objects.create(name="Globex", slug="globex", require_payment_profile=True)


@pytest.fixture
def paid_plan(acme) -> Plan:
    return Plan.objects.create(tenant=acme, name="Cloud Pro", kind=Plan.Kind.SUBSCRIPTION)


@pytest.fixture
def bundle(acme) -> Plan:
    return Plan.objects.create(tenant=acme, name="Starter Bundle", kind=Plan.Kind.BUNDLE)


@pytest.fixture
def alice(acme, bundle) -> User:
    return make_user("alice@acme.example", acme, admin=True, plan=bundle, name="Alice Admin")


@pytest.fixture
def dora(acme) -> User:
    return make_user("dora@acme.example", acme, admin=True, name="Dora Admin")


@pytest.fixture
def bob(acme, paid_plan) -> User:
    return make_user("bob@acme.example", acme, plan=paid_plan, name="Bob User")


@pytest.fixture
def betty(acme, bundle) -> User:
    return make_user("betty@acme.example", acme, plan=bundle, name="Betty Bundle")


@pytest.fixture
def charlie(globex) -> User:
    return make_user("charlie@globex.example", globex, admin=True, name="Charlie Globex")


@pytest.fixture
def make_profile():
    """Put a user's profile in any state directly (test set-up only: the app itself
    changes state through billing.services)."""

    def _make(user: User, state: str = State.PENDING, method: str = Method.INVOICE):
        profile, _ = PaymentProfile.objects.get_or_create(user=user)
        PaymentProfile.objects.filter(pk=profile.pk).update(
            state=state,
            method=method,
            company_name="Acme Corp" if method == Method.INVOICE else "",
            billing_contact="Bob User" if method == Method.INVOICE else "",
            billing_email="ap@acme.example" if method == Method.INVOICE else "",
            card_brand="Visa" if method == Method.CREDIT_CARD else "",
            card_last4="4242" if method == Method.CREDIT_CARD else "",
            card_exp_month=4 if method == Method.CREDIT_CARD else None,
            card_exp_year=2031 if method == Method.CREDIT_CARD else None,
            stripe_payment_method_id="pm_test" if method == Method.CREDIT_CARD else "",
            submitted_at=timezone.now(),
            state_changed_at=timezone.now(),
        )
        # An UPDATE skips PaymentProfile.save(): recompute the Users page's copies.
        PaymentProfile.objects.filter(pk=profile.pk).refresh_sort_keys()
        return PaymentProfile.objects.get(pk=profile.pk)

    return _make
