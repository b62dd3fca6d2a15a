"""The payment-profile gate: who is held, where, and what they may still open."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import PaymentProfile, State
from tests.helpers import client_for

GATE = reverse("billing:gate")
HOME = reverse("accounts:home")


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (State.NONE, "Set up your payment profile"),
        (State.PENDING, "pending activation"),
        (State.INACTIVE, "has been deactivated"),
    ],
)
def test_it_holds_a_user_without_an_active_profile(bob, make_profile, state, says):
    if state != State.NONE:  # NONE: the profile as it was made with bob
        make_profile(bob, state)
    client = client_for(bob)

    response = client.get(HOME)
    assert response.status_code == 302 and response["Location"] == GATE
    page = client.get(GATE)
    assert page.status_code == 200
    assert says in page.content.decode()


def test_it_tells_a_pending_user_since_when(bob, make_profile):
    profile = make_profile(bob, State.PENDING)
    html = client_for(bob).get(GATE).content.decode()
    assert profile.submitted_at.strftime("%Y-%m-%d") in html


def test_it_tells_a_deactivated_user_to_contact_the_admin(alice, bob, make_profile):
    make_profile(bob, State.INACTIVE)
    assert "Contact your admin" in client_for(bob).get(GATE).content.decode()


def test_it_lets_an_active_user_through(bob, make_profile):
    make_profile(bob, State.ACTIVE)
    client = client_for(bob)
    assert client.get(HOME).status_code == 200
    assert client.get(GATE)["Location"] == HOME


@pytest.mark.parametrize("who", ["betty", "alice"])
def test_it_never_stops_users_who_need_no_profile(request, who):
    user = request.getfixturevalue(who)
    assert client_for(user).get(HOME).status_code == 200


def test_it_stops_nobody_when_the_tenant_does_not_require_profiles(acme, bob):
    acme.require_payment_profile = False
    acme.save()
    assert client_for(bob).get(HOME).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "accounts:account",
        "billing:profile_edit",
        "billing:gate",
        "accounts:password_change",
    ],
)
def test_it_leaves_the_pages_needed_to_get_through_open(bob, name):
    assert client_for(bob).get(reverse(name)).status_code == 200


def test_it_leaves_static_files_and_logout_open(bob):
    client = client_for(bob)
    assert client.get("/static/css/app.css").status_code == 200
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")


@pytest.mark.parametrize("reason", ["Moved to finance.", "Moved to finance"])
def test_it_shows_a_deactivation_reason_with_its_own_punctuation_only(bob, make_profile, reason):
    make_profile(bob, State.INACTIVE)
    PaymentProfile.objects.filter(user=bob).update(deactivation_reason=reason)
    html = client_for(bob).get(GATE).content.decode()
    assert f"“{reason}”" in html
    assert "finance.." not in html and "finance.”." not in html and "finance”." not in html


def test_it_names_the_admins_and_draws_the_navigation_in_three_queries(
    alice, dora, bob, django_assert_num_queries
):
    client = client_for(bob)
    with django_assert_num_queries(3):  # session, user (with tenant, plan, profile), admins
        html = client.get(GATE).content.decode()
    assert 'href="mailto:alice@acme.example"' in html and 'href="mailto:dora@acme.example"' in html
    assert f'href="{HOME}"' not in html  # no Dashboard while held: it sends back here
