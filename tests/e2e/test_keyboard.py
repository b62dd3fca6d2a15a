"""With the keyboard only: the focus is never dropped on the page's body. A popup
closed with Escape hands it back to the row's Actions button; a form sent back with
errors puts it on the error summary, whose links lead to the fields."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from accounts.models import User
from tests.e2e.steps import log_in, open_account, open_payment_information
from tests.e2e.test_profile_admin import bob_saves, open_users, users_row


def test_it_gives_the_focus_back_to_the_actions_button_when_the_popup_closes(
    page: Page, alice: User, bob: User
) -> None:
    bob_saves(bob)
    log_in(page, "alice@acme.example")
    open_users(page)
    actions = users_row(page, "bob@acme.example").get_by_role("button", name="Actions")

    actions.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("link", name="Activate Pay Profile")).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Activate Pay Profile", exact=True)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Save")).to_be_focused()

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(actions).to_be_focused()

    # The same when the popup is closed with its Cancel button.
    actions.click()
    users_row(page, "bob@acme.example").get_by_role("link", name="Billing details").click()
    dialog = page.get_by_role("dialog", name="Billing details", exact=True)
    dialog.get_by_role("button", name="Close", exact=True).last.click()
    expect(dialog).to_be_hidden()
    expect(actions).to_be_focused()


def test_it_puts_the_focus_on_the_error_summary_whose_links_lead_to_the_fields(
    page: Page, bob: User
) -> None:
    log_in(page, "bob@acme.example")
    open_account(page, "Bob User")
    open_payment_information(page, "Not set up")
    # (Credit Card's card box checks the cardholder before anything is sent: the
    # summary is the server's, for Invoice.)
    page.get_by_role("radio", name="Invoice").check()
    page.get_by_role("button", name="Save").click()

    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link", name="Company Name: ")
    expect(link).to_have_attribute("href", "#id_company_name")

    page.keyboard.press("Tab")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Company Name")).to_be_focused()


def test_it_shows_the_error_summary_without_javascript_too(no_js_context, bob: User) -> None:
    page = no_js_context.new_page()
    log_in(page, "bob@acme.example")
    page.goto("/account/billing/")
    page.get_by_role("radio", name="Invoice").check()
    page.get_by_role("button", name="Save").click()

    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_visible()
    link = summary.get_by_role("link", name="Billing Contact: Enter the name of the person")
    expect(link).to_have_attribute("href", "#id_billing_contact")
    # The first thing in the form.
    assert page.locator("#payment-profile-form").evaluate(
        "form => form.querySelector('[data-error-summary]') === "
        "form.querySelector('div, fieldset, input:not([type=hidden])')"
    )
    link.click()
    expect(page).to_have_url(re.compile("#id_billing_contact$"))


def test_a_bulk_action_with_the_keyboard_only(page: Page, alice: User, bob: User) -> None:
    """Tick a row with Space, open the bulk popup with Enter: the focus goes to its
    first field (Decline's reason) or button, back to the bar's button on Escape,
    and Tab reaches the confirming button."""
    bob_saves(bob)
    log_in(page, "alice@acme.example")
    open_users(page)
    box = page.get_by_role("checkbox", name="Select Bob User")
    box.focus()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    bar = page.get_by_role("form", name="Act on several users")
    activate = bar.get_by_role("button", name="Activate", exact=True)
    activate.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Activate payment profiles")
    expect(dialog.get_by_role("button", name="Activate 1 profile")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(activate).to_be_focused()

    decline = bar.get_by_role("button", name="Decline", exact=True)
    decline.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Decline payment profiles")
    reason = dialog.get_by_label("Reason (the same for every user)")
    expect(reason).to_be_focused()
    page.keyboard.type("The PO number is missing.")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Decline 1 profile")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("1 declined.")).to_be_visible()
