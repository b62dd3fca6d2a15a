"""The Payment Information page (Account > Billing Information). That a card's
number and CVC are never kept or shown: tests/test_card_data.py."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from mailer.models import Message

from accounts.models import Tenant
from billing.models import CardSetup, Method, PaymentProfile, State
from tests.helpers import INVOICE_POST, card_post, client_for, links, no_profile_saved
from tests.processor import VISA, confirmed_setup

URL = reverse("billing:profile_edit")


def labels(html: str) -> set[str]:
    """The labels' texts, without the required marker."""
    found = re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)
    return {" ".join(re.sub(r"<[^>]+>|\*", " ", m).split()) for m in found}


def test_it_shows_the_seed_wording_with_credit_card_preselected(bob):
    response = client_for(bob).get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    for text in ["Payment Information", "Payment Method", "Credit Card", "Invoice", "Save"]:
        assert text in html
    assert {
        "Credit Card",
        "Invoice",
        "Cardholder Name",
        "Company Name",
        "Billing Contact",
        "Billing Email",
        "Address",
        "City",
        "State / Province (optional)",
        "Postal Code",
        "Country",
        "Purchase Order Number (optional)",
        "Tax ID (optional)",
    } <= labels(html)
    # The card is typed into Stripe's Card Element: no field of ours takes it.
    assert not re.search(r'name="(card_number|cvc|card_expiry|number)"', html)
    assert 'id="card-element"' in html and "Card entry needs JavaScript" in html
    assert 'src="http://127.0.0.1:9/js.stripe.com' not in html  # the JS URL is its own
    form = response.context["form"]
    assert form["method"].value() == Method.CREDIT_CARD
    assert 'value="credit_card"' in html and "checked" in html.split('value="credit_card"')[1][:40]


def test_it_saves_an_invoice_profile_as_pending(alice, bob):
    client = client_for(bob)
    response = client.post(URL, INVOICE_POST, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.method) == (State.PENDING, Method.INVOICE)
    html = response.content.decode()
    assert "pending activation by your admin" in html
    assert "cannot use CloudCenter" in html
    assert ("Invoice", URL) not in links(html)  # this page: the method as text, not a link
    assert "Billing Information:" in html and "Invoice" in html
    account = client.get(reverse("accounts:account")).content.decode()
    assert ("Invoice", URL) in links(account)
    assert "Pending activation" in account
    assert Message.objects.count() == 1


def test_it_saves_a_card_stripe_confirmed_as_pending_and_shows_its_brand_and_last_four(
    card_payments, alice, bob
):
    setup = confirmed_setup(bob, card_payments, VISA)
    response = client_for(bob).post(URL, card_post(setup), follow=True)

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.card_brand, profile.card_last4) == (
        State.PENDING,
        "Visa",
        "4242",
    )
    assert profile.stripe_payment_method_id.startswith("pm_")
    assert CardSetup.objects.get().setup_intent_id == setup
    html = response.content.decode()
    assert ("Credit Card", URL) not in links(html)
    assert "Visa ending in 4242" in html
    assert Message.objects.count() == 1  # alice is told


def test_it_gives_the_page_a_setup_intent_to_confirm_the_card_with(card_payments, bob):
    response = client_for(bob).post(reverse("billing:profile_card_setup"))
    assert response.status_code == 200
    secret = response.json()["client_secret"]
    assert secret.startswith("seti_") and "_secret_" in secret
    assert client_for(bob).get(reverse("billing:profile_card_setup")).status_code == 405


def test_it_says_so_when_the_processor_cannot_give_a_setup_intent(bob):
    response = client_for(bob).post(reverse("billing:profile_card_setup"))
    assert response.status_code == 503
    assert "could not be checked with the payment processor" in response.json()["error"]


def test_it_allows_stripe_js_on_this_page_only(card_payments, bob, localstripe):
    policy = client_for(bob).get(URL)["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    for name in ("script-src", "frame-src", "connect-src"):
        assert localstripe.url in directives[name], name
    assert localstripe.url not in directives["img-src"]
    home = client_for(bob).get(reverse("accounts:account"))["Content-Security-Policy"]
    assert localstripe.url not in home


def test_it_refuses_a_setup_intent_that_did_not_succeed_and_stores_nothing(
    card_payments, alice, bob
):
    from billing.processor import setup_intent_start

    started = setup_intent_start(user=bob)  # never confirmed
    response = client_for(bob).post(URL, card_post(started.setup_intent))

    assert response.status_code == 200
    assert "not confirmed with your bank" in response.context["form"].errors["setup_intent"][0]
    assert started.setup_intent not in response.content.decode()  # not written back
    assert no_profile_saved()
    assert not Message.objects.exists()


def test_it_refuses_another_users_setup_intent(card_payments, alice, bob, betty):
    bettys = confirmed_setup(betty, card_payments)
    confirmed_setup(bob, card_payments)  # bob has a customer of his own
    response = client_for(bob).post(URL, card_post(bettys))
    assert "does not belong to you" in response.context["form"].errors["setup_intent"][0]
    assert no_profile_saved()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"setup_intent": ""}, "setup_intent", "Enter the card"),
        ({"setup_intent": "tok_visa"}, "setup_intent", "Enter the card"),
        ({"setup_intent": "seti_1'; drop"}, "setup_intent", "Enter the card"),
        ({"cardholder_name": ""}, "cardholder_name", "cardholder name"),
    ],
)
def test_it_explains_what_to_fix_for_a_card_and_stores_nothing(alice, bob, changes, field, message):
    response = client_for(bob).post(URL, {**card_post("seti_123"), **changes})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert no_profile_saved()
    assert not Message.objects.exists()


