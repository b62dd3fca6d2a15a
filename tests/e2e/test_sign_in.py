"""Signing in as the issue's people do it, in Chromium: a user of an SSO tenant at the
real OpenID provider (oidc-provider) and at the SAML IdP (pysaml2), then the terms,
the gate, an Invoice profile and an admin's activation; an admin with an
authenticator app (codes from pyotp) and a recovery code; an admin with a security
key (Chromium's virtual authenticator, through CDP); and "admins must use two-factor
sign-in" sending an admin without it to set it up."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Page, expect

from accounts.models import Tenant, User
from billing.models import PaymentProfile, State
from tests.e2e.steps import log_in, open_account, open_payment_information
from tests.e2e.test_payment_profile import fill_invoice
from tests.e2e.test_profile_admin import open_actions, open_users, status_message, users_row
from tests.identity.conftest import oidc_tenant, saml_tenant
from tests.identity.idps import Idp, start_oidc, start_saml


@pytest.fixture
def live_oidc(live_server) -> Iterator[Idp]:
    idp = start_oidc([live_server.url], ["acme"])
    yield idp
    idp.stop()


@pytest.fixture
def live_saml(live_server, tmp_path) -> Iterator[Idp]:
    idp = start_saml(tmp_path, [live_server.url], ["acme"])
    yield idp
    idp.stop()


def forgive_the_idp(console_guard) -> None:
    """The identity providers' own pages are not ours: they have no favicon, and
    oidc-provider's asks for a web font (there is no internet here)."""
    console_guard.forgive("127.0.0.1:")
    console_guard.forgive("fonts.googleapis.com")


def type_the_email(page: Page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Log in").click()


def terms_gate_invoice(page: Page, name: str) -> None:
    """After the first sign-in: the terms, the gate, an Invoice profile saved."""
    expect(page.get_by_role("heading", name="Terms of agreement")).to_be_visible()
    page.get_by_label("I accept the terms of agreement").check()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name="Set up your payment profile")).to_be_visible()
    open_account(page, name)
    expect(page.get_by_text("Through single sign-on (Acme sign-in)")).to_be_visible()
    open_payment_information(page, "Not set up")
    page.get_by_role("radio", name="Invoice").check()
    fill_invoice(page)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Pending activation", exact=True)).to_be_visible()


def an_admin_activates(new_context, email: str, name: str) -> None:
    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    open_users(admin)
    row = users_row(admin, email)
    open_actions(row)
    row.get_by_role("link", name="Activate Pay Profile", exact=True).click()
    admin.get_by_role("dialog", name="Activate Pay Profile").get_by_role(
        "button", name="Save"
    ).click()
    expect(status_message(admin, f"Payment profile of {name} activated.")).to_be_visible()


@pytest.fixture
def acme_on_paid_plan(acme: Tenant, paid_plan) -> Tenant:
    acme.default_plan = paid_plan
    acme.save()
    return acme


def test_an_sso_user_signs_in_through_openid_connect_and_gets_a_profile_activated(
    new_context, live_oidc, acme_on_paid_plan, alice: User, dora: User, shot, console_guard
) -> None:
    oidc_tenant(acme_on_paid_plan, live_oidc, alice)
    page = new_context().new_page()
    type_the_email(page, "erin.sso@acme.example")
    # At the provider's own sign-in page.
    page.locator("input[name=login]").fill("erin.sso@acme.example")
    page.locator("input[name=password]").fill("whatever the IdP checks")
    forgive_the_idp(console_guard)
    shot(page, "oidc-provider-sign-in")
    page.get_by_role("button", name="Sign-in").click()
    forgive_the_idp(console_guard)
    terms_gate_invoice(page, "Erin Sso")
    erin = User.objects.get(email="erin.sso@acme.example")
    assert (
        erin.tenant == acme_on_paid_plan
        and PaymentProfile.objects.get(user=erin).state == State.PENDING
    )
    an_admin_activates(new_context, "erin.sso@acme.example", "Erin Sso")
    page.goto("/")
    expect(page.get_by_role("heading", name="Welcome, Erin")).to_be_visible()
    # Log out: ours, then the provider's (RP-initiated logout), and back to our login.
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Erin Sso").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"127\.0\.0\.1:\d+/session/end"))
    page.get_by_role("button", name=re.compile("Yes, sign me out", re.I)).click()
    expect(page.get_by_role("heading", name="Log in to CloudCenter")).to_be_visible()
    forgive_the_idp(console_guard)


def test_an_sso_user_signs_in_through_saml_and_gets_a_profile_activated(
    new_context, live_saml, acme_on_paid_plan, alice: User, dora: User, shot, console_guard
) -> None:
    saml_tenant(acme_on_paid_plan, live_saml, alice)
    page = new_context().new_page()
    type_the_email(page, "sam.saml@acme.example")
    expect(page.get_by_role("heading", name="Test IdP sign-in")).to_be_visible()
    page.get_by_label("Email").fill("sam.saml@acme.example")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Continue").click()  # the IdP's form to our ACS
    forgive_the_idp(console_guard)
    terms_gate_invoice(page, "Sam Saml")
    an_admin_activates(new_context, "sam.saml@acme.example", "Sam Saml")
    page.goto("/")
    expect(page.get_by_role("heading", name="Welcome, Sam")).to_be_visible()


def open_two_factor(page: Page, name: str) -> None:
    open_account(page, name)
    page.get_by_role("link", name="Two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()


def log_out(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name=name).click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to CloudCenter")).to_be_visible()


def test_an_admin_sets_up_an_authenticator_app_and_signs_in_with_it_and_a_recovery_code(
    new_context, alice: User, shot
) -> None:
    page = new_context().new_page()
    log_in(page, "alice@acme.example")
    open_two_factor(page, "Alice Admin")
    page.get_by_role("link", name="Set up an authenticator app").click()
    secret = page.locator("#totp-secret").inner_text()
    shot(page, "totp-set-up")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    codes = page.get_by_role("list", name="Unused recovery codes").get_by_role("listitem")
    recovery = codes.first.inner_text()
    assert codes.count() == 10
    page.get_by_role("link", name="Done").click()
    log_out(page, "Alice Admin")

    log_in(page, "alice@acme.example")
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    page.get_by_label("Code").fill("123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That code is not right").first).to_be_visible()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    log_out(page, "Alice Admin")

    log_in(page, "alice@acme.example")
    page.get_by_label("Code").fill(recovery)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()


def test_an_admin_adds_a_security_key_and_signs_in_with_it(new_context, alice: User, shot) -> None:
    context = new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    log_in(page, "alice@acme.example")
    open_two_factor(page, "Alice Admin")
    page.get_by_role("link", name="Add a key").click()
    page.get_by_label("Name").fill("YubiKey on my keyring")
    page.get_by_role("button", name="Add key").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    assert alice.authenticator_set.filter(type="webauthn").count() == 1
    page.get_by_role("link", name="Done").click()
    log_out(page, "Alice Admin")

    log_in(page, "alice@acme.example")
    page.get_by_role("button", name="Use a security key or passkey").click()
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()


def test_admins_must_use_two_factor_sends_an_admin_without_it_to_set_it_up(
    new_context, alice: User
) -> None:
    Tenant.objects.filter(pk=alice.tenant_id).update(admins_must_use_two_factor=True)
    page = new_context().new_page()
    log_in(page, "alice@acme.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(
        page.get_by_text("Your tenant asks its admins to use two-factor sign-in")
    ).to_be_visible()
