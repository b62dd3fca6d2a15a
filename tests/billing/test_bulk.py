"""billing/bulk.py: the preview, the run row by row, the job and the worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import Tenant, User
from billing import bulk as bulk_module
from billing.acts import ALREADY_ACTIVE, BULK_ACTS, CARD_ENDED, NOT_SET_UP, OWN_PROFILE
from billing.bulk import (
    CHANGED,
    bulk_claim,
    bulk_preview,
    bulk_process,
    bulk_result,
    bulk_start,
    run_bulk_actions,
)
from billing.models import BulkAction, Method, PaymentProfile, State
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_deactivate,
)
from tests.helpers import make_user, run_bulk, state_of

ACTS = BULK_ACTS


@pytest.fixture
def crowd(acme, alice, bob, betty, dora, globex, charlie, make_profile):
    """Acme users in every kind of state, alice's own profile pending too."""
    people = {"bob": bob, "betty": betty, "dora": dora, "alice": alice}
    make_profile(bob, State.PENDING)
    make_profile(betty, State.ACTIVE)
    make_profile(alice, State.PENDING)
    for n in range(3):
        people[f"pending{n}"] = user = make_user(f"p{n}@acme.example", acme)
        make_profile(user, State.PENDING)
    people["inactive"] = user = make_user("in@acme.example", acme)
    make_profile(user, State.INACTIVE)
    people["declined"] = user = make_user("de@acme.example", acme)
    make_profile(user, State.INACTIVE)
    PaymentProfile.objects.filter(user=user).update(declined_at=timezone.now())
    # dora stays "none" (not set up)
    return people


def acme_users(alice):
    return User.objects.filter(tenant=alice.tenant)


def outcomes(bulk: BulkAction) -> dict[str, str]:
    return {item.user.email: item.outcome for item in bulk.items.select_related("user")}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_it_previews_exactly_what_the_run_does(crowd, alice, act):
    reason = "Wrong company" if act != "activate" else ""
    users = acme_users(alice)
    preview = bulk_preview(actor=alice, act=act, users=users)
    result = run_bulk(
        actor=alice, act=act, user_ids=list(users.values_list("pk", flat=True)), reason=reason
    )
    assert preview.total == result.total == users.count()
    assert preview.will_change == result.changed
    assert [(g.code, g.count) for g in preview.skipped] == [
        (g.code, g.count) for g in result.skipped
    ]
    assert result.finished and result.done == result.total


@pytest.fixture
def ended_cards(crowd, acme, make_profile):
    """Card profiles around the end of a card and of the tenant's grace period (7
    days), as seen on 2030-05-03: ended in March (past the grace), in April (within
    it), and still good; pending, inactive and active."""
    for name, state, month in [
        ("ended_pending", State.PENDING, 3),
        ("ended_inactive", State.INACTIVE, 3),
        ("ended_active", State.ACTIVE, 3),
        ("grace_pending", State.PENDING, 4),
        ("good_pending", State.PENDING, 5),
    ]:
        crowd[name] = user = make_user(f"{name}@acme.example", acme)
        make_profile(user, state, Method.CREDIT_CARD)
        PaymentProfile.objects.filter(user=user).update(card_exp_month=month, card_exp_year=2030)
    return crowd


@pytest.mark.parametrize("grace_days", [0, 7, 40])
def test_the_preview_gives_each_profile_the_code_of_its_refusal(
    ended_cards, alice, acme, grace_days
):
    """Row by row: the code the SQL preview gives is the code the refusal function
    itself gives that profile (or "changed"), its state's and its card's (a card that
    ended before the tenant's grace period)."""
    Tenant.objects.filter(pk=acme.pk).update(card_grace_days=grace_days)
    alice.tenant.refresh_from_db()
    seen = set()
    with time_machine.travel(datetime(2030, 5, 3, 12, tzinfo=UTC), tick=False):
        for act, spec in BULK_ACTS.items():
            for user in acme_users(alice):
                profile = PaymentProfile.objects.select_related("user__tenant").get(user=user)
                expected = spec.refusal(profile=profile, actor=alice)
                users = User.objects.filter(pk=user.pk)
                preview = bulk_preview(actor=alice, act=act, users=users)
                code = preview.skipped[0].code if preview.skipped else CHANGED
                assert code == (expected.code if expected else CHANGED), (act, user.email)
                seen.add(code)
    assert (CARD_ENDED in seen) is (grace_days < 40)


