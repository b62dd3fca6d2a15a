"""The scheduled jobs (billing/jobs.py), with the clock moved, never slept: the
admins' daily digest, the reminders to set up a profile, the card warnings, and the
system deactivating a profile whose card expired. Each job runs far more often than
it sends, to show that a run sends only what is due, once. The race of two workers
on PostgreSQL is in tests/test_concurrency.py."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import Tenant, User
from billing.jobs import run_jobs
from billing.models import CARD_EXPIRED, Method, PaymentProfile, Reminder, State
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_change_approve,
    payment_profile_change_decline,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, client_for, make_user, stripe_card

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}
T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday morning


def sent() -> list[tuple[str, str]]:
    """(recipient, subject) of every queued e-mail, oldest first."""
    return [(m.to_addresses[0], m.subject) for m in Message.objects.order_by("pk")]


def sent_and_cleared() -> list[tuple[str, str]]:
    found = sent()
    Message.objects.all().delete()
    return found


def run_every(clock, step: timedelta, until: datetime, **kwargs) -> None:
    """Run every job at each `step` until `until`, as a worker would."""
    while datetime.now(UTC) < until:
        run_jobs(**kwargs)
        clock.shift(step)


def joined(user: User, at: datetime) -> User:
    User.objects.filter(pk=user.pk).update(date_joined=at)
    user.refresh_from_db()
    return user


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


# --- Digest -----------------------------------------------------------------------------


DIGEST = "[Acme] Daily digest"


def digests(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(to, subject) for to, subject in found if subject.startswith(DIGEST)]


def test_the_digest_goes_once_a_day_while_something_waits_and_resumes_once_after_downtime(
    clock, alice, dora, bob
):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    sent_and_cleared()  # the "awaits activation" e-mails of the save itself

    # Not yet waited 24 hours: nothing, however often the job runs.
    run_every(clock, timedelta(minutes=30), T0 + timedelta(hours=23, minutes=59))
    assert sent() == []

    clock.move_to(T0 + timedelta(hours=24, minutes=1))
    run_jobs()
    run_jobs()
    assert Counter(to for to, _ in digests(sent_and_cleared())) == {
        "alice@acme.example": 1,
        "dora@acme.example": 1,
    }

    # The rest of that day: nothing more; the next day: one again.
    run_every(clock, timedelta(minutes=30), datetime(2030, 1, 9, 0, 0, tzinfo=UTC))
    assert sent_and_cleared() == []
    run_every(clock, timedelta(minutes=30), datetime(2030, 1, 10, 0, 0, tzinfo=UTC))
    assert Counter(to for to, _ in digests(sent_and_cleared())) == {
        "alice@acme.example": 1,
        "dora@acme.example": 1,
    }

    # The worker is down for five days; back, it runs three times: one digest each.
    clock.move_to(datetime(2030, 1, 15, 10, 0, tzinfo=UTC))
    for _ in range(3):
        run_jobs()
    assert Counter(to for to, _ in digests(sent_and_cleared())) == {
        "alice@acme.example": 1,
        "dora@acme.example": 1,
    }
    assert Reminder.objects.filter(kind=Reminder.Kind.PENDING_DIGEST).count() == 3


def test_the_digest_lists_what_waits_oldest_first_with_how_long_and_a_link(
    clock, alice, acme, paid_plan, bob, make_profile, settings
):
    settings.SITE_URL = "https://ccm.example.test"
    carol = make_user("carol@acme.example", acme, plan=paid_plan, name="Carol Card")
    payment_profile_submit(user=carol, method=Method.INVOICE, details=INVOICE)
    make_profile(bob, State.ACTIVE)
    clock.shift(timedelta(hours=6))
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "Ogden"})
    Message.objects.all().delete()

    clock.move_to(T0 + timedelta(days=2))
    run_jobs(["pending_digest"])
    [message] = Message.objects.all()
    email = message.email
    assert email.to == ["alice@acme.example"]
    assert email.subject == (
        "[Acme] Daily digest: 2 payment profile requests waiting over 24 hours"
    )
    body = email.body
    assert body.index("Carol Card") < body.index("Bob User")  # oldest first
    assert (
        "Payment profile awaiting activation, waiting 2 days (since 2030-01-07 09:00 UTC)" in body
    )
    assert "Change awaiting approval, waiting 1 day 18 hours" in body
    assert "https://ccm.example.test/admin/users/?q=carol%40acme.example" in body.split()
    assert "https://ccm.example.test/admin/users/?q=bob%40acme.example" in body.split()
    html = email.alternatives[0][0]
    assert 'href="https://ccm.example.test/admin/users/?q=carol%40acme.example"' in html


def test_no_digest_when_nothing_waits_or_when_it_is_off(clock, alice, bob, acme):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    Message.objects.all().delete()
    Tenant.objects.filter(pk=acme.pk).update(pending_digest=False)
    clock.move_to(T0 + timedelta(days=3))
    run_jobs()
    assert digests(sent()) == []

    Tenant.objects.filter(pk=acme.pk).update(pending_digest=True, pending_digest_after_hours=96)
    run_jobs()
    assert digests(sent()) == []  # waited 72 hours, less than the tenant's 96
    assert not Reminder.objects.exists()  # nothing sent, nothing recorded


def test_an_admin_is_not_sent_their_own_profile(clock, alice, dora, acme, paid_plan):
    """Dora may not activate her own profile: her digest leaves it out, and with
    nothing else waiting she gets none."""
    User.objects.filter(pk=dora.pk).update(plan=paid_plan)
    payment_profile_submit(user=dora, method=Method.INVOICE, details=INVOICE)
    Message.objects.all().delete()
    clock.move_to(T0 + timedelta(days=2))
    run_jobs(["pending_digest"])
    assert [to for to, _ in sent()] == ["alice@acme.example"]


# --- Users who never set up a profile ---------------------------------------------------

SETUP = "[Acme] Reminder: set up your payment profile to use CloudCenter"


def test_a_user_held_without_a_profile_is_reminded_after_1_3_and_7_days_then_never(clock, bob):
    joined(bob, T0)
    days_sent = []
    # The clock in big steps: an hour before each day's reminder is due, at it, and
    # long after the last (the jobs run each time; an hourly run would add nothing).
    for hours in (0, 23, 24, 47, 71, 72, 167, 168, 169, 24 * 30):
        clock.move_to(T0 + timedelta(hours=hours))
        run_jobs()
        if sent_and_cleared():
            days_sent.append(hours / 24)
    assert days_sent == [1, 3, 7]
    assert list(
        Reminder.objects.filter(kind=Reminder.Kind.SETUP).values_list("key", flat=True)
    ) == [
        "1",
        "3",
        "7",
    ]
    # In the owner's timeline and the history, done by the system.
    html = client_for(bob).get(reverse("billing:profile_edit")).content.decode()
    assert "Reminded to set up a profile</strong> by the system" in html


def test_the_set_up_reminder_reads_what_to_do(clock, bob, settings):
    settings.SITE_URL = "https://ccm.example.test"
    joined(bob, T0 - timedelta(days=1))
    run_jobs(["setup_reminders"])
    [message] = Message.objects.all()
    assert message.to_addresses == ["bob@acme.example"]
    assert message.subject == SETUP
    assert "Your plan, Cloud Pro, is a paid subscription plan" in message.email.body
    assert "https://ccm.example.test/account/billing/" in message.email.body.split()


def test_a_worker_that_was_down_sends_one_reminder_not_three(clock, bob):
    joined(bob, T0 - timedelta(days=10))
    for _ in range(3):
        run_jobs()
    assert sent() == [("bob@acme.example", SETUP)]
    assert Reminder.objects.filter(kind=Reminder.Kind.SETUP).count() == 3
    clock.shift(timedelta(days=30))
    run_jobs()
    assert len(sent()) == 1


def test_no_set_up_reminder_when_off_saved_or_not_needed(clock, bob, betty, acme):
    joined(bob, T0 - timedelta(days=2))
    joined(betty, T0 - timedelta(days=2))  # bundles only: needs no profile
    Tenant.objects.filter(pk=acme.pk).update(setup_reminders=False)
    run_jobs()
    assert sent() == []
    Tenant.objects.filter(pk=acme.pk).update(setup_reminders=True)
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    Message.objects.all().delete()
    run_jobs(["setup_reminders"])
    assert sent() == []


# --- Cards that expire ----------------------------------------------------------------


def card_profile(make_profile, user: User, *, month: int, year: int, state=State.ACTIVE):
    profile = make_profile(user, state, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(pk=profile.pk).update(card_exp_month=month, card_exp_year=year)
    profile.refresh_from_db()
    return profile


WARNING = "[Acme] Your card expires 04/30: save a new one"


def test_the_owner_is_warned_30_and_7_days_before_the_card_ends_once_each(clock, bob, make_profile):
    # Good through April 2030: it stops being good on 1 May 2030, 00:00 (UTC: Acme's zone).
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 3, 1, tzinfo=UTC))
    warned_at = []
    while datetime.now(UTC) < datetime(2030, 5, 1, tzinfo=UTC):
        run_jobs(["card_warnings"])
        for _to, subject in sent_and_cleared():
            assert subject == WARNING
            warned_at.append(datetime.now(UTC))
        clock.shift(timedelta(hours=6))
    assert warned_at == [datetime(2030, 4, 1, tzinfo=UTC), datetime(2030, 4, 24, tzinfo=UTC)]


def test_a_card_warning_counts_to_the_end_of_the_month_in_the_tenants_zone(
    clock, bob, acme, make_profile
):
    """In Tokyo (UTC+9) April ends nine hours before it does in UTC."""
    Tenant.objects.filter(pk=acme.pk).update(time_zone="Asia/Tokyo")
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 3, 31, 14, 59, tzinfo=UTC))
    run_jobs(["card_warnings"])
    assert sent() == []
    clock.move_to(datetime(2030, 3, 31, 15, 0, tzinfo=UTC))  # 1 April, 00:00 in Tokyo
    run_jobs(["card_warnings"])
    [message] = Message.objects.all()
    assert "it is good until 2030-05-01 00:00 JST, 30 days from now" in message.email.body


def test_a_worker_that_was_down_sends_the_nearest_card_warning_only(clock, bob, make_profile):
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 4, 26, tzinfo=UTC))
    run_jobs()
    run_jobs()
    assert sent() == [("bob@acme.example", WARNING)]
    assert "5 days from now" in Message.objects.get().email.body
    assert Reminder.objects.filter(kind=Reminder.Kind.CARD_EXPIRING).count() == 2


def test_after_the_grace_period_the_system_deactivates_and_tells_the_user_and_the_admins(
    clock, alice, dora, bob, make_profile
):
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 5, 1, tzinfo=UTC))  # expired; grace: 7 days
    run_every(clock, timedelta(hours=1), datetime(2030, 5, 8, tzinfo=UTC), names=["card_expiry"])
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
    assert sent() == []

    run_jobs()  # 8 May, 00:00: the grace period has passed
    run_jobs()
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.INACTIVE
    assert profile.deactivation_reason == CARD_EXPIRED == "Card expired"
    assert profile.state_changed_by is None
    [entry] = StateLog.objects.filter(transition="expire")
    assert entry.by is None
    assert (entry.source_state, entry.state) == (State.ACTIVE, State.INACTIVE)
    assert entry.description.startswith("Card expired: Visa ending in 4242, expiry 04/30")
    assert sorted(sent()) == [
        ("alice@acme.example", "[Acme] Payment profile of Bob User deactivated: card expired"),
        ("bob@acme.example", "[Acme] Your payment profile has been deactivated: card expired"),
        ("dora@acme.example", "[Acme] Payment profile of Bob User deactivated: card expired"),
    ]
    Message.objects.all().delete()

    # Held at the gate, told why; the history names the system.
    gate = client_for(bob).get(reverse("billing:gate")).content.decode()
    assert "Reason: “Card expired”" in gate
    history = client_for(alice).get(reverse("billing:profile_history", args=[bob.pk]))
    assert "<td>Deactivated: card expired</td>" in history.content.decode()
    assert "<td>the system</td>" in history.content.decode()

    # An admin cannot activate it again on the ended card (the next run would
    # deactivate it): the refusal says why, and nothing changes.
    with pytest.raises(PaymentProfileError, match="has ended and its grace period is over"):
        payment_profile_activate(actor=alice, user=bob)
    assert PaymentProfile.objects.get(user=bob).state == State.INACTIVE
    assert sent() == []


def test_the_grace_period_is_the_tenants(clock, alice, bob, acme, make_profile):
    Tenant.objects.filter(pk=acme.pk).update(card_grace_days=0)
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 4, 30, 23, 59, tzinfo=UTC))
    run_jobs(["card_expiry"])
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
    clock.move_to(datetime(2030, 5, 1, tzinfo=UTC))
    run_jobs(["card_expiry"])
    assert PaymentProfile.objects.get(user=bob).state == State.INACTIVE


def new_card():
    return stripe_card("Mastercard", "4444", 9, 2033)


def test_a_new_card_saved_in_time_keeps_the_console_while_it_waits_and_once_approved(
    clock, alice, bob, make_profile
):
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 4, 20, tzinfo=UTC))
    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=new_card())
    Message.objects.all().delete()

    # The change waits through the expiry and the grace period: no warning (a new
    # card is saved), no deactivation (the admins still have to look at it).
    run_every(clock, timedelta(hours=6), datetime(2030, 5, 20, tzinfo=UTC))
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.ACTIVE and profile.pending_change is not None
    assert [s for _, s in sent() if "card" in s.lower()] == []
    assert client_for(bob).get(reverse("accounts:home")).status_code == 200

    payment_profile_change_approve(actor=alice, user=bob)
    run_jobs()
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.ACTIVE
    assert (profile.card_last4, profile.card_expiry) == ("4444", "09/33")


def test_a_declined_new_card_leaves_the_expired_one_to_be_deactivated(
    clock, alice, bob, make_profile
):
    card_profile(make_profile, bob, month=4, year=2030)
    clock.move_to(datetime(2030, 4, 20, tzinfo=UTC))
    payment_profile_submit(user=bob, method=Method.CREDIT_CARD, details={}, card=new_card())
    clock.move_to(datetime(2030, 5, 10, tzinfo=UTC))
    run_jobs(["card_expiry"])
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
    payment_profile_change_decline(actor=alice, user=bob, reason="Wrong cardholder")
    run_jobs(["card_expiry"])
    assert PaymentProfile.objects.get(user=bob).state == State.INACTIVE


# --- How the jobs are run ---------------------------------------------------------------


def test_the_mail_worker_runs_the_jobs_and_delivers_what_they_queue(
    clock, bob, mailoutbox, settings
):
    joined(bob, T0 - timedelta(days=1))
    call_command("mail_worker", "--once")
    assert [m.subject for m in mailoutbox] == [SETUP]
    call_command("mail_worker", "--once")
    assert len(mailoutbox) == 1


def test_the_mail_worker_can_leave_the_jobs_to_cron(clock, bob, mailoutbox):
    joined(bob, T0 - timedelta(days=1))
    call_command("mail_worker", "--once", "--no-jobs")
    assert mailoutbox == []
    call_command("run_jobs", "setup_reminders")
    assert sent() == [("bob@acme.example", SETUP)]
