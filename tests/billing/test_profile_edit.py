"""The Payment Information page (Account > Billing Information). That a card's
number and CVC are never kept or shown: tests/test_card_data.py."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from mailer.models import Message

from accounts.models import Tenant
from billing.models import Method, PaymentProfile, State
from tests.helpers import CARD_POST, INVOICE_POST, client_for, links, no_profile_saved

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
        "Card Number",
        "Expiry (MM/YY)",
        "CVC",
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


def test_it_saves_a_card_as_pending_and_shows_its_brand_and_last_four(alice, bob):
    response = client_for(bob).post(URL, CARD_POST, follow=True)

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.card_brand, profile.card_last4) == (
        State.PENDING,
        "Visa",
        "4242",
    )
    html = response.content.decode()
    assert ("Credit Card", URL) not in links(html)
    assert "Visa ending in 4242" in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"card_number": "4242 4242 4242 4241"}, "card_number", "not valid"),
        ({"card_number": "1234"}, "card_number", "12 to 19 digits"),
        ({"card_number": "9999 9999 9999 9995"}, "card_number", "We accept"),
        ({"card_expiry": "13/30"}, "card_expiry", "MM/YY"),
        ({"card_expiry": "01/20"}, "card_expiry", "expired"),
        ({"cvc": "12"}, "cvc", "3-digit"),
        ({"cvc": "abc"}, "cvc", "security code"),
        ({"cardholder_name": ""}, "cardholder_name", "cardholder name"),
        ({"card_number": ""}, "card_number", "Enter the card number"),
    ],
)
def test_it_explains_what_to_fix_in_the_card_and_stores_nothing(
    alice, bob, changes, field, message
):
    response = client_for(bob).post(URL, {**CARD_POST, **changes})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert no_profile_saved()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "missing", ["company_name", "billing_contact", "billing_email", "address", "city", "country"]
)
def test_it_explains_missing_invoice_details_and_stores_nothing(alice, bob, missing):
    response = client_for(bob).post(URL, {**INVOICE_POST, missing: ""})

    assert response.status_code == 200
    assert response.context["form"].errors[missing][0].startswith("Enter")
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
    captions = re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", html, re.S)
    marked = {text_of(c).rstrip("*").strip() for c in captions if "*" in text_of(c)}
    assert marked == {
        "Payment Method",
        "Cardholder Name",
        "Card Number",
        "Expiry (MM/YY)",
        "CVC",
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


def test_it_asks_for_the_card_number_and_cvc_when_no_card_is_on_file_to_keep(
    alice, bob, make_profile
):
    make_profile(bob, State.ACTIVE, Method.INVOICE)
    response = client_for(bob).post(URL, {**CARD_POST, "card_number": "", "cvc": ""})
    errors = response.context["form"].errors
    assert "Enter the card number" in errors["card_number"][0]
    assert "security code" in errors["cvc"][0]
    assert PaymentProfile.objects.get(user=bob).method == Method.INVOICE


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
