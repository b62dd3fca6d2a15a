"""Change plan: move a user to another plan of the tenant."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import Plan, User
from tests.helpers import client_for


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
