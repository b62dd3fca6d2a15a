"""The Dashboard: for admins, the profiles awaiting activation, said as it is."""

from __future__ import annotations

import re

from django.urls import reverse

from accounts.models import Tenant
from billing.models import State
from tests.helpers import client_for

URL = reverse("accounts:home")


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_it_counts_profiles_awaiting_activation_when_the_tenant_requires_them(
    alice, bob, make_profile
):
    make_profile(bob, State.PENDING)
    text = text_of(client_for(alice).get(URL).content.decode())
    assert "1 payment profile awaits activation" in text
    assert "does not currently require" not in text


def test_it_says_the_tenant_does_not_require_them_when_it_does_not(
    acme, alice, bob, betty, make_profile
):
    Tenant.objects.filter(pk=acme.pk).update(require_payment_profile=False)
    make_profile(bob, State.PENDING)
    make_profile(betty, State.PENDING)
    html = client_for(alice).get(URL).content.decode()
    assert (
        "2 payment profiles await activation and 0 changes await approval. Your tenant "
        "does not currently require payment profiles (Settings), so nobody is held while "
        "they wait." in text_of(html)
    )
    assert f'href="{reverse("accounts:tenant_settings")}"' in html
