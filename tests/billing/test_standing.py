"""billing.standing: each rule's database expression says what its Python twin says,
over every combination of tenant setting, plan, state, decline, pending change and
card expiry, in two tenant zones and at moments around a month's end; and the
copies the Users page reads (``status_rank``, ``held``) come out the same whether
save() or refresh_sort_keys() wrote them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import BooleanField, Case, Value, When
from django.utils import timezone

from accounts.models import Plan, Tenant, User
from accounts.timezones import tenant_zone
from billing import standing
from billing.models import Method, PaymentProfile, PendingChange, State
from billing.standing import STATUS_RANK

# (month, year) of a card, or None: no card details at all.
EXPIRIES = [None, (3, 2030), (4, 2030), (5, 2030), (12, 2030), (6, 2031)]
# Around the end of April 2030: in UTC, and already May in Tokyo at the third.
MOMENTS = [
    datetime(2030, 4, 10, 12, tzinfo=UTC),
    datetime(2030, 4, 30, 12, tzinfo=UTC),
    datetime(2030, 4, 30, 20, tzinfo=UTC),
    datetime(2030, 12, 15, 12, tzinfo=UTC),
]


@pytest.fixture
def every_kind(db):
    """A profile of every combination, in two tenants of two zones each requiring
    profiles and not."""
    tenants = [
        Tenant.objects.create(name=f"T{i}", slug=f"t{i}", require_payment_profile=req, time_zone=tz)
        for i, (req, tz) in enumerate(itertools.product([True, False], ["UTC", "Asia/Tokyo"]))
    ]
    plans = {
        tenant.pk: [
            None,
            Plan.objects.create(tenant=tenant, name="Bundle", kind=Plan.Kind.BUNDLE),
            Plan.objects.create(tenant=tenant, name="Paid", kind=Plan.Kind.SUBSCRIPTION),
        ]
        for tenant in tenants
    }
    combinations = list(
        itertools.product(
            tenants,
            range(3),
            State.values,
            [False, True],
            [False, True],
            [Method.INVOICE, *EXPIRIES],
        )
    )
    users = User.objects.bulk_create(
        User(
            email=f"u{i}@example.com",
            name=f"U{i}",
            tenant=tenant,
            plan=plans[tenant.pk][plan],
            plan_name=plans[tenant.pk][plan].name if plan else "",
        )
        for i, (tenant, plan, *_rest) in enumerate(combinations)
    )
    changes = PendingChange.objects.bulk_create(
        PendingChange(method=Method.INVOICE, city="Ogden")
        for *_rest, change, _card in combinations
        if change
    )
    changes = iter(changes)
    profiles = []
    for user, (_tenant, _plan, state, declined, change, card) in zip(
        users, combinations, strict=True
    ):
        invoice = card == Method.INVOICE
        month, year = (None, None) if invoice or card is None else card
        profiles.append(
            PaymentProfile(
                user=user,
                tenant_id=user.tenant_id,
                state=state,
                declined_at=timezone.now() if declined else None,
                pending_change=next(changes) if change else None,
                method=Method.INVOICE if invoice else Method.CREDIT_CARD,
                card_exp_month=month,
                card_exp_year=year,
            )
        )
    PaymentProfile.objects.bulk_create(profiles)
    return PaymentProfile.objects.select_related("user__tenant", "user__plan", "pending_change")


def _python(profile: PaymentProfile) -> dict:
    user = profile.user
    needed = standing.user_needs_profile(user)
    return {
        "needed": needed,
        "held": standing.held(state=profile.state, needed=needed),
        "status": standing.status_of(
            state=profile.state,
            declined=profile.declined_at is not None,
            change_waiting=profile.pending_change_id is not None,
            needed=needed,
        ),
    }


def _flag(condition) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def test_needs_held_status_and_rank_agree_in_python_and_sql(every_kind):
    rows = every_kind.annotate(
        sql_needed=_flag(standing.profile_needed_q()),
        sql_held=standing.held_case(),
        sql_status=standing.status_case(),
        sql_rank=standing.rank_case(),
    )
    assert len(rows) == 4 * 3 * 4 * 2 * 2 * 7
    seen = set()
    for profile in rows:
        python = _python(profile)
        assert profile.sql_needed == python["needed"], profile.user.email
        assert profile.sql_held == python["held"], profile.user.email
        assert profile.sql_status == python["status"], profile.user.email
        assert profile.sql_rank == STATUS_RANK[python["status"]], profile.user.email
        seen.add(python["status"])
    assert seen == set(standing.Status)  # every status came up
    # And a user's own twin: needs a profile as a filter on users.
    needing = set(User.objects.filter(standing.needs_profile_q()).values_list("pk", flat=True))
    assert needing == {p.user_id for p in rows if _python(p)["needed"]}


def test_the_copies_are_the_same_from_save_and_from_refresh(every_kind):
    PaymentProfile.objects.update(status_rank=99, held=True)
    PaymentProfile.objects.all().refresh_sort_keys()
    refreshed = dict(PaymentProfile.objects.values_list("pk", "status_rank"))
    held = dict(PaymentProfile.objects.values_list("pk", "held"))
    for profile in every_kind:
        profile.save()
        assert (profile.status_rank, profile.held) == (refreshed[profile.pk], held[profile.pk])
        assert profile.status == _python(profile)["status"]


@pytest.mark.parametrize("now", MOMENTS, ids=lambda moment: moment.strftime("%m-%d %H:%M"))
def test_card_expiring_and_ends_by_agree_in_python_and_sql(every_kind, now):
    for tenant in Tenant.objects.all():
        zone = tenant_zone(tenant)
        profiles = every_kind.filter(tenant=tenant)
        expiring = set(
            profiles.filter(standing.card_expiring_q(tz=zone, now=now)).values_list("pk", flat=True)
        )
        ended = set(
            profiles.filter(standing.card_ends_by_q(now, tz=zone)).values_list("pk", flat=True)
        )
        for profile in profiles:
            python_expiring = standing.card_expiring(
                state=profile.state,
                method=profile.method,
                month=profile.card_exp_month,
                year=profile.card_exp_year,
                tz=zone,
                now=now,
            )
            assert (profile.pk in expiring) == (python_expiring is not None), (tenant, profile.pk)
            python_ended = standing.card_ends_by(
                month=profile.card_exp_month, year=profile.card_exp_year, moment=now, tz=zone
            )
            assert (profile.pk in ended) == python_ended, (tenant, profile.pk)


@pytest.mark.parametrize("grace_days", [0, 7, 60])
@pytest.mark.parametrize("now", MOMENTS, ids=lambda moment: moment.strftime("%m-%d %H:%M"))
def test_card_ended_past_grace_agrees_in_python_and_sql(every_kind, now, grace_days):
    for tenant in Tenant.objects.all():
        zone = tenant_zone(tenant)
        profiles = every_kind.filter(tenant=tenant)
        ended = set(
            profiles.filter(
                standing.card_ended_past_grace_q(tz=zone, grace_days=grace_days, now=now)
            ).values_list("pk", flat=True)
        )
        for profile in profiles:
            python = standing.card_ended_past_grace(
                method=profile.method,
                month=profile.card_exp_month,
                year=profile.card_exp_year,
                tz=zone,
                grace_days=grace_days,
                now=now,
            )
            assert (profile.pk in ended) == python, (tenant, grace_days, profile.pk)
            expires = profile.card_expires_at(zone)
            assert python == (
                expires is not None and expires + timedelta(days=grace_days) <= now
            ), profile.pk


def test_a_card_is_good_through_the_last_day_of_its_month_in_the_tenants_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    ends = standing.card_expires_at(4, 2030, tokyo)
    assert ends == datetime(2030, 5, 1, tzinfo=tokyo)
    assert standing.card_expires_at(12, 2030, tokyo) == datetime(2031, 1, 1, tzinfo=tokyo)
    just_before = ends - timedelta(seconds=1)
    assert not standing.card_ends_by(month=4, year=2030, moment=just_before, tz=tokyo)
    assert standing.card_ends_by(month=4, year=2030, moment=ends, tz=tokyo)
    assert not standing.card_ends_by(month=None, year=None, moment=ends, tz=tokyo)
