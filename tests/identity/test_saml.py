"""Signing in through a tenant's SAML 2.0 IdP: the pysaml2 IdP, signed assertions."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from tests.identity.conftest import saml_tenant
from tests.identity.idps import saml_sign_in, sso_start


def start(client: Client, email: str) -> str:
    return sso_start(client, email)


def post_to_acs(client: Client, answer: dict):
    """The IdP's form, posted to our ACS; then the browser follows to the finish."""
    path = answer["action"].removeprefix("http://testserver")
    response = client.post(
        path, {"SAMLResponse": answer["SAMLResponse"], "RelayState": answer.get("RelayState", "")}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return client.get(response["Location"])


def test_a_new_user_signs_in_through_saml(saml_idp, acme, alice):
    saml_tenant(acme, saml_idp, alice)
    client = Client()
    answer = saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example")
    response = post_to_acs(client, answer)
    assert response.status_code == 302, response.content.decode()[:3000]
    sam = User.objects.get(email="sam@acme.example")
    assert sam.tenant == acme and sam.name == "Sam"
    assert client.get("/").headers["Location"] == "/terms/"