def test_a_bulk_activation_skips_the_cards_that_ended_as_its_preview_said(ended_cards, alice):
    ids = [ended_cards[k].pk for k in ("ended_pending", "ended_inactive", "grace_pending")]
    with time_machine.travel(datetime(2030, 5, 3, 12, tzinfo=UTC), tick=False):
        preview = bulk_preview(actor=alice, act="activate", users=User.objects.filter(pk__in=ids))
        result = run_bulk(actor=alice, act="activate", user_ids=ids)
    assert preview.summary == "1 will be activated; 2 skipped: card ended"
    assert result.summary == "1 activated; 2 skipped: card ended"
    assert state_of(ended_cards["ended_pending"]) == State.PENDING
    assert state_of(ended_cards["ended_inactive"]) == State.INACTIVE
    assert state_of(ended_cards["grace_pending"]) == State.ACTIVE


def test_the_preview_gives_each_profile_the_code_of_its_refusal_today(crowd, alice):
    """The same at the real time, for the crowd of every state."""
    for act, spec in BULK_ACTS.items():
        for user in acme_users(alice):
            profile = PaymentProfile.objects.select_related("user").get(user=user)
            expected = spec.refusal(profile=profile, actor=alice)
            preview = bulk_preview(actor=alice, act=act, users=User.objects.filter(pk=user.pk))
            code = preview.skipped[0].code if preview.skipped else CHANGED
            assert code == (expected.code if expected else CHANGED), (act, user.email)


def test_an_activation_says_what_happened_per_group(crowd, alice):
    result = run_bulk(
        actor=alice,
        act="activate",
        user_ids=list(acme_users(alice).values_list("pk", flat=True)),
    )
    # bob, 3 pending, inactive, declined: activated; betty: already active;
    # dora: not set up; alice: her own.
    assert result.summary == (
        "6 activated; 1 skipped: already active; 1 skipped: not set up; 1 skipped: your own profile"
    )
    groups = {g.code: [u.email for u in g.users] for g in result.skipped}
    assert groups == {
        ALREADY_ACTIVE: ["betty@acme.example"],
        NOT_SET_UP: ["dora@acme.example"],
        OWN_PROFILE: ["alice@acme.example"],
    }
    assert state_of(crowd["bob"]) == State.ACTIVE
    assert state_of(crowd["alice"]) == State.PENDING
    # One log entry and one e-mail per profile that changed, none for the others.
    assert StateLog.objects.filter(transition="activate").count() == 6
    assert Message.objects.count() == 6


def test_each_changed_row_is_linked_to_the_log_entry_of_its_act(crowd, alice):
    """BulkActionItem.log: the entry the act wrote on that profile (how Admin >
    Activity links it to the bulk act); a skipped row has none."""
    payment_profile_activate(actor=alice, user=crowd["inactive"])  # an older entry
    payment_profile_deactivate(actor=alice, user=crowd["inactive"])
    ids = [crowd[k].pk for k in ("pending0", "inactive", "betty")]
    result = run_bulk(actor=alice, act="activate", user_ids=ids)
    assert result.changed == 2
    bulk = BulkAction.objects.get()
    for item in bulk.items.select_related("user", "log"):
        if item.outcome != CHANGED:
            assert item.user == crowd["betty"] and item.log is None
            continue
        newest = StateLog.objects.for_(item.user.payment_profile).order_by("-pk").first()
        assert item.log == newest
        assert (item.log.transition, item.log.by) == ("activate", alice)


def test_a_failing_row_does_not_undo_the_others(crowd, alice, monkeypatch):
    """Each row is its own transaction: an error in the middle keeps what came before."""
    from billing import notifications

    real = notifications.profile_activated
    calls = []

    def flaky(profile):
        calls.append(profile.user.email)
        if profile.user.email == "p1@acme.example":
            raise PaymentProfileError("The mail server said no.")
        real(profile)

    monkeypatch.setattr(notifications, "profile_activated", flaky)
    ids = [crowd[k].pk for k in ("pending0", "pending1", "pending2")]
    result = run_bulk(actor=alice, act="activate", user_ids=ids)
    assert result.changed == 2
    assert [(g.label, g.count) for g in result.skipped] == [("refused", 1)]
    assert state_of(crowd["pending0"]) == State.ACTIVE
    assert state_of(crowd["pending1"]) == State.PENDING  # its transition rolled back
    assert state_of(crowd["pending2"]) == State.ACTIVE
    assert StateLog.objects.filter(transition="activate").count() == 2


def test_decline_needs_one_reason_for_all(crowd, alice):
    with pytest.raises(PaymentProfileError, match="Give a reason"):
        run_bulk(actor=alice, act="decline", user_ids=[crowd["bob"].pk], reason="  ")
    assert not BulkAction.objects.exists()
    result = run_bulk(
        actor=alice,
        act="decline",
        user_ids=[crowd["bob"].pk, crowd["pending0"].pk],
        reason="Company name is wrong",
    )
    assert result.changed == 2
    for key in ("bob", "pending0"):
        profile = PaymentProfile.objects.get(user=crowd[key])
        assert profile.is_declined and profile.deactivation_reason == "Company name is wrong"


def test_deactivate_gives_the_reason_to_each(crowd, alice):
    result = run_bulk(
        actor=alice, act="deactivate", user_ids=[crowd["betty"].pk], reason="Contract ended"
    )
    assert result.summary == "1 deactivated"
    assert PaymentProfile.objects.get(user=crowd["betty"]).deactivation_reason == "Contract ended"


def test_another_tenants_users_are_left_out(crowd, alice, charlie):
    result = run_bulk(actor=alice, act="activate", user_ids=[charlie.pk, crowd["bob"].pk])
    assert result.total == 1 and result.changed == 1


@pytest.mark.parametrize(
    "ids, message",
    [([], "Select at least one user"), ([987654], "Select at least one user")],
)
def test_it_refuses_an_empty_selection(crowd, alice, ids, message):
    with pytest.raises(PaymentProfileError, match=message):
        run_bulk(actor=alice, act="activate", user_ids=ids)


def test_it_refuses_an_unknown_act_and_too_many_users(crowd, alice, settings):
    with pytest.raises(PaymentProfileError, match="Choose Activate"):
        run_bulk(actor=alice, act="delete", user_ids=[crowd["bob"].pk])
    settings.BULK_MAX_USERS = 2
    with pytest.raises(PaymentProfileError, match="at most 2"):
        run_bulk(
            actor=alice,
            act="activate",
            user_ids=list(acme_users(alice).values_list("pk", flat=True)),
        )


def test_the_same_form_twice_runs_once(crowd, alice):
    first, created = bulk_start(actor=alice, act="activate", user_ids=[crowd["bob"].pk], token="t1")
    again, created_again = bulk_start(
        actor=alice, act="activate", user_ids=[crowd["bob"].pk], token="t1"
    )
    assert created and not created_again and again.pk == first.pk
    assert BulkAction.objects.count() == 1


@pytest.mark.parametrize("users", [3, 30])
def test_the_preview_is_one_query_however_many(
    acme, alice, make_profile, users, django_assert_num_queries
):
    for n in range(users):
        make_profile(make_user(f"u{n}@acme.example", acme), State.PENDING)
    with django_assert_num_queries(1):
        preview = bulk_preview(actor=alice, act="activate", users=acme_users(alice))
    assert preview.total == users + 1


def test_reading_a_result_is_a_few_queries(crowd, alice, django_assert_max_num_queries):
    run_bulk(
        actor=alice, act="activate", user_ids=list(acme_users(alice).values_list("pk", flat=True))
    )
    bulk = BulkAction.objects.get()
    with django_assert_max_num_queries(1 + 3):  # counts + one per skipped group
        result = bulk_result(bulk, listed=50)
    assert len(result.skipped) == 3


