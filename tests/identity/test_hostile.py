"""Hostile sign-ins, each refused with a clear page and no session: forged SAML
answers (tampered signature, unsigned, XML signature wrapping, replayed, for another
audience or recipient, expired) from the pysaml2 IdP; forged OpenID Connect answers
(state, nonce, issuer, audience, expired, alg none …) from a hostile provider; an IdP
of one tenant asserting another tenant's address; a password on an "SSO only"
tenant; and a brute force of two-factor codes."""

from __future__ import annotations

import base64
import copy
import re

import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client
from lxml import etree

from accounts.models import User
from identity import services
from tests.helpers import PASSWORD
from tests.identity.conftest import confirm_domain, oidc_tenant, saml_tenant
from tests.identity.hostile_oidc import CLIENT_ID, HostileProvider
from tests.identity.idps import oidc_sign_in, saml_sign_in
from tests.identity.test_saml import start

REFUSED = "Not signed in"


def assert_refused(client: Client, response, *, status: int = 403) -> None:
    assert response.status_code == status, response.content.decode()[:1500]
    assert REFUSED in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # → login


def finish_saml(client: Client, answer: dict, saml_response: str | None = None):
    path = answer["action"].removeprefix("http://testserver")
    response = client.post(
        path,
        {
            "SAMLResponse": saml_response or answer["SAMLResponse"],
            "RelayState": answer.get("RelayState", ""),
        },
    )
    return client.get(response["Location"])


NS = {
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}


def edited(saml_response: str, edit) -> str:
    root = etree.fromstring(base64.b64decode(saml_response))
    edit(root)
    return base64.b64encode(etree.tostring(root)).decode()


# --- SAML -------------------------------------------------------------------------


@pytest.fixture
def saml_acme(saml_idp, acme, alice):
    return saml_tenant(acme, saml_idp, alice)


def test_saml_a_good_answer_signs_in(saml_acme):
    client = Client()
    response = finish_saml(
        client, saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example")
    )
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_saml_a_tampered_signature_is_refused(saml_acme):
    client = Client()
    answer = saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example")

    def to_mallory(root):
        for name_id in root.iterfind(".//saml:NameID", NS):
            name_id.text = "mallory@acme.example"
        for value in root.iterfind(".//saml:AttributeValue", NS):
            if "@" in (value.text or ""):
                value.text = "mallory@acme.example"

    assert_refused(client, finish_saml(client, answer, edited(answer["SAMLResponse"], to_mallory)))
    assert not User.objects.filter(email__in=["sam@acme.example", "mallory@acme.example"]).exists()


def test_saml_an_unsigned_assertion_is_refused(saml_acme):
    client = Client()
    answer = saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example", mode="unsigned")
    assert_refused(client, finish_saml(client, answer))


