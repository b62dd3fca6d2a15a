"""billing.processor against a real localstripe process (the ``card_payments``
fixture): the customer, SetupIntents and every outcome of confirming one, and the
checks the server makes before it saves a card (whose, succeeded, used once)."""

from __future__ import annotations

import pytest
from django_fsm_log.models import StateLog

from billing import processor
from billing.models import CardSetup, Method, PaymentProfile, State
from billing.processor import CardError
from billing.services import payment_profile_submit
from tests.helpers import no_profile_saved
from tests.processor import DECLINED, NEEDS_AUTHENTICATION, VISA, confirmed_setup


def test_it_makes_one_customer_per_user_and_keeps_its_id(card_payments, bob, betty):
    first = processor.customer_for(bob)
    assert first.startswith("cus_")
    assert processor.customer_for(bob) == first
    assert PaymentProfile.objects.get(user=bob).stripe_customer_id == first
    assert processor.customer_for(betty) != first


def test_it_starts_an_off_session_setup_intent_for_the_users_customer(card_payments, bob):
    started = processor.setup_intent_start(user=bob)

    intent = processor.client().v1.setup_intents.retrieve(started.setup_intent)
    assert intent.customer == PaymentProfile.objects.get(user=bob).stripe_customer_id
    assert intent.usage == "off_session"
    assert intent.status == "requires_payment_method"
    assert intent.metadata["ccm_purpose"] == "payment_information"
    assert started.client_secret.startswith(f"{started.setup_intent}_secret_")
    assert started.client_secret not in repr(started)


def test_it_reads_a_succeeded_card_from_stripe(card_payments, bob):
    started = processor.setup_intent_start(user=bob)
    answer = card_payments.confirm(started.client_secret, VISA, exp="04/39", name="Bob User")
    assert answer["status"] == "succeeded"

    card = processor.confirmed_card(user=bob, setup_intent_id=started.setup_intent)

    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("Visa", "4242", 4, 2039)
    assert card.payment_method.startswith("pm_") and card.cardholder == "Bob User"
    assert card.setup_intent == started.setup_intent


def test_it_waits_for_the_bank_then_takes_a_completed_authentication(card_payments, bob):
    started = processor.setup_intent_start(user=bob)
    answer = card_payments.confirm(started.client_secret, NEEDS_AUTHENTICATION)
    assert answer["status"] == "requires_action"

    with pytest.raises(CardError, match="not confirmed with your bank"):
        processor.confirmed_card(user=bob, setup_intent_id=started.setup_intent)

    assert card_payments.authenticate(started.client_secret, complete=True)["status"] == (
        "succeeded"
    )
    card = processor.confirmed_card(user=bob, setup_intent_id=started.setup_intent)
    assert card.last4 == "3184"


def test_it_refuses_a_failed_authentication(card_payments, bob):
    started = processor.setup_intent_start(user=bob)
    card_payments.confirm(started.client_secret, NEEDS_AUTHENTICATION)
    assert card_payments.authenticate(started.client_secret, complete=False)["status"] == (
        "canceled"
    )

    with pytest.raises(CardError, match="not confirmed with your bank"):
        processor.confirmed_card(user=bob, setup_intent_id=started.setup_intent)


def test_it_refuses_a_declined_card(card_payments, bob):
    started = processor.setup_intent_start(user=bob)
    answer = card_payments.confirm(started.client_secret, DECLINED)
    assert answer["status"] == 402 and answer["error"]["code"] == "card_declined"

    with pytest.raises(CardError, match="not confirmed with your bank"):
        processor.confirmed_card(user=bob, setup_intent_id=started.setup_intent)


def test_it_refuses_a_setup_intent_of_another_customer(card_payments, alice, bob, betty):
    bettys = confirmed_setup(betty, card_payments)
    processor.customer_for(bob)

    with pytest.raises(CardError, match="does not belong to you"):
        processor.confirmed_card(user=bob, setup_intent_id=bettys)
    # Nor before bob has a customer at all.
    with pytest.raises(CardError, match="does not belong to you"):
        processor.confirmed_card(user=alice, setup_intent_id=bettys)


def test_it_refuses_a_setup_intent_that_does_not_exist(card_payments, bob):
    processor.customer_for(bob)
    with pytest.raises(CardError, match="not confirmed"):
        processor.confirmed_card(user=bob, setup_intent_id="seti_nosuchthing")


def test_it_saves_a_setup_intent_once_and_refuses_it_after_the_details_moved_on(
    card_payments, alice, bob
):
    seti = confirmed_setup(bob, card_payments)
    card = processor.confirmed_card(user=bob, setup_intent_id=seti)

    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=card)
    # The same form again (a double click): nothing new.
    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=card)
    assert StateLog.objects.filter(transition="submit").count() == 1
    assert CardSetup.objects.get().setup_intent_id == seti

    # Replaced by an invoice, then the old confirmation sent again: refused.
    from tests.helpers import INVOICE_POST

    details = {k: v for k, v in INVOICE_POST.items() if k != "method"}
    payment_profile_submit(user=bob, method=Method.INVOICE, details=details)
    again = processor.confirmed_card(user=bob, setup_intent_id=seti)
    with pytest.raises(CardError, match="already used"):
        payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=again)
    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.method) == (State.PENDING, Method.INVOICE)


def test_it_says_so_when_stripe_cannot_be_reached(settings, bob):
    # stripe_test_keys points the app at a port where nothing listens.
    with pytest.raises(CardError, match="could not be checked"):
        processor.setup_intent_start(user=bob)
    assert no_profile_saved()


def test_it_says_card_payments_are_not_set_up_without_keys(settings, bob):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CardError, match="not set up"):
        processor.setup_intent_start(user=bob)
