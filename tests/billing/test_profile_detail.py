"""Billing details from the Actions dropdown: what the user saved, a card only as
brand, last four and expiry."""

from __future__ import annotations

from django.urls import reverse

from billing.models import Method, State
from tests.helpers import client_for, headings


def url(user) -> str:
    return reverse("billing:profile_detail", args=[user.pk])


def test_it_shows_the_invoice_details(alice, bob, make_profile):
    make_profile(bob, State.PENDING, Method.INVOICE)
    html = client_for(alice).get(url(bob)).content.decode()
    for text in (
        "Billing details",
        "Invoice",
        "Acme Corp",
        "ap@acme.example",
        "Pending activation",
    ):
        assert text in html


def test_it_shows_a_card_as_brand_last4_and_expiry(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE, Method.CREDIT_CARD)
    html = client_for(alice).get(url(bob)).content.decode()
    assert "Visa ending in 4242" in html
    assert "04/31" in html


def test_it_says_when_nothing_is_set_up(alice, bob):
    html = client_for(alice).get(url(bob)).content.decode()
    assert "Not set up" in html


def test_it_fits_in_the_popup_when_fetched(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    html = client_for(alice).get(url(bob), headers={"X-Requested-With": "fetch"}).content.decode()
    assert "<html" not in html
    assert headings(html) == ["Billing details"]
    assert "Acme Corp" in html
