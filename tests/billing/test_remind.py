"""Remind my admins: while a profile or a change waits, at most once per 24 hours,
with the time moved, never slept."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.models import Method, PaymentProfile, State
from billing.services import (
    PaymentProfileError,
    payment_profile_remind_admins,
    payment_profile_submit,
    remind_available_at,
)
from tests.helpers import INVOICE_POST, client_for, db_snapshot

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def reminders() -> list:
    return [m.email for m in Message.objects.order_by("pk") if "Reminder" in m.email.subject]


def test_it_reminds_the_admins_once_a_day(alice, dora, bob, make_profile):
    make_profile(bob, State.PENDING)
    with time_machine.travel("2026-11-26 09:00Z", tick=False) as clock:
        payment_profile_remind_admins(user=bob)
        assert sorted(m.to[0] for m in reminders()) == ["alice@acme.example", "dora@acme.example"]
        assert "Bob User" in reminders()[0].body and "pending activation" in reminders()[0].body

        clock.shift(timedelta(hours=23, minutes=59))
        before = db_snapshot()
        with pytest.raises(PaymentProfileError, match="less than 24 hours ago"):
            payment_profile_remind_admins(user=bob)
        assert db_snapshot() == before

        clock.shift(timedelta(minutes=1))
        assert remind_available_at(PaymentProfile.objects.get(user=bob)) is None
        payment_profile_remind_admins(user=bob)
        assert len(reminders()) == 4
    assert [e.transition for e in StateLog.objects.order_by("pk")] == ["remind", "remind"]


def test_it_reminds_about_a_waiting_change(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "Ogden"})
    payment_profile_remind_admins(user=bob)
    (mail,) = reminders()
    assert "a change of their billing details awaits approval" in mail.body


@pytest.mark.parametrize("state", [State.NONE, State.ACTIVE, State.INACTIVE])
def test_there_is_nothing_to_remind_when_nothing_waits(alice, bob, make_profile, state):
    make_profile(bob, state)
    with pytest.raises(PaymentProfileError, match="nothing to remind"):
        payment_profile_remind_admins(user=bob)
    assert not Message.objects.exists()


def test_the_button_says_when_it_can_be_used_again(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    client = client_for(bob)
    with time_machine.travel("2026-11-26 09:00Z", tick=False):
        gate = client.get(reverse("billing:gate")).content.decode()
        assert "Remind my admins" in gate and "at most once a day" in gate
        response = client.post(
            reverse("billing:profile_remind"), {"next": "/payment-profile-required/"}
        )
        assert response["Location"] == "/payment-profile-required/"
        page = client.get(reverse("billing:gate")).content.decode()
        assert "You can remind them again after" in page and "2026-11-27 09:00" in page
        # A second press (a double click, a stale page) sends nothing.
        response = client.post(reverse("billing:profile_remind"), follow=True)
        assert "less than 24 hours ago" in response.content.decode()
    assert len(reminders()) == 1