def test_it_ignores_card_fields_posted_to_it(alice, bob):
    """Nothing reads a card number or CVC sent to this page (an old form, a script)."""
    response = client_for(bob).post(
        URL, {**card_post(""), "card_number": "4242424242424242", "cvc": "123"}
    )
    assert "4242424242424242" not in response.content.decode()
    assert no_profile_saved()


@pytest.mark.parametrize(
    "missing", ["company_name", "billing_contact", "billing_email", "address", "city", "country"]
)
def test_it_explains_missing_invoice_details_and_stores_nothing(alice, bob, missing):
    response = client_for(bob).post(URL, {**INVOICE_POST, missing: ""})

    assert response.status_code == 200
    assert response.context["form"].errors[missing][0].startswith(("Enter", "Choose"))
    assert no_profile_saved()


def test_it_refuses_a_malformed_post(alice, bob):
    for data in [{}, {"method": "bitcoin"}, {"method": "invoice"}, {"method": "credit_card"}]:
        response = client_for(bob).post(URL, data)
        assert response.status_code == 200
        assert response.context["form"].errors
    assert no_profile_saved()
    assert not Message.objects.exists()


def test_it_rejects_an_invalid_billing_email(alice, bob):
    response = client_for(bob).post(URL, {**INVOICE_POST, "billing_email": "not-an-address"})
    assert "valid e-mail address" in response.context["form"].errors["billing_email"][0]


def test_it_tells_an_active_user_that_changes_wait_for_approval(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    html = client_for(bob).get(URL).content.decode()
    assert "they wait for approval by your admin, and you keep using CloudCenter" in html


def test_it_prefills_saved_invoice_details(bob, make_profile):
    make_profile(bob, State.PENDING, Method.INVOICE)
    form = client_for(bob).get(URL).context["form"]
    assert form["method"].value() == Method.INVOICE
    assert form["company_name"].value() == "Acme Corp"


@pytest.mark.parametrize("reason", ["Moved to finance.", "Moved to finance"])
def test_it_shows_a_deactivation_reason_with_its_own_punctuation_only(bob, make_profile, reason):
    make_profile(bob, State.INACTIVE)
    PaymentProfile.objects.filter(user=bob).update(deactivation_reason=reason)
    html = client_for(bob).get(URL).content.decode()
    assert f"“{reason}”" in html
    assert "finance.." not in html and "finance.”." not in html


def main_of(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


@pytest.mark.parametrize("method", [None, Method.INVOICE, Method.CREDIT_CARD])
def test_it_says_billing_information_once_and_does_not_link_to_itself(bob, make_profile, method):
    if method:
        make_profile(bob, State.PENDING, method)
    main = main_of(client_for(bob).get(URL).content.decode())
    assert text_of(main).count("Billing Information") == 1
    assert f'href="{URL}"' not in main
    assert re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", main, re.S) == ["Payment Information"]
    label = "Not set up" if method is None else dict(Method.choices)[method]
    assert f"Billing Information: {label}" in text_of(main)


def test_it_marks_exactly_the_fields_required_for_their_method(bob):
    html = main_of(client_for(bob).get(URL).content.decode())
    captions = re.findall(
        r'<(?:label|legend|span class="form-label[^"]*")[^>]*>(.*?)</(?:label|legend|span)>',
        html,
        re.S,
    )
    marked = {text_of(c).rstrip("*").strip() for c in captions if "*" in text_of(c)}
    assert marked == {
        "Payment Method",
        "Cardholder Name",
        "Card",
        "Company Name",
        "Billing Contact",
        "Billing Email",
        "Address",
        "City",
        "Postal Code",
        "Country",
    }
    assert "* required" in text_of(html)
    # Required for one method only, so no browser-enforced `required` on them.
    assert 'aria-required="true"' in html
    assert not re.search(r'<input[^>]*name="(?!method)[^"]*"[^>]*\srequired[\s>]', html)


def test_it_asks_an_owner_of_a_card_saved_before_stripe_for_the_card_only_on_change(
    alice, bob, make_profile
):
    make_profile(bob, State.ACTIVE, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(user=bob).update(stripe_payment_method_id="")
    html = client_for(bob).get(URL).content.decode()
    assert "Card on file: Visa ending in 4242, expires 04/31." in html
    assert "saved before cards were confirmed with the bank" in html
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE


def summary_of(html: str) -> str:
    return text_of(html.split('class="card mb-4"', 1)[1].split("</div>\n</div>", 1)[0])


def test_it_says_what_is_true_when_the_tenant_stops_requiring_profiles(
    acme, alice, bob, make_profile
):
    Tenant.objects.filter(pk=acme.pk).update(require_payment_profile=False)
    client = client_for(bob)
    tenant_off = "Your tenant does not currently require a payment profile"
    assert summary_of(client.get(reverse("accounts:account")).content.decode()).endswith(
        f"{tenant_off}."
    )

    make_profile(bob, State.PENDING)
    for url in (URL, reverse("accounts:account"), reverse("accounts:home")):
        html = client.get(url).content.decode()
        summary = summary_of(html)
        assert "Pending activation" in summary
        assert f"{tenant_off}; your saved profile is kept." in summary
        assert "Your plan does not require" not in html
        assert "You cannot use CloudCenter" not in html

    response = client.post(URL, INVOICE_POST, follow=True)
    assert "You cannot use CloudCenter" not in response.content.decode()


def test_it_says_the_plan_needs_none_when_the_plan_needs_none(betty, make_profile):
    make_profile(betty, State.PENDING)
    summary = summary_of(client_for(betty).get(URL).content.decode())
    assert "Your plan does not require a payment profile; your saved profile is kept." in summary
