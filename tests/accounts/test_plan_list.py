"""Admin > Plans: the tenant's plans, with their kind and how many users are on each."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import Plan
from tests.helpers import client_for

URL = reverse("accounts:plan_list")


def test_it_lists_this_tenants_plans_only(alice, bob, paid_plan, bundle, globex):
    Plan.objects.create(tenant=globex, name="Globex Secret", kind=Plan.Kind.BUNDLE)
    html = client_for(alice).get(URL).content.decode()
    assert "<td>Cloud Pro</td><td>Paid subscription plan</td><td>1</td>" in html
    assert "<td>Starter Bundle</td><td>Bundle</td><td>1</td>" in html  # alice
    assert "Globex Secret" not in html
    assert "Add plan" in html


def test_it_says_when_there_are_none(charlie):
    assert "No plans yet." in client_for(charlie).get(URL).content.decode()
