"""billing.acts: one entry per admin act, and every place an act appears is built
from it: the confirmation pages and popups (their URLs), the Actions dropdown, the
bulk acts, the API's routes and Django's admin actions. An entry's refusals agree
with the model's own transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django_fsm import can_proceed

from accounts.models import User
from billing.acts import (
    ACTIVATE,
    ACTS,
    BULK_ACTS,
    CARD_ENDED,
    DECLINED,
    KINDS,
    OWN_PROFILE,
    SKIP_LABELS,
    kind_of,
    service_of,
)
from billing.api import api
from billing.forms import BulkSelectionForm
from billing.models import Method, PaymentProfile, State, can_administer
from billing.services import PaymentProfileError, payment_profile_activate
from billing.standing import user_needs_profile
from tests.helpers import client_for


def _profile(kind: str, owner: User) -> PaymentProfile:
    state = State.INACTIVE if kind == DECLINED else kind
    return PaymentProfile(
        state=state, declined_at=timezone.now() if kind == DECLINED else None, user=owner
    )


@pytest.mark.parametrize("name", [name for name, act in ACTS.items() if act.transition])
def test_an_acts_refusals_are_exactly_the_kinds_its_transition_does_not_start_from(
    alice, bob, name
):
    act = ACTS[name]
    for kind in KINDS:
        profile = _profile(kind, bob)
        allowed = can_proceed(getattr(profile, act.transition))
        assert (kind in act.refused) is not allowed, (name, kind)
        refusal = act.refusal(profile=profile, actor=alice)
        assert bool(refusal) is not allowed, (name, kind)
        if refusal:
            assert refusal.code == act.refused[kind][1]
            assert str(bob) in refusal


@pytest.mark.parametrize("name", list(ACTS))
def test_nobody_acts_on_their_own_profile_whatever_its_state(alice, name):
    for kind in KINDS:
        refusal = ACTS[name].refusal(profile=_profile(kind, alice), actor=alice)
        assert refusal.code == OWN_PROFILE, kind
        assert "your own payment profile" in refusal


def test_every_transition_an_act_runs_is_guarded_by_who_may_administer():
    for act in ACTS.values():
        if act.transition:
            transitions = PaymentProfile._meta.get_field("state").get_all_transitions(
                PaymentProfile
            )
            permissions = {t.permission for t in transitions if t.name == act.transition}
            assert permissions == {can_administer}, act.name


def test_every_decision_has_its_service_and_every_act_its_page(alice, bob):
    for act in ACTS.values():
        assert reverse(act.url_name, args=[bob.pk]) == f"/admin/users/{bob.pk}/{act.slug}/"
        for decision in act.decisions:
            service = service_of(decision)
            assert service.__module__ == "billing.services"
            assert decision.name in service.__name__


def test_the_api_has_one_route_per_decision():
    schema = api.get_openapi_schema()
    operations = {
        operation["operationId"]: path
        for path, methods in schema["paths"].items()
        for operation in methods.values()
    }
    for act in ACTS.values():
        for decision in act.decisions:
            assert operations[decision.operation_id] == (
                f"/api/v1/users/{{user_id}}/{decision.api_path}"
            )
            body = schema["components"]["schemas"][decision.api_body]
            assert set(body["properties"]) == set(decision.takes)
            if decision.reason and decision.reason.required:
                assert "reason" in body["required"]


def test_the_bulk_acts_and_the_django_admin_actions_come_from_the_registry():
    assert [choice for choice, _ in BulkSelectionForm.base_fields["act"].choices] == list(BULK_ACTS)
    model_admin = admin.site._registry[PaymentProfile]
    assert [action.__name__ for action in model_admin.actions] == [
        name for name, act in ACTS.items() if act.in_django_admin
    ]


def test_the_popup_asks_in_the_acts_words(bob, acme):
    deactivate = ACTS["deactivate"]
    assert user_needs_profile(bob)
    assert deactivate.ask(target=bob) == (
        "Deactivate the payment profile of Bob User? They cannot use CloudCenter until it is "
        "activated again. They are told by e-mail, with the reason if you give one."
    )


def test_kind_of_tells_declined_from_deactivated():
    assert kind_of(state=State.INACTIVE, declined=True) == DECLINED
    assert kind_of(state=State.INACTIVE, declined=False) == State.INACTIVE
    assert kind_of(state=State.PENDING, declined=True) == State.PENDING


# --- Refusals beyond the state: a card that has ended -------------------------------


def _card(owner: User, state: str, month: int, year: int, method=Method.CREDIT_CARD):
    return PaymentProfile(
        user=owner,
        state=state,
        method=method,
        card_brand="Visa",
        card_last4="4242",
        card_exp_month=month,
        card_exp_year=year,
    )


@pytest.mark.parametrize(
    ("now", "grace_days", "refused"),
    [
        (datetime(2030, 4, 30, 23, 59, tzinfo=UTC), 0, False),  # the card's last minute
        (datetime(2030, 5, 1, tzinfo=UTC), 0, True),
        (datetime(2030, 5, 7, 23, 59, tzinfo=UTC), 7, False),  # within the grace
        (datetime(2030, 5, 8, tzinfo=UTC), 7, True),
    ],
)
def test_activate_refuses_a_card_that_ended_past_the_tenants_grace(
    alice, bob, acme, now, grace_days, refused
):
    acme.card_grace_days = grace_days
    acme.save()
    bob.tenant = acme
    for state in (State.PENDING, State.INACTIVE):
        refusal = ACTIVATE.refusal(profile=_card(bob, state, 4, 2030), actor=alice, now=now)
        assert bool(refusal) is refused, state
        if refused:
            assert refusal.code == CARD_ENDED
            assert refusal == (
                "The card of Bob User (Visa ending in 4242, expiry 04/30) has ended and its "
                "grace period is over: the profile cannot pay. Ask them to enter a new card on "
                "their Payment Information page, then activate the new details."
            )
    # An invoice is never refused for a card; the state's refusal comes first.
    invoice = _card(bob, State.PENDING, 4, 2030, method=Method.INVOICE)
    assert ACTIVATE.refusal(profile=invoice, actor=alice, now=now) == ""
    active = ACTIVATE.refusal(profile=_card(bob, State.ACTIVE, 4, 2030), actor=alice, now=now)
    assert active.code == "already_active"
    # Nobody's own profile, first of all.
    own = ACTIVATE.refusal(profile=_card(alice, State.PENDING, 4, 2030), actor=alice, now=now)
    assert own.code == OWN_PROFILE


def test_the_card_condition_is_activates_alone_and_has_its_bulk_words():
    assert [act.name for act in ACTS.values() if act.conditions] == ["activate"]
    assert SKIP_LABELS[CARD_ENDED] == "card ended"


def test_the_service_the_popup_and_the_page_refuse_it_in_those_words(
    alice, bob, make_profile, time_machine
):
    time_machine.move_to(datetime(2030, 6, 1, tzinfo=UTC), tick=False)
    make_profile(bob, State.PENDING, Method.CREDIT_CARD)  # Visa 4242, 04/31 ...
    PaymentProfile.objects.filter(user=bob).update(card_exp_month=4, card_exp_year=2030)
    with pytest.raises(PaymentProfileError, match="has ended and its grace period is over") as e:
        payment_profile_activate(actor=alice, user=bob)
    assert e.value.code == CARD_ENDED
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING
    client = client_for(alice)
    url = reverse("billing:profile_activate", args=[bob.pk])
    for response in (client.get(url), client.get(url, headers={"X-Requested-With": "fetch"})):
        assert "has ended and its grace period is over" in response.content.decode()
    response = client.post(url, follow=True)
    assert "has ended and its grace period is over" in response.content.decode()
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING
