"""Races on PostgreSQL: many connections acting on the same payment profiles at once.

SQLite serialises every writer on one file lock, so a race there proves nothing;
these tests run only on PostgreSQL (CI runs the suite there through DATABASE_URL).
Each thread has its own connection (Django keeps one per thread) and closes it at
the end, and ``transaction=True`` lets the threads see each other's commits.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import User
from billing.bulk import bulk_claim, bulk_process, bulk_start
from billing.jobs import run_jobs
from billing.models import (
    BulkAction,
    Method,
    PaymentProfile,
    Reminder,
    State,
    card_expires_at,
)
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_change_approve,
    payment_profile_deactivate,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, client_for, make_user, operator_env, run_bulk

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="races need PostgreSQL's row locks; set DATABASE_URL=postgres://… to run them",
    ),
]

THREADS = 4
ROUNDS_PER_THREAD = 75  # 300 acts in all
INVOICE_DETAILS = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def run_in_threads(workers: list[Callable[[], None]], timeout: float = 60) -> list[BaseException]:
    """Run each callable in its own thread with its own DB connection; return what
    escaped them (a test's own bookkeeping errors, not the app's)."""
    escaped: list[BaseException] = []

    def wrap(work):
        def run():
            try:
                work()
            except BaseException as error:  # reported by the test, not swallowed
                escaped.append(error)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrap(work)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing thread hung (deadlock?)"
    return escaped


def shown_messages(html: str) -> list[str]:
    """The flash messages on a page, as read out (role "alert"). That a refusal is
    an error message: tests/billing/test_profile_actions.py."""
    return [" ".join(text.split()) for text in re.findall(r'role="alert">(.*?)<', html, re.S)]


def log_of(profile: PaymentProfile) -> list[StateLog]:
    return list(
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(PaymentProfile), object_id=profile.pk
        ).order_by("pk")
    )


@pytest.fixture
def racers(acme, paid_plan, alice, dora):
    """Three users with pending profiles (submitted through the service, so the log
    starts with their submit) and the two admins who will fight over them."""
    users = [
        make_user(f"racer{i}@acme.example", acme, plan=paid_plan, name=f"Racer {i}")
        for i in range(3)
    ]
    for user in users:
        payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
    Message.objects.all().delete()
    return users, [alice, dora]


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_transition_when_admins_race_activate_and_deactivate(racers):
    users, admins = racers
    outcomes: list[tuple[int, str, str]] = []  # (user pk, act, "ok" | "refused")
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    # The same user for every thread in a round, so every round is a real collision.
    schedule = [users[r % len(users)] for r in range(ROUNDS_PER_THREAD)]

    def worker(seed: int) -> Callable[[], None]:
        rng = random.Random(seed)
        actor = admins[seed % len(admins)]

        def work():
            for user in schedule:
                act = rng.choice(("activate", "deactivate"))
                barrier.wait(timeout=30)
                try:
                    if act == "activate":
                        payment_profile_activate(actor=actor, user=user, note="race")
                    else:
                        payment_profile_deactivate(actor=actor, user=user, reason="race")
                except PaymentProfileError:
                    result = "refused"
                except Exception as error:  # anything else is a bug: collect, don't stop
                    with lock:
                        unexpected.append(error)
                    continue
                else:
                    result = "ok"
                with lock:
                    outcomes.append((user.pk, act, result))

        return work

    escaped = run_in_threads([worker(seed) for seed in range(THREADS)])
    assert escaped == []
    assert unexpected == [], f"losers must get PaymentProfileError, got {unexpected[:3]!r}"
    assert len(outcomes) == THREADS * ROUNDS_PER_THREAD

    committed = Counter((pk, act) for pk, act, result in outcomes if result == "ok")
    refused = sum(1 for *_, result in outcomes if result == "refused")
    assert sum(committed.values()) > 0 and refused > 0, "the race never collided"

    for user in users:
        profile = PaymentProfile.objects.get(user=user)
        entries = log_of(profile)
        assert entries[0].transition == "submit"
        acts = entries[1:]
        # Every committed act is logged exactly once, and nothing else is.
        assert Counter(e.transition for e in acts) == Counter(
            {act: n for (pk, act), n in committed.items() if pk == user.pk}
        )
        # No lost update: each entry starts where the previous one ended, so no two
        # admins ever moved the profile from the same state.
        replayed = entries[0].state
        for entry in acts:
            assert entry.source_state == replayed, f"log broken at {entry.pk}"
            replayed = entry.state
        assert profile.state == replayed
        assert all(e.by_id in {a.pk for a in admins} for e in acts)

    # One e-mail per committed act: the queue rows commit with the transitions.
    assert Message.objects.count() == sum(committed.values())


@pytest.mark.django_db(transaction=True)
def test_it_creates_one_profile_when_the_same_user_submits_twice_at_once(acme, paid_plan, dora):
    users = [
        make_user(f"twice{i}@acme.example", acme, plan=paid_plan, name=f"Twice {i}")
        for i in range(5)
    ]
    unexpected: list[BaseException] = []

    for user in users:
        barrier = threading.Barrier(2)

        def submit(user=user, barrier=barrier):
            barrier.wait(timeout=30)
            try:
                payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
            except Exception as error:
                unexpected.append(error)

        assert run_in_threads([submit, submit]) == []

    assert unexpected == []
    for user in users:
        profiles = PaymentProfile.objects.filter(user=user)
        assert profiles.count() == 1
        profile = profiles.get()
        assert profile.state == State.PENDING
        # The second save had nothing new: one submit logged, one e-mail to the admin.
        assert [e.transition for e in log_of(profile)] == ["submit"]
    assert Message.objects.count() == len(users)


@pytest.mark.django_db(transaction=True)
def test_it_answers_both_pages_when_the_same_user_posts_the_form_twice_at_once(
    acme, paid_plan, dora
):
    user = make_user("pages@acme.example", acme, plan=paid_plan, name="Pages Twice")
    clients = [client_for(user), client_for(user)]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def post(client):
        def run():
            barrier.wait(timeout=30)
            statuses.append(client.post(reverse("billing:profile_edit"), INVOICE_POST).status_code)

        return run

    assert run_in_threads([post(c) for c in clients]) == []
    assert statuses == [302, 302]
    assert PaymentProfile.objects.filter(user=user).count() == 1
    assert PaymentProfile.objects.get(user=user).state == State.PENDING


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["activate", "deactivate"])
def test_it_lets_one_of_two_admins_act_on_the_same_row_from_the_users_page(
    acme, paid_plan, alice, dora, action
):
    """Alice and Dora both press Save (or OK) on the same row at the same moment: one
    transition, and the other admin is told why nothing happened, not shown a 500."""
    users = [
        make_user(f"row{i}@acme.example", acme, plan=paid_plan, name=f"Row {i}") for i in range(5)
    ]
    for user in users:
        payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
        if action == "deactivate":
            payment_profile_activate(actor=alice, user=user)
    admin_clients = [client_for(alice), client_for(dora)]
    data = {"reason": "Invoice overdue"} if action == "deactivate" else {}
    target_state = State.ACTIVE if action == "activate" else State.INACTIVE

    for user in users:
        responses = []
        barrier = threading.Barrier(2)
        url = reverse(f"billing:profile_{action}", args=[user.pk])

        def post(client, url=url, barrier=barrier, responses=responses):
            def run():
                barrier.wait(timeout=30)
                responses.append(client.post(url, data, follow=True))

            return run

        assert run_in_threads([post(c) for c in admin_clients]) == []
        assert [r.status_code for r in responses] == [200, 200]
        assert all(r.redirect_chain[0][0] == reverse("billing:user_list") for r in responses)
        # Read from the pages themselves: the test client's captured context is not
        # thread-safe (both clients hear every template rendered meanwhile).
        said = sorted(shown_messages(r.content.decode()) for r in responses)
        assert said == [
            [f"Payment profile of {user} {action}d."],
            [f"The payment profile of {user} is already {target_state}."],
        ], said
        profile = PaymentProfile.objects.get(user=user)
        assert profile.state == target_state
        expected = ["submit", "activate"] + (["deactivate"] if action == "deactivate" else [])
        assert [e.transition for e in log_of(profile)] == expected


def _active_with_change(user, admin) -> PaymentProfile:
    payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
    payment_profile_activate(actor=admin, user=user)
    payment_profile_submit(
        user=user, method=Method.INVOICE, details={**INVOICE_DETAILS, "city": "Shelbyville"}
    )
    return PaymentProfile.objects.get(user=user)


@pytest.mark.django_db(transaction=True)
def test_two_admins_reviewing_one_change_end_in_one_outcome(acme, paid_plan, alice, dora):
    """Alice approves and Dora declines the same change at the same moment, through
    the Users page's Review change: one decision is taken, the other admin reads why
    nothing happened."""
    users = [
        make_user(f"review{i}@acme.example", acme, plan=paid_plan, name=f"Review {i}")
        for i in range(5)
    ]
    for user in users:
        profile = _active_with_change(user, alice)
        change = profile.pending_change_id
        url = reverse("billing:profile_change_review", args=[user.pk])
        posts = [
            (client_for(alice), {"decision": "approve", "change": change}),
            (client_for(dora), {"decision": "decline", "change": change, "reason": "No"}),
        ]
        responses = []
        barrier = threading.Barrier(2)

        def post(client, data, url=url, barrier=barrier, responses=responses):
            def run():
                barrier.wait(timeout=30)
                responses.append(client.post(url, data, follow=True))

            return run

        assert run_in_threads([post(c, d) for c, d in posts]) == []
        said = sorted(m for r in responses for m in shown_messages(r.content.decode()))
        assert len(said) == 2, said
        refused = [text for text in said if "approved, declined or withdrawn meanwhile" in text]
        decided = [text for text in said if text.endswith(("is approved.", "is declined."))]
        assert len(refused) == 1 and len(decided) == 1, said
        profile = PaymentProfile.objects.get(user=user)
        assert profile.pending_change_id is None and profile.state == State.ACTIVE
        decisions = [e.transition for e in log_of(profile)][-1:]
        assert decisions in (["change_approve"], ["change_decline"])
        assert profile.city == ("Shelbyville" if decisions == ["change_approve"] else "Springfield")


@pytest.mark.django_db(transaction=True)
def test_approving_while_the_user_replaces_the_change_takes_one_or_refuses(acme, paid_plan, alice):
    """The admin approves the change they saw while its owner replaces it: either the
    approval lands first (and the replacement then waits as a new change), or the
    replacement does and the approval is refused; never the unseen details approved."""
    users = [
        make_user(f"replace{i}@acme.example", acme, plan=paid_plan, name=f"Replace {i}")
        for i in range(5)
    ]
    outcomes = Counter()
    for user in users:
        seen = _active_with_change(user, alice).pending_change_id
        results: list[str] = []
        barrier = threading.Barrier(2)

        def approve(user=user, seen=seen, barrier=barrier, results=results):
            barrier.wait(timeout=30)
            try:
                payment_profile_change_approve(actor=alice, user=user, change_id=seen)
                results.append("approved")
            except PaymentProfileError as error:
                assert "replaced the change" in str(error)
                results.append("refused")

        def replace(user=user, barrier=barrier):
            barrier.wait(timeout=30)
            payment_profile_submit(
                user=user, method=Method.INVOICE, details={**INVOICE_DETAILS, "city": "Capital"}
            )

        assert run_in_threads([approve, replace]) == []
        profile = PaymentProfile.objects.select_related("pending_change").get(user=user)
        assert profile.state == State.ACTIVE
        # Whatever the order, the new details wait, and only what was seen was approved.
        assert profile.pending_change is not None and profile.pending_change.city == "Capital"
        assert profile.city == ("Shelbyville" if results == ["approved"] else "Springfield")
        outcomes[results[0]] += 1
    assert sum(outcomes.values()) == len(users)


# --- Scheduled jobs: two workers on the same due occasions ------------------------------


@pytest.fixture
def due_occasions(acme, paid_plan, alice, dora):
    """Everything the jobs can send, due now: requests waiting two days (the
    digest), users held two days without a profile (the day-1 reminder), cards
    ending this month (a warning, unless it is still more than 30 days away: early
    on the 1st of a 31-day month), cards expired months ago (deactivation). Returns
    every e-mail due, each once."""
    now = timezone.now()
    long_ago = now - timedelta(days=2)
    gone = now - timedelta(days=95)
    this_month, expired = (now.month, now.year), (gone.month, gone.year)
    warned = card_expires_at(*this_month, UTC) - now <= timedelta(days=30)
    expected = Counter()
    for i in range(4):
        waiting = make_user(f"wait{i}@acme.example", acme, plan=paid_plan, name=f"Wait {i}")
        payment_profile_submit(user=waiting, method=Method.INVOICE, details=INVOICE_DETAILS)
        PaymentProfile.objects.filter(user=waiting).update(submitted_at=long_ago)

        held = make_user(f"held{i}@acme.example", acme, plan=paid_plan, name=f"Held {i}")
        User.objects.filter(pk=held.pk).update(date_joined=long_ago)
        expected[held.email, "[Acme] Reminder: set up your payment profile to use CloudCenter"] = 1

        for prefix, (month, year) in (("soon", this_month), ("gone", expired)):
            user = make_user(
                f"{prefix}{i}@acme.example", acme, plan=paid_plan, name=f"{prefix} {i}"
            )
            PaymentProfile.objects.filter(user=user).update(
                state=State.ACTIVE,
                method=Method.CREDIT_CARD,
                card_brand="Visa",
                card_last4="4242",
                card_exp_month=month,
                card_exp_year=year,
                stripe_payment_method_id="pm_x",
            )
            if prefix == "soon" and warned:
                expected[
                    user.email,
                    f"[Acme] Your card expires {month:02d}/{year % 100:02d}: save a new one",
                ] = 1
            else:
                expected[
                    user.email, "[Acme] Your payment profile has been deactivated: card expired"
                ] = 1
                for admin in (alice, dora):
                    expected[
                        admin.email,
                        f"[Acme] Payment profile of {user.name} deactivated: card expired",
                    ] = 1
    for admin in (alice, dora):
        expected[
            admin.email, "[Acme] Daily digest: 4 payment profile requests waiting over 24 hours"
        ] = 1
    Message.objects.all().delete()
    return expected


def queued() -> Counter:
    return Counter((m.to_addresses[0], m.subject) for m in Message.objects.all())


def check_each_sent_once(expected: Counter) -> None:
    assert queued() == expected  # every e-mail due, each exactly once
    assert StateLog.objects.filter(transition="expire").count() == 4
    assert Reminder.objects.filter(kind=Reminder.Kind.PENDING_DIGEST).count() == 1
    assert Reminder.objects.filter(kind=Reminder.Kind.SETUP).count() == 4
    warnings = sum(1 for _to, subject in expected if "Your card expires" in subject)
    assert Reminder.objects.filter(kind=Reminder.Kind.CARD_EXPIRING).count() >= warnings
    assert Reminder.objects.filter(kind=Reminder.Kind.CARD_EXPIRED).count() == 4


@pytest.fixture
def mid_month(time_machine):
    """The threads share the process's clock: the 20th, when a card ending this
    month is 11 days from its end (both warnings due, one e-mail)."""
    time_machine.move_to(datetime(2030, 1, 20, 9, 0, tzinfo=UTC), tick=True)


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_jobs_at_once_send_each_email_once(mid_month, due_occasions):
    assert sum(1 for _to, subject in due_occasions if "Your card expires 01/30" in subject) == 4
    barrier = threading.Barrier(2)

    def worker():
        for _ in range(5):  # both start each round together: a real collision
            barrier.wait(timeout=30)
            run_jobs()

    assert run_in_threads([worker, worker]) == []
    check_each_sent_once(due_occasions)


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_running_the_jobs_send_each_email_once(due_occasions):
    """The same with the documented command, as two processes of their own."""
    from tests.test_smtp import BASE_DIR, worker_database_url

    env = operator_env(DEBUG="true", DATABASE_URL=worker_database_url())
    for _ in range(2):
        workers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "run_jobs"],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for worker in workers:
            _out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
    check_each_sent_once(due_occasions)


@pytest.mark.django_db(transaction=True)
def test_the_api_and_the_users_page_acting_at_once_end_in_one_transition(
    acme, paid_plan, alice, dora
):
    """Dora activates from the Users page while Alice's script activates the same
    profile through the API: one activation, one e-mail; the script reads the page's
    refusal as a 409 (or the page shows it)."""
    from accounts.tokens import api_token_create

    token = api_token_create(admin=alice, name="erp", expires_at=None).plaintext
    for i in range(5):
        user = make_user(f"mix{i}@acme.example", acme, plan=paid_plan, name=f"Mix {i}")
        payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
        Message.objects.all().delete()
        barrier = threading.Barrier(2)
        answers = {}

        def page(user=user, barrier=barrier, answers=answers):
            client = client_for(dora)
            barrier.wait(timeout=30)
            answers["page"] = client.post(
                reverse("billing:profile_activate", args=[user.pk]), follow=True
            )

        def script(user=user, barrier=barrier, answers=answers):
            client = Client(headers={"Authorization": f"Bearer {token}"})
            barrier.wait(timeout=30)
            answers["api"] = client.post(
                f"/api/v1/users/{user.pk}/activate", {}, content_type="application/json"
            )

        assert run_in_threads([page, script]) == []
        assert answers["page"].status_code == 200
        assert answers["api"].status_code in (200, 409)
        profile = PaymentProfile.objects.get(user=user)
        assert profile.state == State.ACTIVE
        assert [e.transition for e in log_of(profile)] == ["submit", "activate"]
        assert Message.objects.count() == 1
        if answers["api"].status_code == 409:
            assert (
                answers["api"].json()["detail"]
                == f"The payment profile of {user} is already active."
            )


@pytest.mark.django_db(transaction=True)
def test_repeats_of_one_idempotency_key_at_once_act_once(acme, paid_plan, alice):
    """A script retries before its first request answered: four requests with one key
    at the same moment. The first acts; the others wait on the key's row and get its
    answer: one transition, one e-mail, four identical 200s."""
    from accounts.tokens import api_token_create

    token = api_token_create(admin=alice, name="erp", expires_at=None).plaintext
    user = make_user("idem@acme.example", acme, plan=paid_plan, name="Idem")
    payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
    Message.objects.all().delete()
    barrier = threading.Barrier(THREADS)
    answers = []

    def retry():
        client = Client(headers={"Authorization": f"Bearer {token}"})
        barrier.wait(timeout=30)
        answers.append(
            client.post(
                f"/api/v1/users/{user.pk}/decline",
                {"reason": "Wrong VAT id"},
                content_type="application/json",
                headers={"Idempotency-Key": "retry-1"},
            )
        )

    assert run_in_threads([retry] * THREADS) == []
    assert [a.status_code for a in answers] == [200] * THREADS
    assert len({a.content for a in answers}) == 1
    profile = PaymentProfile.objects.get(user=user)
    assert [e.transition for e in log_of(profile)] == ["submit", "decline"]
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_admins_bulk_activating_overlapping_selections_transition_each_profile_once(
    acme, paid_plan, alice, dora
):
    """alice selects users 0-59, dora 30-89, both at once (and in opposite orders, so
    their rows cross): every profile is activated exactly once, with one log entry
    and one e-mail; each admin's result counts what they did, and the other's rows
    as "already active"."""
    users = User.objects.bulk_create(
        User(email=f"bulk{n}@acme.example", name=f"Bulk {n}", tenant=acme, plan=paid_plan)
        for n in range(90)
    )
    PaymentProfile.objects.bulk_create(PaymentProfile(user=user) for user in users)
    PaymentProfile.objects.filter(user__in=users).update(state=State.PENDING)
    ids = [user.pk for user in User.objects.filter(email__startswith="bulk").order_by("pk")]
    selections = {alice.pk: ids[:60], dora.pk: list(reversed(ids[30:]))}
    results = {}
    barrier = threading.Barrier(2)

    def admin(actor: User) -> Callable[[], None]:
        def work():
            barrier.wait(timeout=30)
            results[actor.pk] = run_bulk(actor=actor, act="activate", user_ids=selections[actor.pk])

        return work

    assert run_in_threads([admin(alice), admin(dora)], timeout=120) == []
    assert PaymentProfile.objects.filter(user__in=users, state=State.ACTIVE).count() == 90
    log = Counter(
        StateLog.objects.filter(transition="activate").values_list("object_id", flat=True)
    )
    assert len(log) == 90 and set(log.values()) == {1}
    assert Message.objects.count() == 90
    mails = Counter(tuple(m.to_addresses) for m in Message.objects.all())
    assert set(mails.values()) == {1}
    a, d = results[alice.pk], results[dora.pk]
    assert a.changed + d.changed == 90
    # The 30 both chose: each went to one of them; the other skipped it as active.
    assert a.skipped_total + d.skipped_total == 30
    assert {g.label for g in a.skipped + d.skipped} <= {"already active"}


@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_a_bulk_action_once_and_share_nothing(acme, paid_plan, alice):
    users = User.objects.bulk_create(
        User(email=f"job{n}@acme.example", name=f"Job {n}", tenant=acme, plan=paid_plan)
        for n in range(60)
    )
    PaymentProfile.objects.bulk_create(PaymentProfile(user=user) for user in users)
    PaymentProfile.objects.filter(user__in=users).update(state=State.PENDING)
    bulk, _ = bulk_start(actor=alice, act="activate", user_ids=[u.pk for u in users])
    claims = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> Callable[[], None]:
        def work():
            barrier.wait(timeout=30)
            if bulk_claim(bulk, worker=name):
                claims.append(name)
                bulk_process(BulkAction.objects.get(pk=bulk.pk), worker=name)

        return work

    assert run_in_threads([worker(f"w{n}") for n in range(4)], timeout=120) == []
    assert len(claims) == 1
    bulk.refresh_from_db()
    assert bulk.finished_at is not None and bulk.changed == 60
    assert StateLog.objects.filter(transition="activate").count() == 60
