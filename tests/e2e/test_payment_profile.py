"""The user's side of the seed's story, in a real browser: log in, accept the terms,
be held at the gate, set up the payment profile (Invoice, then Credit Card), and
get told what is wrong with a form."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import User
from billing.models import Method, PaymentProfile, State
from tests.e2e.steps import log_in, open_account, open_payment_information
from tests.e2e.test_card_payment import type_card
from tests.processor import VISA

PENDING_MESSAGE = "Your payment profile is saved and pending activation by your admin."
INVOICE = {
    "Company Name": "Acme Corp",
    "Billing Contact": "Bob User",
    "Billing Email": "ap@acme.example",
    "Address": "1 Main Street",
    "City": "Springfield",
    "State / Province (optional)": "IL",
    "Postal Code": "62701",
    "Purchase Order Number (optional)": "PO-1234",
    "Tax ID (optional)": "91-1144442",
}
COUNTRY = "United States of America"


def fill_invoice(page: Page) -> None:
    for label, value in INVOICE.items():
        page.get_by_role("textbox", name=label, exact=True).fill(value)
    page.get_by_label("Country").select_option(label=COUNTRY)


def test_it_walks_a_new_user_from_login_to_a_pending_invoice_profile(
    page: Page, alice: User, bob: User, shot
) -> None:
    User.objects.filter(pk=bob.pk).update(terms_accepted_at=None)

    page.goto("/")
    expect(page.get_by_role("heading", name="Log in to CloudCenter")).to_be_visible()
    shot(page, "login", key="login")
    log_in(page, "bob@acme.example")

    # First login: the terms of agreement, before anything else.
    expect(page.get_by_role("heading", name="Terms of agreement")).to_be_visible()
    page.get_by_label("I accept the terms of agreement").check()
    shot(page, "terms", key="terms")
    page.get_by_role("button", name="Accept").click()

    # Held at the gate: a paid plan needs a payment profile.
    expect(page.get_by_role("heading", name="Set up your payment profile")).to_be_visible()
    shot(page, "gate", key="gate")
    bob.refresh_from_db()
    assert bob.terms_accepted_at is not None
    page.get_by_role("navigation", name="Main").get_by_role("link", name="CloudCenter").click()
    expect(page.get_by_role("heading", name="Set up your payment profile")).to_be_visible()

    # The user link at the top right, Account, then the Billing Information link.
    open_account(page, "Bob User")
    expect(page.get_by_role("link", name="Not set up", exact=True)).to_be_visible()
    shot(page, "account", key="account")
    open_payment_information(page, "Not set up")

    # Credit Card is preselected under Payment Method, and only its fields show.
    expect(page.get_by_role("radio", name="Credit Card")).to_be_checked()
    expect(page.get_by_role("radio", name="Invoice")).not_to_be_checked()
    expect(page.get_by_role("group", name="Card", exact=True)).to_be_visible()
    expect(page.get_by_label("Company Name")).to_be_hidden()
    shot(page, "payment-information", key="payment-information-credit-card")

    page.get_by_role("radio", name="Invoice").check()
    expect(page.get_by_role("group", name="Card", exact=True)).to_be_hidden()
    fill_invoice(page)
    shot(page, "invoice-filled", key="payment-information-invoice")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert").filter(has_text=PENDING_MESSAGE)).to_be_visible()
    expect(page.get_by_text("Billing Information: Invoice", exact=True)).to_be_visible()
    expect(page.get_by_text("Pending activation", exact=True)).to_be_visible()
    shot(page, "pending", key="pending")

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.PENDING
    assert profile.method == Method.INVOICE
    assert (profile.company_name, profile.billing_email, profile.po_number) == (
        "Acme Corp",
        "ap@acme.example",
        "PO-1234",
    )

    # Still held: the admin has not activated it yet.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="CloudCenter").click()
    expect(page.get_by_role("heading", name="pending activation")).to_be_visible()
    shot(page, "gate-pending")
    open_account(page, "Bob User")
    expect(page.get_by_role("link", name="Invoice", exact=True)).to_be_visible()


def test_it_sets_up_an_invoice_with_javascript_off(
    no_js_context, alice: User, bob: User, shot
) -> None:
    page = no_js_context.new_page()
    log_in(page, "bob@acme.example")
    expect(page.get_by_role("heading", name="Set up your payment profile")).to_be_visible()
    # Without JavaScript the user menu is a plain link to the Account page.
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Bob User").click()
    expect(page.get_by_role("heading", name="Account Information")).to_be_visible()
    open_payment_information(page, "Not set up")

    # Both sets of fields show; the chosen Payment Method decides which are used. A
    # card cannot be entered without JavaScript, and the page says so.
    expect(page.get_by_text("Card entry needs JavaScript")).to_be_visible()
    expect(page.get_by_label("Company Name")).to_be_visible()
    page.get_by_role("radio", name="Invoice").check()
    page.get_by_label("Company Name").fill("Acme Corp")
    page.get_by_role("button", name="Save").click()

    # Left out on purpose: the required invoice fields, shown as errors.
    expect(
        page.get_by_text("Enter the name of the person who receives the invoices.", exact=True)
    ).to_be_visible()
    expect(page.get_by_role("radio", name="Invoice")).to_be_checked()
    expect(page.get_by_label("Company Name")).to_have_value("Acme Corp")
    shot(page, "invoice-errors-no-js")
    assert not PaymentProfile.objects.filter(user=bob).exclude(state=State.NONE).exists()

    fill_invoice(page)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").filter(has_text=PENDING_MESSAGE)).to_be_visible()
    expect(page.get_by_text("Billing Information: Invoice", exact=True)).to_be_visible()
    shot(page, "invoice-pending-no-js")

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.method, profile.city) == (
        State.PENDING,
        Method.INVOICE,
        "Springfield",
    )


def test_a_new_card_for_an_active_profile_waits_beside_the_one_on_file(
    page: Page, bob: User, make_profile, shot
) -> None:
    make_profile(bob, State.ACTIVE, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(user=bob).update(cardholder_name="Bob User")
    log_in(page, "bob@acme.example")
    open_account(page, "Bob User")
    open_payment_information(page, "Credit Card")

    # What may be kept is prefilled; the card is always entered again.
    expect(page.get_by_label("Cardholder Name")).to_have_value("Bob User")
    expect(page.get_by_text("Card on file: Visa ending in 4242, expires 04/31.")).to_be_visible()

    page.get_by_label("Cardholder Name").fill("Robert User")
    type_card(page, VISA, exp=("05", "32"))
    page.get_by_role("button", name="Save").click()
    # Bob's profile is active: the change waits beside it.
    expect(page.get_by_role("alert").filter(has_text="Your change is saved")).to_be_visible()
    expect(
        page.get_by_text(
            "Card on file (in the waiting change): Visa ending in 4242, expires 05/32."
        )
    ).to_be_visible()
    expires = page.get_by_role("row").filter(has_text="Expires")
    expect(expires.get_by_role("cell", name="04/31")).to_be_visible()
    expect(expires.get_by_role("cell", name="05/32")).to_be_visible()
    shot(page, "card-change-waits")

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.card_exp_year) == (State.ACTIVE, 2031)
    change = profile.pending_change
    assert change.stripe_payment_method_id.startswith("pm_")
    assert (change.cardholder_name, change.card_exp_month, change.card_exp_year) == (
        "Robert User",
        5,
        2032,
    )
