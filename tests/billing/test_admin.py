"""The payment profile in Django's admin site: state read-only, and the Activate /
Deactivate actions going through the services (checks, log, e-mail)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import User
from billing.models import PaymentProfile, State
from tests.helpers import client_for

CHANGELIST = reverse("admin:billing_paymentprofile_changelist")


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("ops@ccm.example", "x" * 20, name="Olga Operator")


def _act(client, action: str, *profiles):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [p.pk for p in profiles]},
        follow=True,
    )


def test_the_state_is_never_editable(operator, bob, make_profile):
    profile = make_profile(bob, State.PENDING)
    url = reverse("admin:billing_paymentprofile_change", args=[profile.pk])
    client = client_for(operator)
    html = client.get(url).content.decode()
    assert 'name="state"' not in html
    client.post(url, {"state": State.ACTIVE})
    assert PaymentProfile.objects.get(pk=profile.pk).state == State.PENDING


def test_the_activate_action_goes_through_the_service(operator, bob, make_profile):
    profile = make_profile(bob, State.PENDING)
    response = _act(client_for(operator), "activate", profile)
    assert "1 payment profile activated." in response.content.decode()
    assert PaymentProfile.objects.get(pk=profile.pk).state == State.ACTIVE
    assert StateLog.objects.get().by == operator
    assert Message.objects.get().to_addresses == ["bob@acme.example"]


def test_the_deactivate_action_goes_through_the_service(operator, bob, make_profile):
    profile = make_profile(bob, State.ACTIVE)
    _act(client_for(operator), "deactivate", profile)
    assert PaymentProfile.objects.get(pk=profile.pk).state == State.INACTIVE
    assert Message.objects.count() == 1


def test_it_reports_refusals_and_acts_on_the_rest(operator, bob, betty, make_profile):
    active = make_profile(betty, State.ACTIVE)
    pending = make_profile(bob, State.PENDING)
    response = _act(client_for(operator), "activate", active, pending)
    html = response.content.decode()
    assert "The payment profile of Betty Bundle is already active." in html
    assert "1 payment profile activated." in html
    assert PaymentProfile.objects.get(pk=pending.pk).state == State.ACTIVE


def test_staff_without_superuser_does_not_reach_it(acme):
    staff = User.objects.create_user("staff@ccm.example", "x" * 20, name="S", is_staff=True)
    response = client_for(staff).get(reverse("admin:index"))
    assert response.status_code == 302
