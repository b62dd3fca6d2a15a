"""Stripe's webhook (/webhooks/stripe/): events of Stripe's documented shapes, signed
as Stripe signs them (tests/processor.py). localstripe sends no setup_intent.* or
payment_method.* events, so these tests build them; a setup_intent event is built
around a SetupIntent that is real in localstripe."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.jobs import run_jobs
from billing.models import CARD_REMOVED, Method, PaymentProfile, ProcessorEvent, State
from billing.processor import setup_intent_start
from billing.selectors import profile_history_entries
from tests.helpers import card_post, changed_tables, client_for, db_snapshot
from tests.processor import (
    NEEDS_AUTHENTICATION,
    event,
    payment_method,
    signature,
)

URL = reverse("billing:stripe_webhook")
PM = "pm_1BobsCardAtStripe"


def mails_to(address: str) -> list:
    return [m.email for m in Message.objects.order_by("pk") if m.email.to == [address]]


def send(evt: dict, *, sign: str | None = None, at: int | None = None):
    payload = json.dumps(evt).encode()
    header = signature(payload, at=at) if sign is None else sign
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    return Client().post(URL, data=payload, content_type="application/json", **extra)


@pytest.fixture
def bobs_card(bob, make_profile):
    """Bob's active card profile: Visa ending in 4242, expiry 04/31, at Stripe as PM."""
    profile = make_profile(bob, State.ACTIVE, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(pk=profile.pk).update(
        stripe_payment_method_id=PM,
        stripe_customer_id="cus_bob",
        card_updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return PaymentProfile.objects.get(pk=profile.pk)


def updated(exp_month: int, exp_year: int, *, created: int, last4: str = "4242") -> dict:
    card = payment_method(
        PM, customer="cus_bob", exp_month=exp_month, exp_year=exp_year, last4=last4
    )
    return event("payment_method.automatically_updated", card, created=created)


def test_the_card_updater_changes_the_expiry_and_the_warnings_follow(alice, bob, bobs_card):
    now = int(time.time())
    response = send(updated(9, 2034, created=now, last4="1881"))

    assert response.status_code == 200
    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.card_exp_month, profile.card_exp_year, profile.card_last4) == (9, 2034, "1881")
    assert profile.state == State.ACTIVE
    (entry,) = profile_history_entries(profile, limit=1)
    assert entry.transition == "card_update" and entry.by is None
    assert entry.who == "the payment processor"
    assert "Visa ending in 4242, expiry 04/31 → Visa ending in 1881, expiry 09/34" in (
        entry.description
    )
    # The old expiry's warnings and deactivation are gone; the new one's come.
    with time_machine.travel(datetime(2031, 4, 20, 12, tzinfo=UTC), tick=False):
        assert run_jobs(["card_warnings", "card_expiry"]) == {"card_warnings": 0, "card_expiry": 0}
    with time_machine.travel(datetime(2031, 6, 1, 12, tzinfo=UTC), tick=False):
        assert run_jobs(["card_expiry"]) == {"card_expiry": 0}
    with time_machine.travel(datetime(2034, 9, 5, 12, tzinfo=UTC), tick=False):
        assert run_jobs(["card_warnings"]) == {"card_warnings": 1}
    assert "09/34" in mails_to("bob@acme.example")[-1].body
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE


def test_a_detached_card_deactivates_the_profile_as_an_expired_one_does(
    alice, dora, bob, bobs_card, mailoutbox
):
    detached = payment_method(PM, customer=None)
    response = send(event("payment_method.detached", detached, previous={"customer": "cus_bob"}))

    assert response.status_code == 200
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.INACTIVE
    assert profile.deactivation_reason == CARD_REMOVED
    assert profile.card_removed
    log = StateLog.objects.filter(transition="remove_card").get()
    assert log.by is None and log.description.startswith(CARD_REMOVED)
    to = sorted(m.email.to[0] for m in Message.objects.all())
    assert to == ["alice@acme.example", "bob@acme.example", "dora@acme.example"]
    (bobs,) = mails_to("bob@acme.example")
    assert "deactivated: card removed" in bobs.subject
    assert "removed at the payment processor" in bobs.body


def test_a_replayed_event_is_processed_once(alice, bob, bobs_card):
    evt = updated(9, 2034, created=int(time.time()))
    assert send(evt).status_code == 200
    PaymentProfile.objects.filter(user=bob).update(card_exp_year=2031)  # as if changed since
    assert send(evt).status_code == 200

    assert PaymentProfile.objects.get(user=bob).card_exp_year == 2031
    assert StateLog.objects.filter(transition="card_update").count() == 1
    assert ProcessorEvent.objects.filter(event_id=evt["id"]).count() == 1


def test_an_older_event_that_comes_late_changes_nothing(alice, bob, bobs_card):
    now = int(time.time())
    newer, older = updated(11, 2035, created=now), updated(5, 2033, created=now - 60)

    assert send(newer).status_code == 200
    assert send(older).status_code == 200

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.card_exp_month, profile.card_exp_year) == (11, 2035)
    assert profile.card_updated_at == datetime.fromtimestamp(now, UTC)
    assert StateLog.objects.filter(transition="card_update").count() == 1
    # Processed (acknowledged, not sent again), but overwrote nothing.
    assert ProcessorEvent.objects.count() == 2


def test_an_event_from_before_the_card_was_saved_changes_nothing(alice, bob, bobs_card):
    before_save = int(datetime(2025, 12, 31, tzinfo=UTC).timestamp())
    evt = updated(5, 2033, created=before_save)
    # Signed now (Stripe retries for days), but about data older than ours.
    assert send(evt).status_code == 200
    assert PaymentProfile.objects.get(user=bob).card_exp_year == 2031


