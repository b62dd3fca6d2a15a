"""The gate in a real browser: whom a held user can ask to activate their profile
(the tenant's admins by name and e-mail, never themselves; an operator when there
is no one), and a navigation that offers only pages a held user may open."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from accounts.models import Plan, User
from billing.models import State
from tests.e2e.steps import log_in


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def test_it_names_the_admins_to_contact_and_offers_no_dead_ends(
    page: Page, bob: User, alice: User, dora: User, make_profile, shot
) -> None:
    make_profile(bob, State.INACTIVE)
    log_in(page, "bob@acme.example")
    expect(
        page.get_by_role("heading", name="Your payment profile has been deactivated")
    ).to_be_visible()

    expect(page.get_by_text("Contact your admin to have it activated again.")).to_be_visible()
    for name, email in (("Alice Admin", "alice@acme.example"), ("Dora Admin", "dora@acme.example")):
        link = page.get_by_role("link", name=f"{name} <{email}>")
        expect(link).to_have_attribute("href", f"mailto:{email}")
    shot(page, "gate-contacts")

    # Held: the Dashboard would only send Bob back here; Account is open.
    expect(main_nav(page).get_by_role("link", name="Dashboard")).to_have_count(0)
    expect(main_nav(page).get_by_role("link", name="Admin")).to_have_count(0)
    main_nav(page).get_by_role("button", name="Bob User").click()
    expect(main_nav(page).get_by_role("link", name="Account", exact=True)).to_be_visible()


def test_it_tells_a_held_admin_that_another_admin_activates_it(
    page: Page, alice: User, dora: User, paid_plan: Plan, shot
) -> None:
    User.objects.filter(pk=alice.pk).update(plan=paid_plan)
    log_in(page, "alice@acme.example")
    expect(page.get_by_role("heading", name="Set up your payment profile")).to_be_visible()

    expect(page.get_by_text("another admin of your tenant must activate it")).to_be_visible()
    expect(page.get_by_text("your admin activates it")).to_have_count(0)
    expect(page.get_by_role("link", name="Dora Admin <dora@acme.example>")).to_be_visible()
    expect(page.get_by_role("link", name="Alice Admin <alice@acme.example>")).to_have_count(0)
    # The admin area stays open to a held admin; the Dashboard does not.
    expect(main_nav(page).get_by_role("link", name="Admin")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Dashboard")).to_have_count(0)
    shot(page, "gate-admin")


def test_it_sends_the_only_admin_to_an_operator(page: Page, alice: User, paid_plan: Plan) -> None:
    User.objects.filter(pk=alice.pk).update(plan=paid_plan)
    log_in(page, "alice@acme.example")
    expect(page.get_by_text("a CloudCenter operator must activate it")).to_be_visible()
    expect(page.get_by_text("contact the CloudCenter operator of your tenant")).to_be_visible()
    expect(page.get_by_role("link", name="Alice Admin <alice@acme.example>")).to_have_count(0)
