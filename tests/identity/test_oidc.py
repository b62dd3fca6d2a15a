"""Signing in through a tenant's OpenID Connect provider: the real oidc-provider."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from tests.identity.conftest import oidc_tenant
from tests.identity.idps import oidc_sign_in, sso_start


def start(client: Client, email: str) -> str:
    return sso_start(client, email)


def test_a_new_user_of_an_sso_tenant_signs_in_and_is_added(oidc_idp, acme, alice, paid_plan):
    acme.default_plan = paid_plan
    acme.save()
    oidc_tenant(acme, oidc_idp, alice)
    client = Client()
    back = oidc_sign_in(start(client, "eve@acme.example"), "eve@acme.example")
    assert back.startswith("http://testserver/sso/oidc/acme/login/callback/")
    response = client.get(back.removeprefix("http://testserver"))
    assert response.status_code == 302, response.content.decode()[:3000]
    eve = User.objects.get(email="eve@acme.example")
    assert eve.tenant == acme and eve.plan == paid_plan and not eve.has_usable_password()
    assert client.get("/").status_code == 302  # the terms first
    assert client.get("/").headers["Location"] == "/terms/"
