"""A bulk act costs about what the same single acts cost (the issue: at most 1.5x).

Time is measured in `make bench` (1,000 profiles, both databases, one bulk act against
1,000 single calls in the same run), not here: a timed assertion flakes on a busy
machine. What the suite proves is the cause of the cost, the queries: a bulk act
issues per row the single act's queries plus a fixed few (its savepoint and the
row's outcome), and a constant number for the whole action."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from billing.models import PaymentProfile, State
from billing.services import payment_profile_activate
from tests.helpers import run_bulk

ROWS = 20
EXTRA_PER_ROW = 3  # savepoint, its release, the row's outcome
EXTRA_PER_ACTION = 15  # the action's own rows, its claim and its totals (13 today)


def _pending_users(tenant, prefix: str) -> list[User]:
    users = User.objects.bulk_create(
        User(email=f"{prefix}{n}@acme.example", name=f"{prefix} {n}", tenant=tenant)
        for n in range(ROWS)
    )
    PaymentProfile.objects.bulk_create(PaymentProfile(user=user) for user in users)
    PaymentProfile.objects.filter(user__in=users).update(state=State.PENDING)
    return list(User.objects.filter(email__startswith=prefix).order_by("pk"))


def test_a_bulk_activation_issues_the_single_acts_queries_and_a_few_more(acme, alice):
    # One act first, so both measurements find the same caches warm (content types).
    payment_profile_activate(actor=alice, user=_pending_users(acme, "warm-")[0])
    users = _pending_users(acme, "single-")
    with CaptureQueriesContext(connection) as single:
        for user in users:
            payment_profile_activate(actor=alice, user=user)

    users = _pending_users(acme, "bulk-")
    with CaptureQueriesContext(connection) as bulk:
        result = run_bulk(actor=alice, act="activate", user_ids=[u.pk for u in users])
    assert result.changed == ROWS
    budget = len(single) + ROWS * EXTRA_PER_ROW + EXTRA_PER_ACTION
    assert len(bulk) <= budget, (len(single), len(bulk))
