"""accounts.selectors.awaiting_admin: the Admin menu's count of what waits for an
admin, in one query, of the admin's own tenant only."""

from __future__ import annotations

from accounts.selectors import Awaiting, awaiting_admin
from billing.models import Method, PaymentProfile, PendingChange, State
from tests.helpers import make_user


def _with_change(profile: PaymentProfile) -> None:
    change = PendingChange.objects.create(method=Method.INVOICE, city="Ogden")
    PaymentProfile.objects.filter(pk=profile.pk).update(pending_change=change)


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


def test_it_counts_a_row_that_is_both_in_each_count(acme, bob, make_profile):
    _with_change(make_profile(bob, State.PENDING))

    assert awaiting_admin(acme) == Awaiting(profiles=1, changes=1)


def test_it_counts_nothing_when_nothing_waits(acme, alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)

    assert awaiting_admin(acme) == Awaiting(profiles=0, changes=0)
