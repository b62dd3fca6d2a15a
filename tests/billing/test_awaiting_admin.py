"""What waits for an admin: the dashboard's exact counts (billing.user_list.
awaiting_admin) and the Admin menu's badge (awaiting_badge, capped), each one
query, of the admin's own tenant only."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import user_list
from billing.models import Method, PaymentProfile, PendingChange, State
from billing.user_list import Awaiting, awaiting_admin, awaiting_badge
from tests.helpers import make_user


def _with_change(profile: PaymentProfile) -> None:
    change = PendingChange.objects.create(method=Method.INVOICE, city="Ogden")
    PaymentProfile.objects.filter(pk=profile.pk).update(pending_change=change)
    PaymentProfile.objects.filter(pk=profile.pk).refresh_sort_keys()  # as save() would


def test_it_counts_pending_profiles_and_waiting_changes_of_the_tenant_only(
    acme, alice, bob, betty, charlie, paid_plan, make_profile, django_assert_num_queries
):
    make_profile(bob, State.PENDING)
    _with_change(make_profile(betty, State.ACTIVE))
    carol = make_user("carol@acme.example", acme, plan=paid_plan, name="Carol")
    make_profile(carol, State.INACTIVE)  # neither: counted in neither
    dave = make_user("dave@acme.example", acme, plan=paid_plan, name="Dave")
    make_profile(dave, State.ACTIVE)  # neither
    make_profile(charlie, State.PENDING)  # another tenant's
    _with_change(make_profile(charlie, State.PENDING))

    with django_assert_num_queries(1):
        awaiting = awaiting_admin(acme)

    assert awaiting == Awaiting(profiles=1, changes=1)
    assert awaiting.total == 2
    # The badge counts the same rows.
    assert awaiting_badge(acme) == "2"
    assert awaiting_badge(charlie.tenant) == str(awaiting_admin(charlie.tenant).total) == "1"


def test_it_counts_a_row_once_by_the_status_it_shows(acme, bob, make_profile):
    # Pending with a change beside it (no service leaves a profile so): shown, and
    # filtered on the Users page, as pending; counted so.
    _with_change(make_profile(bob, State.PENDING))

    assert awaiting_admin(acme) == Awaiting(profiles=1, changes=0)


def test_it_counts_nothing_when_nothing_waits(acme, alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)

    assert awaiting_admin(acme) == Awaiting(profiles=0, changes=0)


def test_the_menu_badge_counts_to_its_cap_then_says_so(acme, alice, paid_plan, monkeypatch):
    monkeypatch.setattr(user_list, "BADGE_CAP", 4)
    assert awaiting_badge(acme) == ""
    users = [make_user(f"w{i}@acme.example", acme, plan=paid_plan) for i in range(5)]
    for count, user in enumerate(users[:3], start=1):
        PaymentProfile.objects.filter(user=user).update(state=State.PENDING)
        PaymentProfile.objects.filter(user=user).refresh_sort_keys()  # as save() would
        assert awaiting_badge(acme) == str(count)
    PaymentProfile.objects.filter(user__in=users).update(state=State.PENDING)
    PaymentProfile.objects.filter(user__in=users).refresh_sort_keys()
    assert awaiting_badge(acme) == "3+"


def test_the_menu_badge_reads_a_bounded_number_of_rows(acme, alice):
    with CaptureQueriesContext(connection) as queries:
        awaiting_badge(acme)
    (query,) = queries.captured_queries
    assert "LIMIT 100" in query["sql"]
