"""Every page state, on a desktop and on a 390-px phone: no critical or serious axe-core
violation, nothing wider than the screen, and at phone size the open menus and popups
inside it. One walk per screen size with one browser context per person, and axe run
once per state (tests/e2e/checks.py), to keep the suite quick.

The keyboard's part (focus back on the Actions button when a popup closes, focus on
the error summary of a form sent back) is in test_keyboard.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest
from django_fsm_log.models import StateLog
from playwright.sync_api import BrowserContext, Page, expect

from accounts.models import User
from billing.bulk import bulk_start
from billing.models import Method
from billing.services import (
    payment_profile_activate,
    payment_profile_decline,
    payment_profile_submit,
)
from tests.e2e.checks import PHONE, Findings, check_page, inside_viewport
from tests.e2e.conftest import ROOT
from tests.e2e.steps import log_in
from tests.e2e.test_card_expiry import on_expiring_card
from tests.e2e.test_card_payment import DECLINED_LOAD, type_card
from tests.helpers import INVOICE_POST, bulk_users, make_user
from tests.processor import DECLINED
from tests.test_html import sso_set_up

REPORT = ROOT / "artifacts" / "a11y"


def log_a_reminder(user: User) -> None:
    """One more entry in the user's profile log, as "Remind my admins" writes one."""
    profile = user.payment_profile
    StateLog.objects.create(
        content_object=profile,
        by=user,
        source_state=profile.state,
        state=profile.state,
        transition="remind",
    )


def row(page: Page, email: str):
    return page.get_by_role("row").filter(has_text=email)


def open_menu(page: Page, email: str):
    """Opens the row's Actions menu (unless it is open); returns the menu."""
    actions = row(page, email).get_by_role("button", name="Actions")
    if actions.get_attribute("aria-expanded") != "true":
        actions.click()
    menu = row(page, email).get_by_role("list").filter(has_text="Billing details")
    expect(menu).to_be_visible()
    return menu


def open_popup(page: Page, email: str, link: str):
    """Opens one of the row's popups; returns its box once it has slid into place."""
    open_menu(page, email).get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("dialog", name=link, exact=True)).to_be_visible()
    page.wait_for_function(
        "getComputedStyle(document.querySelector('#action-modal .modal-dialog')).transform"
        " === 'none'"
    )
    return page.locator("#action-modal .modal-dialog")


def close_popup(page: Page) -> None:
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


@pytest.fixture
def people(alice: User, bob: User, acme, paid_plan) -> dict[str, User]:
    carol = make_user("carol@acme.example", acme, plan=paid_plan, name="Carol Card")
    payment_profile_submit(user=carol, method=Method.INVOICE, details=INVOICE_POST)
    payment_profile_activate(actor=alice, user=carol)
    terry = make_user("terry@acme.example", acme, plan=paid_plan, terms=False, name="Terry")
    # Dave's active profile has a change waiting; Erin's was declined.
    dave = make_user("dave@acme.example", acme, plan=paid_plan, name="Dave Change")
    details = {k: v for k, v in INVOICE_POST.items() if k != "method"}
    payment_profile_submit(user=dave, method=Method.INVOICE, details=details)
    payment_profile_activate(actor=alice, user=dave)
    payment_profile_submit(user=dave, method=Method.INVOICE, details={**details, "city": "Ogden"})
    erin = make_user("erin@acme.example", acme, plan=paid_plan, name="Erin Declined")
    payment_profile_submit(user=erin, method=Method.INVOICE, details=details)
    payment_profile_decline(actor=alice, user=erin, reason="The PO number is missing.")
    # Fran's card expires soon: the banner on her pages.
    fran = make_user("fran@acme.example", acme, plan=paid_plan, name="Fran Card")
    on_expiring_card(fran)
    sso_set_up(alice, sso_only=False)
    return {"alice": alice, "bob": bob, "carol": carol, "terry": terry, "dave": dave}


