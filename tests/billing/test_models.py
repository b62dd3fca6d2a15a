"""The state graph: which transitions each state allows, and who may run them."""

from __future__ import annotations

import itertools

import pytest
from django_fsm import can_proceed, has_transition_perm

from billing.models import PaymentProfile, State

ALLOWED = {
    # (from, transition): to
    (State.NONE, "submit"): State.PENDING,
    (State.PENDING, "submit"): State.PENDING,
    (State.ACTIVE, "submit"): State.PENDING,
    (State.INACTIVE, "submit"): State.PENDING,
    (State.PENDING, "activate"): State.ACTIVE,
    (State.INACTIVE, "activate"): State.ACTIVE,
    (State.ACTIVE, "deactivate"): State.INACTIVE,
    (State.PENDING, "decline"): State.INACTIVE,
}


@pytest.mark.parametrize(
    ("state", "name"),
    list(itertools.product(State.values, ["submit", "activate", "deactivate", "decline"])),
)
def test_it_allows_exactly_the_documented_transitions(bob, make_profile, state, name):
    profile = make_profile(bob, state)
    method = getattr(profile, name)
    assert can_proceed(method) is ((state, name) in ALLOWED)
    if (state, name) in ALLOWED:
        method()
        profile.save()
        assert PaymentProfile.objects.get(pk=profile.pk).state == ALLOWED[(state, name)]


def test_it_protects_the_state_field(bob, make_profile):
    profile = make_profile(bob, State.PENDING)
    with pytest.raises(AttributeError):
        profile.state = State.ACTIVE


@pytest.mark.parametrize("name", ["activate", "decline"])
def test_it_lets_only_another_admin_of_the_tenant_act(
    alice, dora, bob, charlie, make_profile, name
):
    profile = make_profile(bob, State.PENDING)
    assert has_transition_perm(getattr(profile, name), alice)
    assert has_transition_perm(getattr(profile, name), dora)
    assert not has_transition_perm(getattr(profile, name), bob)  # the owner
    assert not has_transition_perm(getattr(profile, name), charlie)  # another tenant

    own = make_profile(alice, State.PENDING)
    assert not has_transition_perm(getattr(own, name), alice)
    assert has_transition_perm(getattr(own, name), dora)


def test_it_lets_only_the_owner_submit(alice, bob, make_profile):
    profile = make_profile(bob, State.NONE)
    assert has_transition_perm(profile.submit, bob)
    assert not has_transition_perm(profile.submit, alice)
