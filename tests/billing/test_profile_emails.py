"""The e-mails about a profile on its history page: each one is recorded as it is
queued (``ProfileEmail``, in the act's transaction), and shown with its delivery
status read from django-mailer's queue and log. Delivery over a real SMTP server,
queued → deferred → delivered, is in tests/test_smtp.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from mailer.engine import send_all
from mailer.models import RESULT_SUCCESS, Message, MessageLog

from billing.jobs import run_jobs
from billing.models import Method, ProfileEmail, State
from billing.selectors import Delivery, profile_emails
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_decline,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, client_for

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def url(user) -> str:
    return reverse("billing:profile_history", args=[user.pk])


def email_rows(html: str) -> list[list[str]]:
    table = html.split('aria-label="E-mails about this profile"')[1].split("</table>")[0]
    body = table.split("<tbody>")[1]
    return [
        [
            " ".join(re.sub(r"<[^>]+>", "", cell).split())
            for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_every_email_about_the_profile_is_recorded_with_its_queue_row(alice, dora, bob):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)  # to the admins
    payment_profile_decline(actor=alice, user=bob, reason="Wrong company")  # to bob
    emails = list(ProfileEmail.objects.order_by("pk"))
    assert [(e.to, e.template) for e in emails] == [
        ("alice@acme.example", "profile_submitted"),
        ("dora@acme.example", "profile_submitted"),
        ("bob@acme.example", "profile_declined"),
    ]
    queued = {m.pk: m for m in Message.objects.all()}
    for email in emails:
        message = queued[email.message_pk]
        assert message.when_added == email.queued_at
        assert message.email.extra_headers["Message-ID"] == email.message_id
        assert message.subject == email.subject
    assert {e.profile_id for e in emails} == {bob.payment_profile.pk}


def test_an_act_refused_or_rolled_back_records_no_email(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    with pytest.raises(PaymentProfileError):
        payment_profile_activate(actor=alice, user=bob)  # already active
    assert not ProfileEmail.objects.exists()
    assert not Message.objects.exists()


def test_the_scheduled_jobs_emails_are_recorded_too(bob):
    """The set-up reminder (a scheduled job) is about bob's profile."""
    with time_machine.travel(bob.date_joined + timedelta(days=1, hours=1), tick=False):
        run_jobs(["setup_reminders"])
    [email] = ProfileEmail.objects.all()
    assert (email.to, email.template) == ("bob@acme.example", "setup_reminder")


class FlakyBackend:
    """A delivery backend that fails while `down`, then takes every message."""

    down = True
    sent: list = []

    def __init__(self, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        if FlakyBackend.down:
            raise ConnectionRefusedError("the server is down")
        FlakyBackend.sent += messages
        return len(messages)


def test_the_page_shows_queued_then_deferred_then_delivered(alice, bob, settings, make_profile):
    """With django-mailer's own engine and a backend that fails, then works."""
    settings.MAILER_EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.sent = []
    make_profile(bob, State.PENDING)
    payment_profile_activate(actor=alice, user=bob)
    client = client_for(alice)

    def status() -> str:
        return email_rows(client.get(url(bob)).content.decode())[0][3]

    assert status() == "Queued"
    FlakyBackend.down = True
    send_all()
    assert status().startswith("Deferred 1 failed attempt, the latest ")
    Message.objects.retry_deferred()
    send_all()
    assert status().startswith("Deferred 2 failed attempts, the latest ")
    FlakyBackend.down = False
    Message.objects.retry_deferred()
    send_all()
    assert status().startswith("Delivered ")
    assert len(FlakyBackend.sent) == 1


def test_a_delivered_email_whose_log_was_purged_left_the_queue(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    payment_profile_activate(actor=alice, user=bob)
    send_all()  # the test backend (locmem) takes it
    assert MessageLog.objects.filter(result=RESULT_SUCCESS).count() == 1
    [email] = profile_emails(bob.payment_profile)[0]
    assert email.delivery == Delivery.DELIVERED
    MessageLog.objects.all().delete()  # what `manage.py purge_mail_log` does to old ones
    [email] = profile_emails(bob.payment_profile)[0]
    assert email.delivery == Delivery.GONE
    row = email_rows(client_for(alice).get(url(bob)).content.decode())[0]
    assert row[3] == (
        "Left the queue with no delivery record: delivered and its record purged, "
        "or deleted by an operator"
    )


def test_two_messages_queued_at_the_same_moment_keep_their_own_status(alice, dora, bob):
    """The log is read by time queued and Message-ID together: the two admins' copies
    of one e-mail share the moment, not the Message-ID."""
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    alice_copy = Message.objects.get(pk=ProfileEmail.objects.get(to=alice.email).message_pk)
    MessageLog.objects.log(alice_copy, RESULT_SUCCESS)
    alice_copy.delete()
    shown = {e.to: e.delivery for e in profile_emails(bob.payment_profile)[0]}
    assert shown == {alice.email: Delivery.DELIVERED, dora.email: Delivery.QUEUED}


def test_the_page_shows_the_latest_twenty_and_how_many_in_all(
    alice, bob, make_profile, django_assert_max_num_queries
):
    for _ in range(25):
        make_profile(bob, State.PENDING)
        payment_profile_activate(actor=alice, user=bob)
    total = ProfileEmail.objects.count()
    assert total == 25
    client = client_for(alice)
    with django_assert_max_num_queries(10):
        html = client.get(url(bob)).content.decode()
    assert len(email_rows(html)) == 20
    assert f"The latest 20 of {total} e-mails." in html


def test_no_emails_yet(alice, bob):
    html = client_for(alice).get(url(bob)).content.decode()
    assert "No e-mails about this profile yet." in html
