"""The admin's side of the seed's story, in a real browser, with the user watching
from a second browser: Admin > Users > the row's Actions > Activate Pay Profile >
Save lets the user in; Deactivate Pay Profile > OK holds them again. With
JavaScript the actions open popups; without it, confirmation pages."""

from __future__ import annotations

from django_fsm_log.models import StateLog
from playwright.sync_api import Locator, Page, expect

from accounts.models import User
from billing.models import INVOICE_FIELDS, Method, PaymentProfile, State
from billing.services import payment_profile_submit
from tests.e2e.steps import log_in
from tests.helpers import INVOICE_POST, stripe_card

ACTIVATED = "Payment profile of Bob User activated."
DEACTIVATED = "Payment profile of Bob User deactivated."
REASON = "Bob moved to the Globex team; bills go to Dora now."


def bob_saves(bob: User, method: str = Method.INVOICE) -> PaymentProfile:
    """Bob's side, done as the Payment Information page does it (the user's own
    walk through that page is in test_payment_profile.py)."""
    if method == Method.INVOICE:
        details = {field: INVOICE_POST[field] for field in INVOICE_FIELDS}
        return payment_profile_submit(user=bob, method=method, details=details)
    return payment_profile_submit(user=bob, method=method, details={}, card=stripe_card())


