"""What a person does in the browser, step by step, found by what they see:
labels, link and button texts, headings. No CSS ids."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def open_account(page: Page, name: str) -> None:
    """The user link at the top right (the user's name), then Account."""
    page.get_by_role("navigation", name="Main").get_by_role("button", name=name).click()
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("heading", name="Account Information")).to_be_visible()


def open_payment_information(page: Page, link_text: str) -> None:
    """From the Account Information page, the Billing Information link (which reads
    the current method: "Not set up", "Credit Card" or "Invoice")."""
    page.get_by_role("link", name=link_text, exact=True).click()
    expect(page.get_by_role("heading", name="Payment Information")).to_be_visible()
