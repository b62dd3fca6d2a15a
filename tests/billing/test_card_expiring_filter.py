"""The Users page's "Card expiring" filter (a query) keeps exactly the profiles whose
card the banner calls expiring (one profile at a time), around a year's end and in
a tenant's own zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.timezones import tenant_zone
from billing.models import Method, PaymentProfile, State
from billing.standing import card_expiring, card_expiring_q
from tests.helpers import bulk_users


def _expiring(profile: PaymentProfile, now) -> bool:
    return (
        card_expiring(
            state=profile.state,
            method=profile.method,
            month=profile.card_exp_month,
            year=profile.card_exp_year,
            tz=tenant_zone(profile.user.tenant),
            now=now,
        )
        is not None
    )


CARDS = [(month, year) for year in (2029, 2030, 2031) for month in range(1, 13)]


@pytest.fixture
def cards(acme, paid_plan):
    """A profile for every expiry month of three years, in each of three states, and
    a few on invoices."""
    users = bulk_users(acme, len(CARDS) * 3 + 3, prefix="card", plan=paid_plan)
    for i, user in enumerate(users):
        state = (State.ACTIVE, State.PENDING, State.INACTIVE)[i % 3]
        month, year = CARDS[i // 3] if i < len(CARDS) * 3 else (None, None)
        PaymentProfile.objects.filter(user=user).update(
            state=state,
            method=Method.CREDIT_CARD if month else Method.INVOICE,
            card_exp_month=month,
            card_exp_year=year,
        )
    PaymentProfile.objects.filter(user__in=users).refresh_sort_keys()
    return PaymentProfile.objects.filter(user__in=users).select_related("user__tenant")


@pytest.mark.parametrize(
    ("now", "zone"),
    [
        (datetime(2030, 4, 10, 12, tzinfo=UTC), "UTC"),
        (datetime(2030, 12, 10, 12, tzinfo=UTC), "UTC"),  # the horizon in the next year
        (datetime(2030, 12, 2, 23, 30, tzinfo=UTC), "Asia/Tokyo"),  # already the 3rd there
        (datetime(2031, 1, 15, 12, tzinfo=UTC), "America/Los_Angeles"),
        (datetime(2030, 11, 30, 12, tzinfo=UTC), "UTC"),
    ],
)
def test_it_keeps_exactly_the_cards_the_banner_calls_expiring(acme, cards, now, zone):
    acme.time_zone = zone
    acme.save()
    expected = {p.pk for p in cards.select_related("user__tenant") if _expiring(p, now)}
    filtered = PaymentProfile.objects.filter(tenant=acme).filter(
        card_expiring_q(tz=tenant_zone(acme), now=now)
    )
    assert expected  # some are, some are not
    assert set(filtered.values_list("pk", flat=True)) == expected
    assert len(expected) < cards.count()