def open_users(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("list", name="Admin").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()


def users_row(page: Page, email: str) -> Locator:
    return page.get_by_role("row").filter(has_text=email)


def open_actions(row: Locator) -> None:
    row.get_by_role("button", name="Actions").click()
    expect(row.get_by_role("link", name="Billing details")).to_be_visible()


def status_message(page: Page, text: str) -> Locator:
    return page.get_by_role("status").get_by_role("alert").filter(has_text=text)


def go_home(page: Page) -> None:
    """The brand link: the Dashboard, or the gate while held (the page may have been
    drawn while the user was held, without a Dashboard link)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="CloudCenter").click()


def expect_dashboard(page: Page) -> None:
    go_home(page)
    expect(page.get_by_role("heading", name="Welcome, Bob")).to_be_visible()


def expect_held(page: Page, heading: str) -> None:
    go_home(page)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()


def transitions(profile: PaymentProfile) -> list[tuple[str, str, str]]:
    """The admin's transitions in the log (Bob's own submit comes first)."""
    logs = StateLog.objects.for_(profile).exclude(transition="submit").order_by("timestamp", "pk")
    return [(log.transition, log.state, log.by.email if log.by else "") for log in logs]


def test_it_activates_and_deactivates_a_pay_profile_through_the_popups(
    new_context, alice: User, bob: User, dora: User, betty: User, shot
) -> None:
    # Dora and Betty only fill the Users page, so Bob's row sits among others.
    profile = bob_saves(bob)
    user = new_context().new_page()
    log_in(user, "bob@acme.example")
    expect(
        user.get_by_role("heading", name="Your payment profile is pending activation")
    ).to_be_visible()

    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    open_users(admin)
    row = users_row(admin, "bob@acme.example")
    expect(row.get_by_text("Pending activation")).to_be_visible()
    open_actions(row)
    expect(row.get_by_role("link", name="Deactivate Pay Profile", exact=True)).to_have_count(0)
    shot(admin, "users-actions", key="admin-users-actions")

    row.get_by_role("link", name="Activate Pay Profile", exact=True).click()
    dialog = admin.get_by_role("dialog", name="Activate Pay Profile", exact=True)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Activate the payment profile of Bob User?")).to_be_visible()
    expect(dialog.get_by_text("Acme Corp")).to_be_visible()
    shot(admin, "activate-popup", key="admin-activate-popup")
    dialog.get_by_role("button", name="Save").click()

    expect(status_message(admin, ACTIVATED)).to_be_visible()
    row = users_row(admin, "bob@acme.example")
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    open_actions(row)
    expect(row.get_by_role("link", name="Activate Pay Profile", exact=True)).to_have_count(0)
    expect(row.get_by_role("link", name="Deactivate Pay Profile", exact=True)).to_be_visible()
    shot(admin, "activated", key="admin-status-after-activation")
    profile.refresh_from_db()
    assert profile.state == State.ACTIVE
    assert transitions(profile) == [("activate", State.ACTIVE, "alice@acme.example")]

    # The user passes the gate now.
    expect_dashboard(user)
    shot(user, "user-dashboard", key="dashboard-active")

    row.get_by_role("link", name="Deactivate Pay Profile", exact=True).click()
    dialog = admin.get_by_role("dialog", name="Deactivate Pay Profile", exact=True)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason (optional)").fill(REASON)
    shot(admin, "deactivate-popup", key="admin-deactivate-popup")
    dialog.get_by_role("button", name="OK").click()

    expect(status_message(admin, DEACTIVATED)).to_be_visible()
    row = users_row(admin, "bob@acme.example")
    expect(row.get_by_text("Inactive", exact=True)).to_be_visible()
    open_actions(row)
    expect(row.get_by_role("link", name="Activate Pay Profile", exact=True)).to_be_visible()
    expect(row.get_by_role("link", name="Deactivate Pay Profile", exact=True)).to_have_count(0)
    shot(admin, "deactivated")
    profile.refresh_from_db()
    assert (profile.state, profile.deactivation_reason) == (State.INACTIVE, REASON)
    assert [entry[:2] for entry in transitions(profile)] == [
        ("activate", State.ACTIVE),
        ("deactivate", State.INACTIVE),
    ]

    # The user is held again, and told why.
    expect_held(user, "Your payment profile has been deactivated")
    expect(user.get_by_text(REASON)).to_be_visible()
    shot(user, "user-held-again", key="gate-deactivated")


def test_it_cancels_the_popup_without_changing_anything(
    new_context, alice: User, bob: User, shot
) -> None:
    profile = bob_saves(bob, Method.CREDIT_CARD)
    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    open_users(admin)
    row = users_row(admin, "bob@acme.example")
    open_actions(row)
    row.get_by_role("link", name="Activate Pay Profile", exact=True).click()
    dialog = admin.get_by_role("dialog", name="Activate Pay Profile", exact=True)
    expect(dialog.get_by_text("Visa ending in 4242")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_text("Pending activation")).to_be_visible()
    profile.refresh_from_db()
    assert profile.state == State.PENDING
    assert transitions(profile) == []


def test_it_activates_and_deactivates_on_confirmation_pages_without_javascript(
    new_context, alice: User, bob: User, shot
) -> None:
    profile = bob_saves(bob)
    user = new_context(java_script_enabled=False).new_page()
    log_in(user, "bob@acme.example")
    expect(
        user.get_by_role("heading", name="Your payment profile is pending activation")
    ).to_be_visible()

    admin = new_context(java_script_enabled=False).new_page()
    log_in(admin, "alice@acme.example")
    open_users(admin)
    row = users_row(admin, "bob@acme.example")
    open_actions(row)
    shot(admin, "users-actions-no-js")
    row.get_by_role("link", name="Activate Pay Profile", exact=True).click()

    # A page of its own instead of the popup, with the same question and button.
    expect(admin.get_by_role("heading", name="Activate Pay Profile", exact=True)).to_be_visible()
    expect(admin.get_by_role("dialog")).to_have_count(0)
    expect(admin.get_by_text("Activate the payment profile of Bob User?")).to_be_visible()
    shot(admin, "activate-page-no-js", key="admin-activate-page-no-js")
    admin.get_by_role("button", name="Save").click()

    expect(status_message(admin, ACTIVATED)).to_be_visible()
    expect(admin.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    row = users_row(admin, "bob@acme.example")
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    profile.refresh_from_db()
    assert profile.state == State.ACTIVE
    expect_dashboard(user)

    open_actions(row)
    row.get_by_role("link", name="Deactivate Pay Profile", exact=True).click()
    expect(admin.get_by_role("heading", name="Deactivate Pay Profile", exact=True)).to_be_visible()
    admin.get_by_label("Reason (optional)").fill(REASON)
    shot(admin, "deactivate-page-no-js")
    admin.get_by_role("button", name="OK").click()

    expect(status_message(admin, DEACTIVATED)).to_be_visible()
    row = users_row(admin, "bob@acme.example")
    expect(row.get_by_text("Inactive", exact=True)).to_be_visible()
    shot(admin, "deactivated-no-js")
    profile.refresh_from_db()
    assert (profile.state, profile.deactivation_reason) == (State.INACTIVE, REASON)
    assert [entry[:2] for entry in transitions(profile)] == [
        ("activate", State.ACTIVE),
        ("deactivate", State.INACTIVE),
    ]
    expect_held(user, "Your payment profile has been deactivated")