def two_factor_walk(admin: Page, check, context) -> None:
    """Alice sets up an authenticator app (its page, a wrong code, her recovery codes),
    looks at security keys, signs in again with a code, and is asked again."""
    admin.goto("/account/two-factor/")
    check(admin, "two-factor sign-in, nothing set up")
    admin.get_by_role("link", name="Set up an authenticator app").click()
    check(admin, "set up an authenticator app")
    secret = admin.locator("#totp-secret").inner_text()
    admin.get_by_label("Code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    admin.get_by_role("button", name="Turn on").click()
    check(admin, "set up an authenticator app, wrong code")
    admin.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    admin.get_by_role("button", name="Turn on").click()
    expect(admin.get_by_role("heading", name="Recovery codes")).to_be_visible()
    check(admin, "recovery codes")
    for state, path in [
        ("two-factor sign-in, app on", "/account/two-factor/"),
        ("add a security key", "/account/two-factor/keys/add/"),
        ("security keys", "/account/two-factor/keys/"),
        ("new recovery codes", "/account/two-factor/recovery-codes/generate/"),
        ("turn off the app", "/account/two-factor/app/deactivate/"),
        ("asked again for the second factor", "/account/two-factor/reauthenticate/"),
    ]:
        admin.goto(path)
        check(admin, state)
    admin.get_by_role("button", name="Confirm").click()
    check(admin, "asked again, no code")
    again = context().new_page()
    log_in(again, "alice@acme.example")
    expect(again.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    check(again, "two-factor sign-in at login")
    again.get_by_role("button", name="Sign in").click()
    check(again, "two-factor sign-in at login, no code")
    again.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    again.get_by_role("button", name="Sign in").click()
    expect(again.get_by_role("heading", name="Welcome, Alice")).to_be_visible()


def sign_in_walk(admin: Page, check) -> None:
    """Admin > Sign-in: its overview with SAML set up, and every form with its errors
    (the admin gave her second factor just now: these are sudo acts)."""
    for state, path, button in [
        ("sign-in settings", "/admin/sso/", None),
        ("OpenID Connect set-up", "/admin/sso/oidc/", "Save"),
        ("SAML set-up", "/admin/sso/saml/", "Save"),
        ("sign-in options", "/admin/sso/options/", None),
        ("add a domain", "/admin/sso/domains/add/", "Claim domain"),
        ("remove single sign-on", "/admin/sso/remove/", None),
        ("settings, two-factor rule", "/admin/settings/", None),
    ]:
        admin.goto(path)
        check(admin, state)
        if button:
            admin.get_by_role("button", name=button).click()
            check(admin, f"{state}, errors")
    admin.goto("/admin/sso/")
    admin.get_by_role("link", name=re.compile("^Remove acme.test")).click()
    check(admin, "remove a domain")


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_every_page_state_is_accessible_and_fits_the_screen(
    checked_context, people, screen: str, shot, console_guard
) -> None:
    phone = screen == "phone"
    findings = Findings()
    boxes: dict[str, bool] = {}

    def context() -> BrowserContext:
        return checked_context(**PHONE) if phone else checked_context()

    def check(page: Page, state: str) -> None:
        check_page(page, state, findings=findings)

    def check_box(page: Page, state: str, locator) -> None:
        boxes[state] = inside_viewport(page, locator)

    # Someone not logged in.
    visitor = context().new_page()
    visitor.goto("/login/")
    check(visitor, "login")
    visitor.get_by_label("Email").fill("bob@acme.example")
    visitor.get_by_label("Password").fill("wrong password")
    visitor.get_by_role("button", name="Log in").click()
    expect(visitor.get_by_text("do not match")).to_be_visible()
    check(visitor, "login, wrong password")
    visitor.goto("/password-reset/")
    check(visitor, "password reset")
    visitor.get_by_label("Email").fill("not an address")
    visitor.get_by_role("button", name="Send the link").click()
    check(visitor, "password reset, bad address")
    visitor.goto("/password-reset/sent/")
    check(visitor, "password reset sent")
    visitor.goto("/password-reset/x/y/")
    check(visitor, "password reset, invalid link")
    visitor.goto("/password-reset/complete/")
    check(visitor, "password reset complete")
    visitor.goto("/login/")
    visitor.get_by_label("Email").fill("nobody@nowhere.example")
    visitor.get_by_role("button", name="Log in").click()
    expect(visitor.get_by_text("Enter your password.").first).to_be_visible()
    check(visitor, "login, no password and no SSO")
    visitor.goto("/sso/cancelled/")
    check(visitor, "SSO cancelled")
    visitor.goto("/no-such-page/")
    check(visitor, "not found")
    console_guard.forgive("the server responded with a status of 404")

    # First login: the terms.
    terry = context().new_page()
    log_in(terry, "terry@acme.example")
    check(terry, "terms")
    terry.get_by_role("button", name="Accept").click()
    expect(terry.get_by_role("heading", name="Terms of agreement")).to_be_visible()
    check(terry, "terms, not accepted")

    # A user on a paid plan sets up the payment profile.
    bob = context().new_page()
    log_in(bob, "bob@acme.example")
    check(bob, "gate")
    if phone:
        bob.get_by_role("button", name="Toggle navigation").click()
    bob.get_by_role("navigation", name="Main").get_by_role("button", name="Bob User").click()
    user_menu = bob.get_by_role("navigation", name="Main").get_by_role("list").last
    expect(user_menu.get_by_role("link", name="Account")).to_be_visible()
    check(bob, "user menu open")
    check_box(bob, "user menu", user_menu)
    bob.goto("/account/")
    check(bob, "account")
    bob.goto("/account/billing/")
    check(bob, "payment information")
    # A card the bank declines: the page says so in the card box.
    bob.get_by_label("Cardholder Name").fill("Bob User")
    type_card(bob, DECLINED)
    bob.get_by_role("button", name="Save").click()
    expect(bob.locator("#card-errors")).to_contain_text("declined")
    console_guard.forgive(DECLINED_LOAD)
    check(bob, "payment information, card declined")
    # As the page is without JavaScript (axe itself needs it, so the page's own
    # no-JavaScript class is put back): the card box's notice instead of the box.
    bob.evaluate("document.documentElement.classList.add('no-js')")
    expect(bob.get_by_text("Card entry needs JavaScript")).to_be_visible()
    check(bob, "payment information, card entry without JavaScript")
    bob.evaluate("document.documentElement.classList.remove('no-js')")
    bob.get_by_role("radio", name="Invoice").check()
    bob.get_by_role("button", name="Save").click()
    expect(bob.get_by_label("Company Name")).to_be_visible()
    check(bob, "payment information, invoice errors")
    for name, value in INVOICE_POST.items():
        if name == "country":
            bob.locator(f"[name={name}]").select_option(value)
        elif name != "method":
            bob.locator(f"[name={name}]").fill(value)
    bob.get_by_role("button", name="Save").click()
    check(bob, "payment information, pending")
    bob.goto("/payment-profile-required/")
    check(bob, "gate, pending")
    bob.goto("/account/password/")
    check(bob, "password change")
    bob.get_by_role("button", name="Change password").click()
    check(bob, "password change, errors")
    bob.goto("/account/password/done/")
    check(bob, "password changed")
    bob.goto("/admin/users/")
    check(bob, "forbidden")
    console_guard.forgive("the server responded with a status of 403")

    # A user whose change waits, and one whose profile was declined.
    dave = context().new_page()
    log_in(dave, "dave@acme.example")
    dave.goto("/account/billing/")
    check(dave, "payment information, change pending")
    erin = context().new_page()
    log_in(erin, "erin@acme.example")
    check(erin, "gate, declined")
    erin.goto("/account/billing/")
    check(erin, "payment information, declined")
    fran = context().new_page()
    log_in(fran, "fran@acme.example")
    expect(fran.get_by_role("status").filter(has_text="Your card")).to_be_visible()
    check(fran, "dashboard, card expiring banner")
    fran.goto("/account/billing/")
    check(fran, "payment information, card expiring banner")

    # The tenant admin.
    admin = context().new_page()
    log_in(admin, "alice@acme.example")
    check(admin, "dashboard")
    two_factor_walk(admin, check, context)
    admin.goto("/admin/users/")
    check(admin, "users")
    menu = open_menu(admin, "bob@acme.example")
    check(admin, "users, Actions open")
    check_box(admin, "Actions menu", menu)
    if phone:
        shot(admin, "phone-users-actions", key="phone-users-actions")
    popup = open_popup(admin, "bob@acme.example", "Activate Pay Profile")
    check(admin, "Activate popup")
    check_box(admin, "Activate popup", popup)
    close_popup(admin)
    popup = open_popup(admin, "carol@acme.example", "Deactivate Pay Profile")
    check(admin, "Deactivate popup")
    check_box(admin, "Deactivate popup", popup)
    close_popup(admin)
    popup = open_popup(admin, "bob@acme.example", "Decline Pay Profile")
    check(admin, "Decline popup")
    check_box(admin, "Decline popup", popup)
    close_popup(admin)
    popup = open_popup(admin, "dave@acme.example", "Review change")
    check(admin, "Review change popup")
    check_box(admin, "Review change popup", popup)
    close_popup(admin)
    popup = open_popup(admin, "bob@acme.example", "Billing details")
    check(admin, "Billing details popup")
    check_box(admin, "Billing details popup", popup)
    close_popup(admin)
    bob_pk, carol_pk = people["bob"].pk, people["carol"].pk
    for state, path in [
        ("history", f"/admin/users/{bob_pk}/history/"),
        ("billing details page", f"/admin/users/{bob_pk}/billing/"),
        ("activate page", f"/admin/users/{bob_pk}/activate/"),
        ("deactivate page", f"/admin/users/{carol_pk}/deactivate/"),
        ("decline page", f"/admin/users/{bob_pk}/decline/"),
        ("review change page", f"/admin/users/{people['dave'].pk}/change/"),
        ("users, awaiting an admin", "/admin/users/?status=awaiting"),
        ("users, card expiring", "/admin/users/?status=card_expiring"),
        ("change plan", f"/admin/users/{bob_pk}/plan/"),
        ("plans", "/admin/plans/"),
        ("settings", "/admin/settings/"),
        ("users, no match", "/admin/users/?q=nobody"),
        ("API tokens", "/admin/api-tokens/"),
        ("activity", "/admin/activity/"),
        ("activity, filtered", "/admin/activity/?act=activate&user=carol&since=2020-01-01"),
        ("activity, date errors", "/admin/activity/?since=2030-02-01&until=2030-01-01"),
        ("activity, bad dates", "/admin/activity/?since=2030-13-45&until=9999-12-31"),
        ("activity, no match", "/admin/activity/?user=nobody"),
    ]:
        admin.goto(path)
        check(admin, state)
    # A history of more than one page: its second page, with Newer and Older.
    for _ in range(60):
        log_a_reminder(people["carol"])
    admin.goto(f"/admin/users/{carol_pk}/history/")
    admin.get_by_role("link", name="Older").click()
    expect(admin.get_by_role("link", name="Newer")).to_be_visible()
    check(admin, "history, second page")
    admin.goto(f"/admin/users/{bob_pk}/decline/")
    admin.get_by_role("button", name="Decline").click()
    check(admin, "decline page, no reason")
    admin.goto(f"/admin/users/{carol_pk}/deactivate/")
    admin.get_by_label("Reason (optional)").fill("Moved teams")
    admin.get_by_role("button", name="OK").click()
    expect(admin.get_by_text("Payment profile of Carol Card deactivated.")).to_be_visible()
    check(admin, "users, after a deactivation")
    sign_in_walk(admin, check)
    for state, path, button in [
        ("add user", "/admin/users/add/", "Add user"),
        ("add plan", "/admin/plans/add/", "Add plan"),
        ("new API token", "/admin/api-tokens/add/", "Make token"),
    ]:
        admin.goto(path)
        check(admin, state)
        admin.get_by_role("button", name=button).click()
        check(admin, f"{state}, errors")

    # Bulk actions: rows ticked, the popup, the page without it, a result, a progress page.
    admin.goto("/admin/users/")
    admin.get_by_role("checkbox", name="Select all on this page").check()
    check(admin, "users, every row ticked")
    bar = admin.get_by_role("form", name="Act on several users")
    bar.get_by_role("button", name="Decline", exact=True).click()
    expect(admin.get_by_role("dialog", name="Decline payment profiles")).to_be_visible()
    admin.wait_for_function(
        "getComputedStyle(document.querySelector('#action-modal .modal-dialog')).transform"
        " === 'none'"
    )
    check(admin, "bulk Decline popup")
    check_box(admin, "bulk Decline popup", admin.locator("#action-modal .modal-dialog"))
    close_popup(admin)
    admin.goto(f"/admin/users/bulk/?act=activate&ids={bob_pk}&ids={people['alice'].pk}")
    check(admin, "bulk Activate page")
    admin.get_by_role("button", name="Activate 1 profile").click()
    expect(admin.get_by_text("1 activated; 1 skipped: your own profile.")).to_be_visible()
    check(admin, "bulk result")
    running, _ = bulk_start(actor=people["alice"], act="deactivate", user_ids=[bob_pk])
    admin.goto(f"/admin/users/bulk/{running.pk}/")
    check(admin, "bulk progress")

    # A tenant of many: the page numbers (the outer ones hidden on a phone), and a
    # filter with its count ("61 of 134 users"). Last, so the states above stay small.
    bulk_users(people["bob"].tenant, 130, plan=people["bob"].plan)
    plan = people["bob"].plan.pk
    for state, path in [
        ("users, page 3 of 6", "/admin/users/?size=25&page=3"),
        ("users, filtered, page 2 of 3", f"/admin/users/?plan={plan}&status=none&size=25&page=2"),
    ]:
        admin.goto(path)
        expect(admin.get_by_role("navigation", name="Pages")).to_be_visible()
        check(admin, state)

    REPORT.mkdir(parents=True, exist_ok=True)
    report = {"problems": findings.problems, "widths": findings.widths, "boxes": boxes}
    Path(REPORT / f"{screen}.json").write_text(json.dumps(report, indent=2))
    failed = {state: problems for state, problems in findings.problems.items() if problems}
    outside = [state for state, inside in boxes.items() if phone and not inside]
    assert not failed and not outside, (
        f"{sum(map(len, failed.values()))} problems on {len(failed)} of "
        f"{len(findings.problems)} page states; outside the screen: {outside}\n"
        + "\n".join(f"{state}:\n  " + "\n  ".join(lines) for state, lines in failed.items())
    )