@pytest.mark.parametrize(
    "sign",
    ["t=1,v1=00", "v1=deadbeef", "", "garbage"],
    ids=["wrong", "no-time", "missing", "garbage"],
)
def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(alice, bob, bobs_card, sign):
    before = db_snapshot()
    response = send(updated(9, 2034, created=int(time.time())), sign=sign)

    assert response.status_code == 400
    assert not changed_tables(before, db_snapshot())
    assert not ProcessorEvent.objects.exists()


def test_a_signature_by_another_secret_is_refused(alice, bob, bobs_card):
    evt = updated(9, 2034, created=int(time.time()))
    payload = json.dumps(evt).encode()
    forged = signature(payload, secret="whsec_someone_else")
    response = Client().post(
        URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=forged
    )
    assert response.status_code == 400
    assert PaymentProfile.objects.get(user=bob).card_exp_year == 2031


def test_a_stale_signature_is_refused(alice, bob, bobs_card):
    stale = int(time.time()) - 3600
    response = send(updated(9, 2034, created=stale), at=stale)
    assert response.status_code == 400
    assert PaymentProfile.objects.get(user=bob).card_exp_year == 2031


def test_a_body_that_is_no_event_is_refused(bob):
    payload = b"\xff\xfe not json"
    response = Client().post(
        URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(payload),
    )
    assert response.status_code == 400


def test_it_acknowledges_and_ignores_an_event_it_does_not_handle(bob):
    response = send(event("customer.created", {"id": "cus_x", "object": "customer"}))
    assert response.status_code == 200
    assert not ProcessorEvent.objects.exists()


def test_it_takes_post_only_and_needs_no_csrf_token(bob):
    assert Client().get(URL).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    payload = json.dumps(event("customer.created", {"id": "cus_x"})).encode()
    response = strict.post(
        URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature(payload)
    )
    assert response.status_code == 200


def _late_bank(card_payments, bob):
    """Bob entered a card that asks for the bank's check and left the page; the bank
    said yes afterwards. Returns the SetupIntent as Stripe's event carries it."""
    started = setup_intent_start(user=bob)
    card_payments.confirm(started.client_secret, NEEDS_AUTHENTICATION)
    card_payments.authenticate(started.client_secret, complete=True)
    from billing.processor import client

    return client().v1.setup_intents.retrieve(started.setup_intent).to_dict()


def test_a_card_the_bank_confirms_after_the_page_closed_is_saved_once(card_payments, alice, bob):
    intent = _late_bank(card_payments, bob)
    evt = event("setup_intent.succeeded", intent)

    assert send(evt).status_code == 200

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.state, profile.method, profile.card_last4) == (
        State.PENDING,
        Method.CREDIT_CARD,
        "3184",
    )
    log = StateLog.objects.get(transition="submit")
    assert log.by == bob and log.description.endswith("(via Stripe)")
    assert len(mails_to("alice@acme.example")) == 1
    # The form arrives after all (the page had stayed open): the same save, nothing new.
    response = client_for(bob).post(
        reverse("billing:profile_edit"), card_post(intent["id"]), follow=True
    )
    assert "pending activation" in response.content.decode()
    assert StateLog.objects.filter(transition="submit").count() == 1
    assert len(mails_to("alice@acme.example")) == 1


def test_a_setup_intent_made_elsewhere_is_not_saved(card_payments, alice, bob):
    intent = _late_bank(card_payments, bob)
    intent["metadata"] = {}
    assert send(event("setup_intent.succeeded", intent)).status_code == 200
    assert PaymentProfile.objects.get(user=bob).state == State.NONE


def test_a_card_the_bank_refuses_after_the_page_closed_is_noted(card_payments, bob):
    started = setup_intent_start(user=bob)
    customer = PaymentProfile.objects.get(user=bob).stripe_customer_id
    intent = {
        "id": started.setup_intent,
        "object": "setup_intent",
        "customer": customer,
        "status": "requires_payment_method",
        "usage": "off_session",
        "metadata": {"ccm_purpose": "payment_information"},
        "last_setup_error": {
            "code": "setup_intent_authentication_failure",
            "message": "The latest attempt to set up the payment method has failed because "
            "authentication failed.",
            "type": "invalid_request_error",
        },
    }
    assert send(event("setup_intent.setup_failed", intent)).status_code == 200

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.NONE
    (entry,) = profile_history_entries(profile)
    assert entry.transition == "card_setup_fail" and "authentication failed" in entry.description


def test_a_waiting_change_follows_the_card_updater_and_is_dropped_when_its_card_goes(
    alice, bob, bobs_card
):
    from billing.services import payment_profile_submit
    from tests.helpers import stripe_card

    new = stripe_card("Mastercard", "4444", 9, 2035)
    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=new)
    later = int(time.time()) + 5
    moved = payment_method(new.payment_method, customer="cus_bob", exp_month=1, exp_year=2036)
    assert send(event("payment_method.updated", moved, created=later)).status_code == 200

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.card_exp_year == 2031  # the card in force is another one
    assert profile.pending_change.card_expiry == "01/36"
    gone = payment_method(new.payment_method, customer=None)
    assert send(event("payment_method.detached", gone)).status_code == 200

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.ACTIVE and profile.pending_change is None
    drop = StateLog.objects.filter(transition="change_drop").get()
    assert drop.by is None and "removed at the payment processor" in drop.description


def test_a_detached_card_of_a_pending_profile_is_noted_in_its_history(alice, bob, bobs_card):
    PaymentProfile.objects.filter(user=bob).update(state=State.PENDING)
    assert (
        send(event("payment_method.detached", payment_method(PM, customer=None))).status_code == 200
    )
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.PENDING
    (entry,) = profile_history_entries(profile)
    assert entry.transition == "card_detach" and entry.who == "the payment processor"
    assert not Message.objects.exists()
