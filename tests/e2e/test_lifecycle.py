"""Beyond the happy path, as people walk it: a declined profile goes back with a
reason and comes back corrected; an active user's change waits beside the profile
while they keep the console; a user reminds the admins."""

from __future__ import annotations

from mailer.models import Message
from playwright.sync_api import Page, expect

from accounts.models import User
from billing.models import Method, PaymentProfile, State
from billing.services import payment_profile_activate
from tests.e2e.steps import log_in, open_account, open_payment_information
from tests.e2e.test_profile_admin import (
    bob_saves,
    open_actions,
    open_users,
    status_message,
    users_row,
)

REASON = "The company name must be the legal entity: Acme Corporation Ltd."


def admin_opens_actions(page: Page, email: str = "bob@acme.example"):
    open_users(page)
    row = users_row(page, email)
    open_actions(row)
    return row


def test_a_declined_profile_goes_back_with_a_reason_and_comes_back_corrected(
    new_context, alice: User, bob: User, dora: User, shot
) -> None:
    bob_saves(bob)
    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    row = admin_opens_actions(admin)
    row.get_by_role("link", name="Decline Pay Profile", exact=True).click()
    dialog = admin.get_by_role("dialog", name="Decline Pay Profile", exact=True)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Decline").click()  # without a reason
    # The popup's form went to its page, which says what to fix; nothing changed.
    expect(
        admin.get_by_text("Give a reason: the user reads it to know what to correct.", exact=True)
    ).to_be_visible()
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING
    admin.get_by_label("Reason").fill(REASON)
    shot(admin, "decline-with-reason", key="admin-decline")
    admin.get_by_role("button", name="Decline").click()
    expect(status_message(admin, "Payment profile of Bob User declined.")).to_be_visible()
    expect(users_row(admin, "bob@acme.example").get_by_text("Declined", exact=True)).to_be_visible()

    user = new_context().new_page()
    log_in(user, "bob@acme.example")
    expect(user.get_by_role("heading", name="Your payment profile was declined")).to_be_visible()
    expect(user.get_by_text(REASON)).to_be_visible()
    expect(user.get_by_text("Alice Admin declined your payment profile")).to_be_visible()
    shot(user, "gate-declined", key="gate-declined")
    open_account(user, "Bob User")
    open_payment_information(user, "Invoice")
    user.get_by_label("Company Name").fill("Acme Corporation Ltd.")
    user.get_by_role("button", name="Save").click()
    expect(user.get_by_text("pending activation by your admin").first).to_be_visible()

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.company_name) == (State.PENDING, "Acme Corporation Ltd.")
    row = admin_opens_actions(admin)
    row.get_by_role("link", name="Activate Pay Profile", exact=True).click()
    admin.get_by_role("dialog", name="Activate Pay Profile").get_by_role(
        "button", name="Save"
    ).click()
    expect(status_message(admin, "Payment profile of Bob User activated.")).to_be_visible()
    user.goto("/")
    expect(user.get_by_role("heading", name="Welcome, Bob")).to_be_visible()


def _active_bob(bob: User, alice: User) -> PaymentProfile:
    bob_saves(bob)
    return payment_profile_activate(actor=alice, user=bob)


def _bob_changes_the_city(new_context, shot) -> Page:
    user = new_context().new_page()
    log_in(user, "bob@acme.example")
    open_account(user, "Bob User")
    open_payment_information(user, "Invoice")
    user.get_by_label("City").fill("Shelbyville")
    user.get_by_role("button", name="Save").click()
    expect(user.get_by_text("Your change is saved and awaits approval")).to_be_visible()
    expect(user.get_by_role("cell", name="Shelbyville")).to_be_visible()
    shot(user, "change-pending", key="payment-information-change-pending")
    # Still in the console meanwhile.
    user.goto("/")
    expect(user.get_by_role("heading", name="Welcome, Bob")).to_be_visible()
    return user


def test_an_active_users_change_waits_then_is_approved(
    new_context, alice: User, bob: User, dora: User, shot
) -> None:
    _active_bob(bob, alice)
    _bob_changes_the_city(new_context, shot)

    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    row = admin_opens_actions(admin)
    expect(row.get_by_text("Active · change pending")).to_be_visible()
    row.get_by_role("link", name="Review change", exact=True).click()
    dialog = admin.get_by_role("dialog", name="Review change", exact=True)
    address = dialog.get_by_role("row").filter(has_text="Address")
    expect(address.get_by_role("cell", name="Springfield, IL 62701")).to_be_visible()
    expect(address.get_by_role("cell", name="Shelbyville, IL 62701")).to_be_visible()
    shot(admin, "review-change", key="admin-review-change")
    dialog.get_by_role("button", name="Approve").click()
    expect(status_message(admin, "is approved")).to_be_visible()
    expect(users_row(admin, "bob@acme.example").get_by_text("Active", exact=True)).to_be_visible()
    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.city, profile.pending_change_id) == (
        State.ACTIVE,
        "Shelbyville",
        None,
    )


def test_an_active_users_change_is_declined_with_a_reason(
    new_context, alice: User, bob: User, dora: User, shot
) -> None:
    _active_bob(bob, alice)
    user = _bob_changes_the_city(new_context, shot)

    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    row = admin_opens_actions(admin)
    row.get_by_role("link", name="Review change", exact=True).click()
    dialog = admin.get_by_role("dialog", name="Review change", exact=True)
    dialog.get_by_label("Reason (needed to decline)").fill("Invoices go to the head office.")
    dialog.get_by_role("button", name="Decline").click()
    expect(status_message(admin, "is declined")).to_be_visible()
    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.city, profile.pending_change_id) == (
        State.ACTIVE,
        "Springfield",
        None,
    )
    user.goto("/account/billing/")
    expect(user.get_by_text("Change declined")).to_be_visible()
    expect(user.get_by_text("Invoices go to the head office.")).to_be_visible()


def test_the_user_reminds_the_admins_once_a_day(new_context, alice: User, bob: User, shot) -> None:
    bob_saves(bob, Method.CREDIT_CARD)
    Message.objects.all().delete()
    user = new_context().new_page()
    log_in(user, "bob@acme.example")
    expect(
        user.get_by_role("heading", name="Your payment profile is pending activation")
    ).to_be_visible()
    user.get_by_role("button", name="Remind my admins").click()
    expect(user.get_by_text("Your admins have been reminded by e-mail.")).to_be_visible()
    # The button now says when it can be used again, and does nothing meanwhile.
    expect(user.get_by_role("button", name="Remind my admins")).to_be_disabled()
    expect(user.get_by_text("You can remind them again after")).to_be_visible()
    shot(user, "reminded", key="gate-reminded")
    user.goto("/account/billing/")
    expect(user.get_by_role("button", name="Remind my admins")).to_be_disabled()
    assert [m.email.to for m in Message.objects.all()] == [["alice@acme.example"]]