# --- The worker ---------------------------------------------------------------------


@pytest.fixture
def big(acme, alice, make_profile):
    users = [make_user(f"w{n}@acme.example", acme) for n in range(120)]
    PaymentProfile.objects.filter(user__in=users).update(state=State.PENDING)
    bulk, _ = bulk_start(actor=alice, act="activate", user_ids=[u.pk for u in users])
    return bulk


def test_the_worker_runs_a_waiting_job(big):
    assert run_bulk_actions() == 120
    big.refresh_from_db()
    assert big.finished_at is not None and big.changed == 120 and big.claimed_by == ""
    assert PaymentProfile.objects.filter(state=State.ACTIVE).count() == 120
    assert run_bulk_actions() == 0  # nothing left


def test_one_worker_claims_a_job(big):
    assert bulk_claim(big, worker="a")
    assert not bulk_claim(big, worker="b")


def test_a_crashed_workers_job_is_resumed_without_redoing_rows(big, monkeypatch):
    """A worker takes the job, does 50 rows and dies (its claim stays). Another may
    not take it while the claim is fresh; after CLAIM_TIMEOUT it does, and goes on
    with the rows not done: each profile is activated once."""
    assert bulk_claim(big, worker="dead")
    real = bulk_module._still_mine

    def crash(bulk, worker):
        raise SystemExit("killed")

    monkeypatch.setattr(bulk_module, "_still_mine", crash)
    with pytest.raises(SystemExit):
        bulk_process(big, worker="dead")
    monkeypatch.setattr(bulk_module, "_still_mine", real)
    assert big.items.filter(outcome=CHANGED).count() == bulk_module.CHUNK
    assert run_bulk_actions() == 0  # the claim is still fresh
    with time_machine.travel(timezone.now() + bulk_module.CLAIM_TIMEOUT + timedelta(seconds=1)):
        assert run_bulk_actions() == 120 - bulk_module.CHUNK
    big.refresh_from_db()
    assert big.finished_at is not None and big.changed == 120 and big.skipped == 0
    assert StateLog.objects.filter(transition="activate").count() == 120
    assert Message.objects.count() == 120


def test_the_worker_stops_after_its_slice_and_the_next_round_goes_on(big):
    assert run_bulk_actions(seconds=0.000001) == bulk_module.CHUNK
    big.refresh_from_db()
    assert big.finished_at is None and big.claimed_by == ""  # let go for the next round
    assert run_bulk_actions() == 120 - bulk_module.CHUNK


def test_a_row_done_by_another_worker_is_not_done_again(big, alice):
    item = big.items.order_by("pk").select_related("user").first()
    item.outcome = CHANGED
    item.save()
    assert bulk_module._run_row(big, ACTS["activate"], item) is False
    assert state_of(item.user) == State.PENDING  # the act rolled back with it


def test_the_preview_query_does_not_read_every_row_in_python(acme, alice, make_profile):
    """One GROUP BY returns one row per outcome, not one per user."""
    for n in range(40):
        make_profile(make_user(f"u{n}@acme.example", acme), State.PENDING)
    with CaptureQueriesContext(connection) as queries:
        bulk_preview(actor=alice, act="activate", users=acme_users(alice))
    assert "GROUP BY" in queries[0]["sql"]


def test_the_mail_worker_runs_bulk_actions_every_round_and_sends_their_mail(big, mailoutbox):
    """Even with the scheduled jobs off: an admin is watching the progress."""
    call_command("mail_worker", "--once", "--no-jobs")
    big.refresh_from_db()
    assert big.finished_at is not None and big.changed == 120
    assert len(mailoutbox) == 120


def test_run_jobs_runs_them_for_cron(big):
    out = StringIO()
    call_command("run_jobs", "bulk_actions", stdout=out)
    assert out.getvalue() == "bulk_actions: 120\n"
