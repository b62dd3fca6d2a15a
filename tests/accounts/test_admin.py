"""Tenants, plans and users in Django's admin site, with the e-mail as login."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Plan, User
from tests.helpers import client_for


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("ops@ccm.example", "x" * 20, name="Olga Operator")


@pytest.mark.parametrize(
    "name",
    [
        "admin:accounts_tenant_changelist",
        "admin:accounts_plan_changelist",
        "admin:accounts_user_changelist",
        "admin:accounts_user_add",
        "admin:billing_paymentprofile_changelist",
    ],
)
def test_the_models_are_registered(operator, alice, bob, name):
    assert client_for(operator).get(reverse(name)).status_code == 200


def test_a_user_change_page_opens(operator, bob):
    url = reverse("admin:accounts_user_change", args=[bob.pk])
    assert client_for(operator).get(url).status_code == 200


def test_an_operator_adds_a_user_by_email(operator, acme, paid_plan):
    response = client_for(operator).post(
        reverse("admin:accounts_user_add"),
        {
            "email": " New@Acme.Example ",
            "name": "New Person",
            "tenant": acme.pk,
            "plan": paid_plan.pk,
            "usable_password": "false",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new@acme.example")
    assert (user.tenant, user.plan, user.has_usable_password()) == (acme, paid_plan, False)


def test_it_refuses_a_plan_of_another_tenant(operator, acme, globex):
    other = Plan.objects.create(tenant=globex, name="Globex Pro", kind=Plan.Kind.SUBSCRIPTION)
    response = client_for(operator).post(
        reverse("admin:accounts_user_add"),
        {
            "email": "x@acme.example",
            "name": "X",
            "tenant": acme.pk,
            "plan": other.pk,
            "usable_password": "false",
        },
    )
    assert response.status_code == 200
    assert "Pick a plan of the user&#x27;s own tenant." in response.content.decode()
    assert not User.objects.filter(email="x@acme.example").exists()


def test_a_tenant_change_page_shows_its_plans(operator, acme, paid_plan):
    url = reverse("admin:accounts_tenant_change", args=[acme.pk])
    html = client_for(operator).get(url).content.decode()
    assert "Require users on paid subscription plans to set up a payment profile" in html
    assert "Cloud Pro" in html