def test_saml_xml_signature_wrapping_is_refused(saml_acme):
    """XSW: an unsigned assertion for mallory placed first, the signed one for sam kept
    (inside the evil one, where a careless parser still finds its signature)."""
    client = Client()
    answer = saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example")

    def wrap(root):
        signed = root.find("saml:Assertion", NS)
        evil = copy.deepcopy(signed)
        evil.remove(evil.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
        evil.set("ID", "_evil")
        for name_id in evil.iterfind(".//saml:NameID", NS):
            name_id.text = "mallory@acme.example"
        root.remove(signed)
        evil.find("saml:Subject", NS).append(signed)
        root.append(evil)

    assert_refused(client, finish_saml(client, answer, edited(answer["SAMLResponse"], wrap)))
    assert not User.objects.filter(email="mallory@acme.example").exists()


def test_saml_a_replayed_assertion_is_refused(saml_acme):
    client = Client()
    answer = saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example")
    assert finish_saml(client, answer).status_code == 302
    client.post("/logout/")
    assert_refused(client, finish_saml(client, answer))  # the same browser, again
    stranger = Client()
    assert_refused(stranger, finish_saml(stranger, answer))  # someone who captured it


@pytest.mark.parametrize("mode", ["audience", "recipient", "expired"])
def test_saml_an_assertion_for_another_audience_or_recipient_or_expired_is_refused(saml_acme, mode):
    client = Client()
    answer = saml_sign_in(start(client, "sam@acme.example"), "sam@acme.example", mode=mode)
    assert_refused(client, finish_saml(client, answer))


# --- OpenID Connect -----------------------------------------------------------------


@pytest.fixture
def hostile(acme, alice):
    with HostileProvider() as provider:
        services.sso_set_oidc(
            tenant=acme, actor=alice, issuer=provider.base, client_id=CLIENT_ID, client_secret="x"
        )
        confirm_domain(acme, "acme.example")
        services.sso_set_options(
            tenant=acme,
            actor=alice,
            first_sign_in="create",
            default_plan=None,
            sso_only=False,
            break_glass=[],
        )
        yield provider


def hostile_sign_in(client: Client, provider: HostileProvider):
    authorize = start(client, provider.email)
    back = requests.get(authorize, allow_redirects=False, timeout=10).headers["Location"]
    return client.get(back.removeprefix("http://testserver"))


def test_oidc_a_well_behaved_answer_of_the_same_provider_signs_in(hostile):
    client = Client()
    response = hostile_sign_in(client, hostile)
    assert response.status_code == 302, response.content.decode()[:1000]
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize(
    "mode",
    [
        "wrong_state",
        "wrong_nonce",
        "no_nonce",
        "wrong_issuer",
        "wrong_audience",
        "expired",
        "alg_none",
        "wrong_key",
        "hs256_with_public_key",
        "no_id_token",
    ],
)
def test_oidc_a_forged_answer_is_refused(hostile, mode):
    hostile.mode = mode
    client = Client()
    assert_refused(client, hostile_sign_in(client, hostile))
    assert not User.objects.filter(email=hostile.email).exists()


# --- Tenants, passwords, codes --------------------------------------------------------


def test_an_idp_of_acme_cannot_sign_in_an_address_of_globex(oidc_idp, acme, alice, globex, charlie):
    oidc_tenant(acme, oidc_idp, alice)
    confirm_domain(globex, "globex.example")
    for email in ("charlie@globex.example", "new@globex.example", "x@unclaimed.example"):
        client = Client()
        # The login page sends acme.example addresses to acme's IdP; the IdP then
        # asserts someone else's address.
        back = oidc_sign_in(start(client, "eve@acme.example"), email)
        response = client.get(back.removeprefix("http://testserver"))
        assert_refused(client, response)
        assert "may not sign in" in response.content.decode()
    assert not User.objects.filter(email__in=["new@globex.example", "x@unclaimed.example"]).exists()


def test_a_password_is_refused_on_an_sso_only_tenant_except_for_break_glass(
    oidc_idp, acme, alice, dora, bob
):
    oidc_tenant(acme, oidc_idp, alice, sso_only=True, break_glass=[dora])
    for email in ("bob@acme.example", "alice@acme.example", "nobody@acme.example"):
        client = Client()
        response = client.post("/login/", {"username": email, "password": PASSWORD})
        assert response.status_code == 200
        assert "signs in through single sign-on only" in response.content.decode()
        assert "_auth_user_id" not in client.session
    client = Client()
    assert client.post("/login/", {"username": dora.email, "password": PASSWORD}).status_code == 302
    assert "_auth_user_id" in client.session


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_two_factor_codes_are_throttled_like_passwords(alice, settings):
    TOTP.activate(alice, SECRET)
    import pyotp

    client = Client()
    response = client.post("/login/", {"username": alice.email, "password": PASSWORD})
    assert response["Location"] == "/account/two-factor/authenticate/"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/account/two-factor/authenticate/", {"code": "000000"})
        assert response.status_code == 200
        assert "That code is not right" in response.content.decode()
    response = client.post("/account/two-factor/authenticate/", {"code": "000000"})
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    right = client.post("/account/two-factor/authenticate/", {"code": pyotp.TOTP(SECRET).now()})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert not Session.objects.filter(session_key=client.session.session_key).exists() or (
        "_auth_user_id" not in client.session
    )
    assert AccessAttempt.objects.get().username == alice.email
    # The same lockout holds for the password now.
    again = Client().post("/login/", {"username": alice.email, "password": PASSWORD})
    assert again.status_code == 429
    assert re.search("Too many failed log-ins", again.content.decode())
