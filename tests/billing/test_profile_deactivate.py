"""Deactivate Pay Profile from Admin > Users: confirmation with an optional reason
and OK, the POST through the service, its message and e-mail, and refusals. Who may
open it at all: the URL x role matrix in tests/test_security.py; a POST from a stale
page: tests/billing/test_profile_actions.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.models import Method, PaymentProfile, State
from tests.helpers import buttons, client_for, headings, messages_of, state_of


def url(user) -> str:
    return reverse("billing:profile_deactivate", args=[user.pk])


@pytest.mark.parametrize("popup", [False, True], ids=["page", "popup"])
def test_it_asks_to_confirm_with_an_optional_reason_and_ok(alice, bob, make_profile, popup):
    make_profile(bob, State.ACTIVE, Method.CREDIT_CARD)
    headers = {"X-Requested-With": "fetch"} if popup else {}
    response = client_for(alice).get(url(bob), headers=headers)
    html = response.content.decode()
    assert response.status_code == 200
    assert ("<html" in html) is not popup  # the popup gets the content only
    assert "Deactivate Pay Profile" in headings(html)
    assert '<textarea name="reason"' in html
    assert "OK" in buttons(html)
    assert "Visa ending in 4242" in html
    assert state_of(bob) == State.ACTIVE


def test_it_deactivates_with_the_reason_and_says_so(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    client = client_for(alice)
    response = client.post(url(bob), {"reason": "  Left the company  "}, follow=True)
    assert "Payment profile of Bob User deactivated." in messages_of(response)
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.INACTIVE
    assert profile.deactivation_reason == "Left the company"
    log = StateLog.objects.get()
    assert (log.source_state, log.state, log.by, log.description) == (
        State.ACTIVE,
        State.INACTIVE,
        alice,
        "Left the company",
    )
    row = response.content.decode().split('<tr data-user="bob@acme.example">')[1]
    row = row.split("</tr>")[0]
    assert "Activate Pay Profile" in row
    assert "Deactivate Pay Profile" not in row


def test_it_takes_no_reason_too(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    client_for(alice).post(url(bob), {"reason": ""})
    assert state_of(bob) == State.INACTIVE


def test_it_sends_the_user_back_to_the_gate(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    assert client_for(bob).get(reverse("accounts:home")).status_code == 200
    client_for(alice).post(url(bob))
    response = client_for(bob).get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:gate")


def test_it_queues_the_users_email_with_the_reason(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    client_for(alice).post(url(bob), {"reason": "Bills go to Dora now"})
    message = Message.objects.get()
    assert message.to_addresses == ["bob@acme.example"]
    assert "deactivated" in message.email.body
    assert "Bills go to Dora now" in message.email.body


def test_it_says_a_too_long_reason_is_too_long_and_changes_nothing(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    response = client_for(alice).post(url(bob), {"reason": "x" * 501})
    assert response.status_code == 200
    assert "Keep the reason under 500 characters." in response.content.decode()
    assert state_of(bob) == State.ACTIVE


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (State.INACTIVE, "The payment profile of Bob User is already inactive."),
        (
            State.PENDING,
            "The payment profile of Bob User is pending activation and cannot be deactivated.",
        ),
    ],
)
def test_it_refuses_the_wrong_state_cleanly(alice, bob, make_profile, state, message):
    make_profile(bob, state)
    response = client_for(alice).post(url(bob), follow=True)
    assert response.status_code == 200
    assert message in messages_of(response)
    assert state_of(bob) == state
    assert not Message.objects.exists()


def test_it_refuses_an_admin_their_own_profile(alice, make_profile):
    make_profile(alice, State.ACTIVE)
    response = client_for(alice).post(url(alice), follow=True)
    assert (
        "You cannot deactivate your own payment profile: another admin must do it."
        in messages_of(response)
    )
    assert state_of(alice) == State.ACTIVE


def test_it_is_a_404_to_another_tenants_admin_even_for_an_active_profile(
    charlie, bob, make_profile
):
    make_profile(bob, State.ACTIVE)
    assert client_for(charlie).get(url(bob)).status_code == 404
    assert client_for(charlie).post(url(bob), {"reason": "x"}).status_code == 404
    assert state_of(bob) == State.ACTIVE
