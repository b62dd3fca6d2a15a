"""accounts.admin_area: what the URL x role matrix in tests/test_security.py does not
walk. The way in is shown to tenant admins only, and a tenant admin held at the
payment-profile gate still gets in (or a lone admin could lock the tenant out)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import PaymentProfile, State
from tests.helpers import client_for

HOME = reverse("accounts:home")


@pytest.mark.parametrize(("who", "shown"), [("alice", True), ("betty", False)])
def test_it_shows_the_admin_link_to_tenant_admins_only(request, who, shown):
    admin_link = f'href="{reverse("billing:user_list")}">Admin'
    html = client_for(request.getfixturevalue(who)).get(HOME).content.decode()
    assert (admin_link in html) is shown


def test_it_stays_open_to_an_admin_held_at_the_gate(alice, bob, paid_plan, make_profile):
    make_profile(bob, State.PENDING)
    alice.plan = paid_plan
    alice.save()
    client = client_for(alice)
    assert client.get(HOME)["Location"] == reverse("billing:gate")
    assert client.get(reverse("billing:user_list")).status_code == 200
    # billing's admin-area views too, by the same decorator: she can act from the gate.
    response = client.post(reverse("billing:profile_activate", args=[bob.pk]))
    assert response["Location"] == reverse("billing:user_list")
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
