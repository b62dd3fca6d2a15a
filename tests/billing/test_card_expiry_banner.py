"""The banner on every page for a user whose own card expires within 30 days."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Method, PaymentProfile, PendingChange, State
from tests.helpers import client_for


@pytest.fixture
def bob_on_card(bob, make_profile):
    def _make(month: int, year: int, state=State.ACTIVE):
        profile = make_profile(bob, state, Method.CREDIT_CARD)
        PaymentProfile.objects.filter(pk=profile.pk).update(
            card_exp_month=month, card_exp_year=year
        )
        return bob

    return _make


def banner(html: str) -> str:
    if "card-expiry-banner" not in html:
        return ""
    return " ".join(html.split("card-expiry-banner", 1)[1].split("</div>", 1)[0].split())


@pytest.mark.parametrize(
    "name",
    ["accounts:home", "accounts:account", "billing:profile_edit", "accounts:password_change"],
)
def test_it_shows_on_every_page_within_30_days_of_the_end_of_the_month(bob_on_card, name):
    bob = bob_on_card(4, 2030)
    with time_machine.travel("2030-04-01 00:00Z", tick=False):
        shown = banner(client_for(bob).get(reverse(name)).content.decode())
    assert "Your card expires soon." in shown
    assert "(Visa ending in 4242, expiry 04/30) is good through 2030-04-30." in shown
    assert f'href="{reverse("billing:profile_edit")}"' in shown


def test_it_is_not_shown_earlier_or_for_others(bob_on_card, alice):
    bob = bob_on_card(4, 2030)
    with time_machine.travel("2030-03-31 23:59Z", tick=False):
        assert banner(client_for(bob).get(reverse("accounts:home")).content.decode()) == ""
    with time_machine.travel("2030-04-15 00:00Z", tick=False):
        assert banner(client_for(alice).get(reverse("accounts:home")).content.decode()) == ""


def test_an_expired_card_says_when_the_profile_will_be_deactivated(bob_on_card):
    bob = bob_on_card(4, 2030)
    with time_machine.travel("2030-05-03 00:00Z", tick=False):
        shown = banner(client_for(bob).get(reverse("accounts:home")).content.decode())
    assert "Your card has expired." in shown
    assert "Save a new card before" in shown and "2030-05-08 00:00 UTC" in shown


def test_a_new_card_waiting_for_approval_takes_the_banner_away(bob_on_card):
    bob = bob_on_card(4, 2030)
    change = PendingChange.objects.create(
        method=Method.CREDIT_CARD,
        card_brand="Visa",
        card_last4="1111",
        card_exp_month=9,
        card_exp_year=2033,
        stripe_payment_method_id="pm_new",
    )
    PaymentProfile.objects.filter(user=bob).update(pending_change=change)
    with time_machine.travel("2030-04-15 00:00Z", tick=False):
        assert banner(client_for(bob).get(reverse("accounts:home")).content.decode()) == ""


def test_the_banner_costs_no_query(bob_on_card):
    bob = bob_on_card(4, 2030)

    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(reverse("accounts:account")).content.decode()
        return len(ctx), banner(html)

    with time_machine.travel("2030-04-15 00:00Z", tick=False):
        client = client_for(bob)  # a session of that day
        shown_count, shown = queries()
        PaymentProfile.objects.filter(user=bob).update(card_exp_year=2031)
        quiet_count, quiet = queries()
    assert shown and not quiet
    assert shown_count == quiet_count
