"""A card through Stripe, in a real browser: Payment Information with localstripe's
Stripe.js (its stand-in's Card Element: five plain inputs, no iframe, found here by
their placeholders), a real localstripe process behind it (the ``card_payments``
fixture), and every request the page sends to our own origin looked at on its way
(Playwright's request interception): none carries the card number or the CVC.

Test cards: 4242 4242 4242 4242 succeeds; 4000 0027 6000 3184 asks for the bank's
check (localstripe's box: Complete / Fail authentication); 4000 0000 0000 0002 is
declined."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from playwright.sync_api import Page, Route, expect

from accounts.models import User
from billing.models import Method, PaymentProfile, State
from tests.e2e.checks import PHONE
from tests.e2e.steps import log_in
from tests.helpers import no_profile_saved
from tests.processor import DECLINED, NEEDS_AUTHENTICATION, VISA

PENDING_MESSAGE = "Your payment profile is saved and pending activation by your admin."
CVC = "987"


class OwnOrigin:
    """Every request the page sends to the app (the live server), with its body."""

    def __init__(self, page: Page, origin: str) -> None:
        self.seen: list[str] = []
        page.route(f"{origin}/**", self._look)

    def _look(self, route: Route) -> None:
        request = route.request
        body = request.post_data or ""
        self.seen.append(f"{request.method} {request.url}\n{unquote_plus(body)}")
        route.continue_()

    def carries(self, *secrets: str) -> list[str]:
        return [seen for seen in self.seen for secret in secrets if secret in seen]


def type_card(page: Page, number: str, *, exp=("04", "39"), cvc=CVC, postal="62701") -> None:
    """Into localstripe's Card Element (its own unlabeled inputs)."""
    box = page.locator("#card-element")
    box.get_by_placeholder("number").fill(number)
    box.get_by_placeholder("exp_month").fill(exp[0])
    box.get_by_placeholder("exp_year").fill(exp[1])
    box.get_by_placeholder("cvc").fill(cvc)
    box.get_by_placeholder("postal_code").fill(postal)


@pytest.fixture
def card_page(card_payments, new_context, live_server, alice: User, bob: User):
    """bob on Payment Information, with the requests to our origin watched."""
    page = new_context().new_page()
    own = OwnOrigin(page, live_server.url)
    log_in(page, "bob@acme.example")
    page.goto("/account/billing/")
    expect(page.locator("#card-element").get_by_placeholder("number")).to_be_visible()
    return page, own


def test_a_card_typed_into_stripe_is_saved_and_its_row_reads_visa_ending_in_4242(
    card_page, new_context, shot
) -> None:
    page, own = card_page
    expect(page.get_by_text("Card entry needs JavaScript")).to_be_hidden()
    page.get_by_label("Cardholder Name").fill("Bob User")
    type_card(page, VISA)
    shot(page, "card-typed", key="payment-information-card")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert").filter(has_text=PENDING_MESSAGE)).to_be_visible()
    expect(page.get_by_text("Card on file: Visa ending in 4242, expires 04/39.")).to_be_visible()
    profile = PaymentProfile.objects.get(user__email="bob@acme.example")
    assert (profile.state, profile.method, profile.card_last4) == (
        State.PENDING,
        Method.CREDIT_CARD,
        "4242",
    )
    assert profile.stripe_payment_method_id.startswith("pm_")
    assert profile.cardholder_name == "Bob User"
    assert own.seen and not own.carries(VISA, "4242 4242", CVC)

    admin = new_context().new_page()
    log_in(admin, "alice@acme.example")
    admin.goto("/admin/users/")
    row = admin.get_by_role("row").filter(has_text="bob@acme.example")
    expect(row).to_contain_text("Visa ending in 4242")
    expect(row).to_contain_text("Pending activation")


def test_the_banks_check_completed_then_failed(card_page, shot) -> None:
    page, own = card_page
    page.get_by_label("Cardholder Name").fill("Bob User")
    type_card(page, NEEDS_AUTHENTICATION)
    page.get_by_role("button", name="Save").click()
    # The bank's check, as localstripe shows it; failing it changes nothing.
    page.get_by_role("button", name="Fail authentication").click()
    failed = page.locator("#card-errors")
    expect(failed).to_have_text(
        "Your bank's check of the card failed or was cancelled, so nothing was saved. Save "
        "again and complete the check your bank shows, or use another card."
    )
    shot(page, "authentication-failed")
    assert no_profile_saved()

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("3D Secure")).to_be_visible()
    shot(page, "authentication-asked", key="payment-information-3ds")
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("alert").filter(has_text=PENDING_MESSAGE)).to_be_visible()
    profile = PaymentProfile.objects.get(user__email="bob@acme.example")
    assert (profile.state, profile.card_last4) == (State.PENDING, "3184")
    assert not own.carries(NEEDS_AUTHENTICATION, "4000 0027", CVC)


# The processor answers a declined card with 402, which Chromium logs as a failed load.
DECLINED_LOAD = "status of 402 (Payment Required)"


def test_a_declined_card_changes_nothing_and_says_what_to_do(
    card_page, shot, console_guard
) -> None:
    page, own = card_page
    page.get_by_label("Cardholder Name").fill("Bob User")
    type_card(page, DECLINED)
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#card-errors")).to_have_text(
        "Your bank declined the card, so nothing was saved. Use another card, or ask your "
        "bank why it was declined."
    )
    expect(page.get_by_role("alert").filter(has_text="declined")).to_be_visible()
    console_guard.forgive(DECLINED_LOAD)
    shot(page, "declined", key="payment-information-card-declined")
    assert no_profile_saved()
    # Another card, on the same page: saved.
    type_card(page, VISA)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").filter(has_text=PENDING_MESSAGE)).to_be_visible()
    assert not own.carries(DECLINED, VISA, CVC)


def test_it_asks_for_the_cardholder_before_it_asks_the_bank(card_page) -> None:
    page, own = card_page
    type_card(page, VISA)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#card-errors")).to_have_text(
        "Enter the cardholder name as it appears on the card, then save."
    )
    expect(page.get_by_label("Cardholder Name")).to_be_focused()
    assert no_profile_saved()
    assert not any("card-setup" in seen for seen in own.seen)


def test_without_javascript_the_page_says_card_entry_needs_it(
    card_payments, no_js_context, alice, bob, shot
) -> None:
    page = no_js_context.new_page()
    log_in(page, "bob@acme.example")
    page.goto("/account/billing/")
    notice = page.get_by_text("Card entry needs JavaScript, which is off in this browser.")
    expect(notice).to_be_visible()
    expect(page.locator("#card-element")).to_be_hidden()
    shot(page, "no-js", key="payment-information-no-js")
    # Saving Credit Card anyway: refused in words, nothing saved.
    page.get_by_label("Cardholder Name").fill("Bob User")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter the card").first).to_be_visible()
    assert no_profile_saved()


def test_the_card_box_fits_a_phone(
    card_payments, new_context, alice, bob, shot, console_guard
) -> None:
    page = new_context(**PHONE).new_page()
    log_in(page, "bob@acme.example")
    page.goto("/account/billing/")
    expect(page.locator("#card-element").get_by_placeholder("number")).to_be_visible()
    page.get_by_label("Cardholder Name").fill("Bob User")
    type_card(page, DECLINED)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#card-errors")).to_contain_text("declined")
    console_guard.forgive(DECLINED_LOAD)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-declined", key="phone-payment-information-card")
