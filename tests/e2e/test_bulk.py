"""Bulk actions in the browser: tick rows (or every user matching, across pages),
Activate, read the popup's counts, confirm, read the result per group; Decline
several with one reason without JavaScript; a large one's progress page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import User
from billing.bulk import run_bulk_actions
from billing.models import PaymentProfile, State
from tests.e2e.steps import log_in
from tests.e2e.test_profile_admin import open_users
from tests.helpers import make_user


def pending(*users: User) -> None:
    profiles = PaymentProfile.objects.filter(user__in=users)
    profiles.update(state=State.PENDING)
    profiles.refresh_sort_keys()  # the copies the Users page sorts and filters by


def many_pending(tenant, count: int, prefix: str = "crowd") -> list[User]:
    users = User.objects.bulk_create(
        User(email=f"{prefix}{n:03d}@acme.example", name=f"Zed {prefix} {n:03d}", tenant=tenant)
        for n in range(count)
    )
    PaymentProfile.objects.bulk_create(PaymentProfile(user=user) for user in users)
    pending(*users)
    return users


def bulk_bar(page: Page):
    return page.get_by_role("form", name="Act on several users")


def test_ticked_rows_are_activated_with_a_result_per_group(
    new_context, alice: User, bob: User, betty: User, dora: User, make_profile, shot
) -> None:
    make_profile(bob, State.PENDING)
    make_profile(betty, State.ACTIVE)
    carl = make_user("carl@acme.example", alice.tenant, name="Carl Pending")
    pending(carl)
    page = new_context().new_page()
    log_in(page, "alice@acme.example")
    open_users(page)
    for name in ("Bob User", "Betty Bundle", "Carl Pending", "Dora Admin"):
        page.get_by_role("checkbox", name=f"Select {name}").check()
    expect(bulk_bar(page).get_by_text("4 selected.")).to_be_visible()
    bulk_bar(page).get_by_role("button", name="Activate", exact=True).click()
    dialog = page.get_by_role("dialog", name="Activate payment profiles")
    expect(dialog.get_by_text("2 of 4 selected users will be activated.")).to_be_visible()
    expect(dialog.get_by_text("1 already active")).to_be_visible()
    expect(dialog.get_by_text("1 not set up")).to_be_visible()
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING  # nothing yet
    shot(page, "bulk-confirm", key="bulk-confirm")
    dialog.get_by_role("button", name="Activate 2 profiles").click()
    expect(page.get_by_role("heading", name="Activate payment profiles")).to_be_visible()
    expect(
        page.get_by_text("2 activated; 1 skipped: already active; 1 skipped: not set up.")
    ).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="betty@acme.example")).to_be_visible()
    shot(page, "bulk-result", key="bulk-result")
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
    assert PaymentProfile.objects.get(user=carl).state == State.ACTIVE
    page.get_by_role("link", name="Back to Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()


def test_every_user_matching_across_pages_is_activated(new_context, alice: User, acme) -> None:
    crowd = many_pending(acme, 60)
    page = new_context().new_page()
    log_in(page, "alice@acme.example")
    page.goto("/admin/users/?status=pending")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    all_matching = page.get_by_role("checkbox", name="Select all 60 matching")
    expect(all_matching).to_be_hidden()  # until the whole page is ticked
    page.get_by_role("checkbox", name="Select all on this page").check()
    expect(bulk_bar(page).get_by_text("50 selected.")).to_be_visible()
    all_matching.check()
    expect(bulk_bar(page).get_by_text("All 60 matching users selected.")).to_be_visible()
    bulk_bar(page).get_by_role("button", name="Activate", exact=True).click()
    dialog = page.get_by_role("dialog", name="Activate payment profiles")
    expect(dialog.get_by_text("60 of 60 selected users will be activated.")).to_be_visible()
    dialog.get_by_role("button", name="Activate 60 profiles").click()
    expect(page.get_by_text("60 activated.")).to_be_visible()
    assert PaymentProfile.objects.filter(user__in=crowd, state=State.ACTIVE).count() == 60
    page.get_by_role("link", name="Back to Users").click()
    expect(page).to_have_url(f"{page.url.split('/admin/')[0]}/admin/users/?status=pending")


def test_several_are_declined_with_one_reason_without_javascript(
    no_js_context, alice: User, bob: User, make_profile
) -> None:
    make_profile(bob, State.PENDING)
    carl = make_user("carl@acme.example", alice.tenant, name="Carl Pending")
    pending(carl)
    page = no_js_context.new_page()
    log_in(page, "alice@acme.example")
    page.goto("/admin/users/")
    page.get_by_role("checkbox", name="Select Bob User").check()
    page.get_by_role("checkbox", name="Select Carl Pending").check()
    bulk_bar(page).get_by_role("button", name="Decline", exact=True).click()
    expect(page.get_by_role("heading", name="Decline payment profiles")).to_be_visible()
    expect(page.get_by_text("2 of 2 selected users will be declined.")).to_be_visible()
    page.get_by_role("button", name="Decline 2 profiles").click()  # no reason
    expect(page.get_by_text("Give a reason").first).to_be_visible()
    page.get_by_label("Reason (the same for every user)").fill("The PO number is missing.")
    page.get_by_role("button", name="Decline 2 profiles").click()
    expect(page.get_by_text("2 declined.")).to_be_visible()
    for user in (bob, carl):
        profile = PaymentProfile.objects.get(user=user)
        assert profile.is_declined
        assert profile.deactivation_reason == "The PO number is missing."


def test_a_large_one_shows_its_progress_until_the_worker_is_done(
    new_context, alice: User, acme, settings, shot
) -> None:
    settings.BULK_INLINE_MAX = 5
    many_pending(acme, 12)
    page = new_context().new_page()
    log_in(page, "alice@acme.example")
    page.goto("/admin/users/?status=pending")
    page.get_by_role("checkbox", name="Select all on this page").check()
    bulk_bar(page).get_by_role("button", name="Activate", exact=True).click()
    dialog = page.get_by_role("dialog", name="Activate payment profiles")
    expect(dialog.get_by_text("runs in the background")).to_be_visible()
    dialog.get_by_role("button", name="Activate 12 profiles").click()
    expect(page.get_by_text("0 of 12 done.")).to_be_visible()
    expect(page.get_by_label("Waiting for the worker to start")).to_be_visible()
    shot(page, "bulk-progress", key="bulk-progress")
    assert run_bulk_actions() == 12
    # The page follows the job and shows the result once it is done.
    expect(page.get_by_text("12 activated.")).to_be_visible()
