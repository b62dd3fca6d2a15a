"""A card that expires soon, as people meet it: the banner on the user's every page
with its link to Payment Information, and the admins' "Card expiring" filter."""

from __future__ import annotations

from datetime import UTC, timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Tenant, User
from billing.models import Method, PaymentProfile, State, card_expires_at
from tests.e2e.steps import log_in
from tests.e2e.test_profile_admin import open_users, users_row
from tests.helpers import make_user


def on_expiring_card(user: User) -> str:
    """Put `user` on an active card that shows as expiring now: one ending this month
    (within 30 days of its end on every day but the 1st of a 31-day month, when the
    card of last month, expired but still in its grace period, is used). Returns its
    expiry as shown, MM/YY."""
    now = timezone.now()
    month, year = now.month, now.year
    if card_expires_at(month, year, UTC) - now > timedelta(days=30):
        last = now.replace(day=1) - timedelta(days=1)
        month, year = last.month, last.year
    PaymentProfile.objects.filter(user=user).update(
        state=State.ACTIVE,
        method=Method.CREDIT_CARD,
        cardholder_name=user.name,
        card_brand="Visa",
        card_last4="4242",
        card_exp_month=month,
        card_exp_year=year,
        stripe_payment_method_id="pm_test",
        state_changed_at=now,
    )
    return f"{month:02d}/{year % 100:02d}"


def test_the_banner_and_the_card_expiring_filter(
    new_context, alice: User, bob: User, acme: Tenant, paid_plan, shot
) -> None:
    fran = make_user("fran@acme.example", acme, plan=paid_plan, name="Fran Card")
    expiry = on_expiring_card(fran)

    user: Page = new_context().new_page()
    log_in(user, "fran@acme.example")
    banner = user.get_by_role("status").filter(has_text="Your card")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"Visa ending in 4242, expiry {expiry}")
    shot(user, "banner-card-expiring", key="banner-card-expiring")
    user.goto("/account/")  # on every page
    banner.get_by_role("link", name="Update your Payment Information").click()
    expect(user.get_by_role("heading", name="Payment Information")).to_be_visible()
    expect(user.get_by_role("status").filter(has_text="Your card")).to_be_visible()

    admin: Page = new_context().new_page()
    log_in(admin, "alice@acme.example")
    open_users(admin)
    admin.get_by_label("Profile status").select_option(label="Card expiring")  # applies
    expect(users_row(admin, "fran@acme.example")).to_contain_text(
        f"Credit Card · Visa ending in 4242 · expires {expiry}"
    )
    expect(users_row(admin, "bob@acme.example")).to_have_count(0)
    expect(admin.get_by_text("1 of 3 users", exact=True)).to_be_visible()
    shot(admin, "users-card-expiring", key="admin-users-card-expiring")


def test_the_activate_popup_says_why_a_card_that_ended_cannot_be_activated(
    page: Page, alice: User, bob: User, make_profile
) -> None:
    """A pending card that ended long before the tenant's grace period: the popup says
    why, offers no Save, and nothing changes (the bulk act and the API refuse it in
    the same words: tests/billing/test_bulk.py, test_api.py)."""
    make_profile(bob, State.PENDING, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(user=bob).update(card_exp_month=1, card_exp_year=2020)
    log_in(page, "alice@acme.example")
    open_users(page)
    row = users_row(page, "bob@acme.example")
    row.get_by_role("button", name="Actions").click()
    row.get_by_role("link", name="Activate Pay Profile").click()
    dialog = page.get_by_role("dialog", name="Activate Pay Profile")
    expect(
        dialog.get_by_role("alert").filter(
            has_text="The card of Bob User (Visa ending in 4242, expiry 01/20) has ended and "
            "its grace period is over"
        )
    ).to_be_visible()
    expect(dialog.get_by_role("button", name="Save")).to_have_count(0)
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING
