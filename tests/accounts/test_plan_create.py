"""Add plan: a name unique in the tenant, and a kind."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Plan
from tests.helpers import client_for

URL = reverse("accounts:plan_create")


def test_it_adds_a_plan(alice, acme):
    client = client_for(alice)
    response = client.post(URL, {"name": "  Cloud   Enterprise ", "kind": "subscription"})
    assert response["Location"] == reverse("accounts:plan_list")
    plan = Plan.objects.get(tenant=acme, name="Cloud Enterprise")
    assert plan.kind == Plan.Kind.SUBSCRIPTION
    assert "Plan Cloud Enterprise added." in client.get(response["Location"]).content.decode()


def test_a_duplicate_name_says_what_to_fix(alice, acme, paid_plan):
    before = Plan.objects.filter(tenant=acme).count()
    response = client_for(alice).post(URL, {"name": "cloud pro", "kind": "bundle"})
    assert response.status_code == 200
    assert (
        "Your tenant already has a plan named cloud pro. Choose another name."
        in response.content.decode()
    )
    assert Plan.objects.filter(tenant=acme).count() == before


def test_the_same_name_in_another_tenant_is_fine(charlie, globex, paid_plan):
    response = client_for(charlie).post(URL, {"name": "Cloud Pro", "kind": "subscription"})
    assert response.status_code == 302
    assert Plan.objects.filter(name="Cloud Pro").count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "kind": "bundle"}, "Enter the plan&#x27;s name."),
        ({"name": "X"}, "Choose a kind: paid subscription plan or bundle."),
        ({"name": "X", "kind": "free"}, "Choose a kind: paid subscription plan or bundle."),
    ],
)
def test_missing_fields_say_what_to_fix(alice, data, message):
    response = client_for(alice).post(URL, data)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_the_service_refuses_a_duplicate_even_without_the_form(acme, paid_plan):
    with pytest.raises(services.AccountError, match="already has a plan named"):
        services.plan_create(tenant=acme, name="CLOUD PRO", kind=Plan.Kind.BUNDLE)
