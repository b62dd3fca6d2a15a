from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing import notifications
from billing.models import Method, PaymentProfile, State
from billing.processor import CardError
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, db_snapshot, no_profile_saved, state_of, stripe_card

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}
CARD = stripe_card()


def queued() -> list:
    return [m.email for m in Message.objects.order_by("pk")]


def test_it_submits_an_invoice_profile_and_tells_the_admins(alice, dora, bob, betty):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.PENDING
    assert profile.company_name == "Acme Corp"
    assert profile.submitted_at is not None
    mails = queued()
    assert sorted(m.to[0] for m in mails) == ["alice@acme.example", "dora@acme.example"]
    assert "Bob User" in mails[0].subject
    assert "Invoice" in mails[0].body
    assert "http://" in mails[0].body and "/admin/users/?q=bob%40acme.example" in mails[0].body
    log = StateLog.objects.get()
    assert (log.source_state, log.state, log.by, log.transition) == (
        "none",
        "pending",
        bob,
        "submit",
    )


def test_it_keeps_the_payment_method_brand_last_four_and_expiry_of_the_card(alice, bob):
    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=CARD)

    profile = PaymentProfile.objects.get(user=bob)
    assert (profile.card_brand, profile.card_last4) == ("Visa", "4242")
    assert (profile.card_exp_month, profile.card_exp_year) == (4, 2039)
    assert profile.stripe_payment_method_id == CARD.payment_method
    assert profile.card_updated_at == CARD.read_at


def test_it_clears_the_other_methods_details_on_switch(alice, bob):
    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=CARD)
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.method == Method.INVOICE
    assert profile.stripe_payment_method_id == "" and profile.card_last4 == ""
    assert profile.card_exp_year is None and profile.card_updated_at is None


def test_it_refuses_credit_card_without_a_card_and_stores_nothing(alice, bob):
    with pytest.raises(CardError):
        payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=None)
    assert no_profile_saved()
    assert not Message.objects.exists()


def test_it_treats_a_repeated_identical_submit_as_one(alice, bob):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)

    assert StateLog.objects.count() == 1
    assert Message.objects.count() == 1


def test_it_activates_and_deactivates_with_who_and_why(alice, bob, make_profile):
    make_profile(bob, State.PENDING)

    payment_profile_activate(actor=alice, user=bob)
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE

    payment_profile_deactivate(actor=alice, user=bob, reason="Left the company")
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.INACTIVE
    assert profile.deactivation_reason == "Left the company"
    logs = list(StateLog.objects.order_by("pk").values_list("state", "by", "description"))
    assert logs == [("active", alice.pk, None), ("inactive", alice.pk, "Left the company")]
    subjects = [m.subject for m in queued()]
    assert subjects == [
        "[Acme] Your payment profile is active",
        "[Acme] Your payment profile has been deactivated",
    ]
    assert "Left the company" in queued()[1].body
    assert queued()[1].to == ["bob@acme.example"]


@pytest.mark.parametrize(
    ("state", "act", "message"),
    [
        (State.ACTIVE, "activate", "is already active"),
        (State.INACTIVE, "deactivate", "is already inactive"),
        (State.PENDING, "deactivate", "pending activation"),
        (State.NONE, "activate", "has not set up a payment profile"),
    ],
)
def test_it_refuses_a_transition_from_the_wrong_state(
    alice, bob, make_profile, state, act, message
):
    if state != State.NONE:  # NONE: the profile as it was made with bob
        make_profile(bob, state)
    service = payment_profile_activate if act == "activate" else payment_profile_deactivate
    with pytest.raises(PaymentProfileError, match=message):
        service(actor=alice, user=bob)
    assert PaymentProfile.objects.get(user=bob).state == state
    assert not StateLog.objects.exists()
    assert not Message.objects.exists()


def test_it_refuses_self_activation(alice, dora, make_profile):
    make_profile(alice, State.PENDING)
    with pytest.raises(PaymentProfileError, match="another admin must"):
        payment_profile_activate(actor=alice, user=alice)
    payment_profile_activate(actor=dora, user=alice)
    assert PaymentProfile.objects.get(user=alice).state == State.ACTIVE


def test_it_refuses_an_admin_of_another_tenant(charlie, bob, make_profile):
    make_profile(bob, State.PENDING)
    with pytest.raises(PaymentProfileError, match="not allowed"):
        payment_profile_activate(actor=charlie, user=bob)
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING


# act: (service, the notification it queues, a state it acts from)
ACTS = {
    "activate": (payment_profile_activate, "profile_activated", State.PENDING),
    "deactivate": (payment_profile_deactivate, "profile_deactivated", State.ACTIVE),
}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_it_queues_nothing_and_changes_nothing_when_the_transaction_rolls_back(
    alice, bob, make_profile, monkeypatch, act
):
    service, notification, start = ACTS[act]
    make_profile(bob, start)
    original = getattr(notifications, notification)

    def queue_then_fail(profile):
        original(profile)
        assert Message.objects.count() == 1  # queued inside the transaction...
        raise RuntimeError("the mail template broke")

    monkeypatch.setattr(notifications, notification, queue_then_fail)
    with pytest.raises(RuntimeError):
        service(actor=alice, user=bob)

    assert not Message.objects.exists()  # ...and rolled back with it
    assert state_of(bob) == start
    assert not StateLog.objects.exists()


def test_it_rolls_back_a_submit_with_its_mail(alice, bob):
    with pytest.raises(RuntimeError), transaction.atomic():
        payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
        raise RuntimeError("later step failed")
    assert no_profile_saved()
    assert not Message.objects.exists()


def test_a_legacy_card_keeps_its_state_and_details_until_its_owner_changes_it(
    alice, bob, make_profile
):
    """A card saved before Stripe (no PaymentMethod: billing.0009 emptied its local
    token) stays as it was; a new card from Stripe replaces it through a change."""
    make_profile(bob, State.ACTIVE, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(user=bob).update(stripe_payment_method_id="")
    new = stripe_card("Mastercard", "4444", 5, 2032, cardholder="Robert User")

    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=new)

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.ACTIVE  # the change waits beside it
    assert (profile.card_brand, profile.card_last4, profile.card_expiry) == (
        "Visa",
        "4242",
        "04/31",
    )
    change = profile.pending_change
    assert (change.stripe_payment_method_id, change.card_last4, change.card_expiry) == (
        new.payment_method,
        "4444",
        "05/32",
    )
    assert change.cardholder_name == "Robert User"


def test_it_takes_at_most_five_saves_an_hour_that_e_mail_the_admins(alice, bob):
    with time_machine.travel("2026-11-26 09:00Z", tick=False) as clock:
        for city in ("A", "B", "C", "D", "E"):
            payment_profile_submit(
                user=bob, method=Method.INVOICE, details={**INVOICE, "city": city}
            )
            clock.shift(timedelta(minutes=1))
        before = db_snapshot()
        with pytest.raises(PaymentProfileError, match="5 times in the last hour") as refused:
            payment_profile_submit(
                user=bob, method=Method.INVOICE, details={**INVOICE, "city": "F"}
            )
        assert "Try again after 10:00" in str(refused.value)
        assert db_snapshot() == before
        assert Message.objects.count() == 5

        clock.shift(timedelta(minutes=56))  # 10:01: the first save is an hour old
        payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "F"})
        assert PaymentProfile.objects.get(user=bob).city == "F"
