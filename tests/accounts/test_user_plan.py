"""Change plan: move a user to another plan of the tenant."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Plan, User
from tests.helpers import client_for, db_snapshot


def url(user) -> str:
    return reverse("accounts:user_plan", args=[user.pk])


def test_it_shows_the_current_plan(alice, bob):
    html = client_for(alice).get(url(bob)).content.decode()
    assert "Change plan of Bob User" in html
    assert "is on Cloud Pro" in html


def test_it_moves_the_user_and_goes_back_to_the_list(alice, bob, bundle):
    client = client_for(alice)
    response = client.post(url(bob), {"plan": bundle.pk, "next": "/admin/users/?q=bob"})
    assert response["Location"] == "/admin/users/?q=bob"
    assert User.objects.get(pk=bob.pk).plan == bundle
    page = client.get(response["Location"])
    assert "Bob User is now on Starter Bundle." in page.content.decode()


def test_no_plan_means_bundles_only(alice, bob):
    client_for(alice).post(url(bob), {"plan": ""})
    assert User.objects.get(pk=bob.pk).plan is None


def test_moving_onto_a_paid_plan_gates_the_user(alice, betty, paid_plan):
    assert client_for(betty).get(reverse("accounts:home")).status_code == 200
    client_for(alice).post(url(betty), {"plan": paid_plan.pk})
    assert client_for(betty).get(reverse("accounts:home"))["Location"] == reverse("billing:gate")


def test_a_plan_of_another_tenant_is_refused(alice, bob, paid_plan, globex):
    other = Plan.objects.create(tenant=globex, name="Globex Pro", kind=Plan.Kind.SUBSCRIPTION)
    response = client_for(alice).post(url(bob), {"plan": other.pk})
    assert response.status_code == 200
    assert "Pick one of your tenant&#x27;s plans." in response.content.decode()
    assert User.objects.get(pk=bob.pk).plan == paid_plan


OWN_PLAN_REFUSAL = "You cannot change your own plan: another admin must do it."


def test_the_service_refuses_an_admins_own_plan(alice, paid_plan, bundle):
    from accounts import services

    with pytest.raises(services.AccountError, match="You cannot change your own plan"):
        services.user_change_plan(actor=alice, user=alice, plan=paid_plan)
    assert User.objects.get(pk=alice.pk).plan == bundle


def test_another_admin_changes_an_admins_plan(alice, dora, paid_plan):
    client_for(dora).post(url(alice), {"plan": paid_plan.pk})
    assert User.objects.get(pk=alice.pk).plan == paid_plan


def test_an_admins_own_change_plan_page_says_no_up_front(alice, bob):
    client = client_for(alice)
    save = '<button type="submit" class="btn btn-primary">'
    html = client.get(url(alice)).content.decode()
    assert OWN_PLAN_REFUSAL in html
    assert "<select" not in html and save not in html
    other = client.get(url(bob)).content.decode()  # what she gets for someone else
    assert OWN_PLAN_REFUSAL not in other
    assert "<select" in other and save in other


def test_posting_an_admins_own_plan_changes_nothing(alice, paid_plan, bundle):
    client = client_for(alice)
    before = db_snapshot()
    response = client.post(url(alice), {"plan": paid_plan.pk, "next": "/admin/users/"})
    assert response.status_code == 200
    assert OWN_PLAN_REFUSAL in response.content.decode()
    assert db_snapshot() == before
    assert User.objects.get(pk=alice.pk).plan == bundle


def test_the_users_page_offers_no_change_plan_on_the_admins_own_row(alice, dora, bob):
    html = client_for(alice).get(reverse("billing:user_list")).content.decode()
    assert reverse("accounts:user_plan", args=[alice.pk]) not in html
    assert reverse("accounts:user_plan", args=[bob.pk]) in html
    assert reverse("accounts:user_plan", args=[dora.pk]) in html
    other = client_for(dora).get(reverse("billing:user_list")).content.decode()
    assert reverse("accounts:user_plan", args=[alice.pk]) in other
