"""Admin > Sign-in: setting up OpenID Connect (from the issuer's discovery document)
and SAML 2.0 (IdP metadata by URL or XML), the options, domain claims and the
operators' confirmation in /django-admin/; and what an SSO sign-in then does:
link an existing user, refuse a newcomer when the tenant says so, and log out at
the provider too."""

from __future__ import annotations

import re

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib import admin as django_admin
from django.test import Client
from django.urls import reverse

from accounts.models import User
from identity import services
from identity.models import SsoDomain, TenantSso
from tests.helpers import PASSWORD, client_for, client_with_second_factor
from tests.identity.conftest import oidc_tenant, saml_tenant
from tests.identity.idps import CLIENT_ID, CLIENT_SECRET, oidc_sign_in, sso_start


def test_an_admin_sets_up_openid_connect_from_the_issuer(oidc_idp, alice):
    client = client_with_second_factor(alice)
    response = client.post(
        reverse("identity:sso_oidc"),
        {"issuer": oidc_idp.base, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert response["Location"] == reverse("identity:sso_settings")
    sso = TenantSso.objects.get(tenant=alice.tenant)
    assert (sso.protocol, sso.app.client_id, sso.app.settings["server_url"]) == (
        "openid_connect",
        CLIENT_ID,
        oidc_idp.base,
    )
    page = client.get(reverse("identity:sso_settings")).content.decode()
    assert oidc_idp.base in page and "/sso/oidc/acme/login/callback/" in page


def test_a_wrong_issuer_is_refused_at_its_field(alice):
    client = client_with_second_factor(alice)
    response = client.post(
        reverse("identity:sso_oidc"),
        {"issuer": "http://127.0.0.1:9/", "client_id": "x", "client_secret": "y"},
    )
    assert response.status_code == 200
    assert "No OpenID Connect discovery document answered" in response.content.decode()
    assert not TenantSso.objects.exists()


def test_an_admin_sets_up_saml_from_metadata_by_url_or_xml(saml_idp, alice):
    client = client_with_second_factor(alice)
    url = f"{saml_idp.base}/metadata"
    response = client.post(reverse("identity:sso_saml"), {"metadata_url": url})
    assert response["Location"] == reverse("identity:sso_settings")
    assert TenantSso.objects.get().app.settings["idp"]["metadata_url"] == url
    xml = requests.get(url, timeout=10).text
    client.post(reverse("identity:sso_saml"), {"metadata_url": "", "metadata_xml": xml})
    idp = TenantSso.objects.get().app.settings["idp"]
    assert idp["entity_id"] == url and idp["sso_url"] == f"{saml_idp.base}/sso"
    # Our SP metadata, to copy into the IdP.
    metadata = Client().get("/sso/saml/acme/metadata/")
    assert metadata.status_code == 200
    assert b"/sso/saml/acme/acs/" in metadata.content


def test_garbage_metadata_is_refused(alice):
    client = client_with_second_factor(alice)
    response = client.post(reverse("identity:sso_saml"), {"metadata_xml": "<nonsense"})
    assert "No SAML 2.0 IdP metadata could be read" in response.content.decode()


def test_a_domain_takes_effect_once_an_operator_confirms_it(oidc_idp, acme, alice, globex, charlie):
    services.sso_set_oidc(
        tenant=acme, actor=alice, issuer=oidc_idp.base, client_id=CLIENT_ID, client_secret="s"
    )
    client = client_with_second_factor(alice)
    client.post(reverse("identity:domain_add"), {"domain": "@Acme.Example"})
    claim = SsoDomain.objects.get(tenant=acme)
    assert claim.domain == "acme.example" and not claim.is_confirmed
    # Unconfirmed: the address signs in with a password, as before.
    login = Client().post("/login/", {"username": "eve@acme.example", "password": ""})
    assert "Enter your password." in login.content.decode()
    # Globex claims it too (allowed while nobody is confirmed); the operator confirms acme's.
    other = SsoDomain.objects.create(tenant=globex, domain="acme.example")
    root = User.objects.create_superuser(email="root@ops.example", password=PASSWORD, name="Root")
    operator = client_for(root)
    changelist = reverse("admin:identity_ssodomain_changelist")
    operator.post(changelist, {"action": "confirm", "_selected_action": [claim.pk]})
    assert SsoDomain.objects.get(pk=claim.pk).is_confirmed
    response = operator.post(
        changelist, {"action": "confirm", "_selected_action": [other.pk]}, follow=True
    )
    assert "already confirmed for another tenant" in response.content.decode()
    assert not SsoDomain.objects.get(pk=other.pk).is_confirmed
    assert (
        "sso-continue"
        in Client()
        .post("/login/", {"username": "eve@acme.example", "password": ""})
        .content.decode()
    )
    assert SsoDomain in django_admin.site._registry


def test_an_existing_user_is_linked_and_a_newcomer_refused_when_the_tenant_says_so(
    oidc_idp, acme, alice, bob
):
    oidc_tenant(acme, oidc_idp, alice, first_sign_in="refuse")
    client = Client()
    back = oidc_sign_in(sso_start(client, "bob@acme.example"), "bob@acme.example")
    assert client.get(back.removeprefix("http://testserver")).status_code == 302
    assert int(client.session["_auth_user_id"]) == bob.pk
    assert SocialAccount.objects.get(user=bob).provider == "acme"
    stranger = Client()
    back = oidc_sign_in(sso_start(stranger, "new@acme.example"), "new@acme.example")
    response = stranger.get(back.removeprefix("http://testserver"))
    assert response.status_code == 403
    assert "ask your admin to add you" in response.content.decode()
    assert not User.objects.filter(email="new@acme.example").exists()


def test_logging_out_ends_the_session_at_the_provider_too(oidc_idp, acme, alice, bob):
    oidc_tenant(acme, oidc_idp, alice)
    client = Client()
    back = oidc_sign_in(sso_start(client, "bob@acme.example"), "bob@acme.example")
    client.get(back.removeprefix("http://testserver"))
    response = client.post("/logout/")
    html = response.content.decode()
    assert f"{oidc_idp.base}/session/end?client_id={CLIENT_ID}" in html.replace("&amp;", "&")
    assert "_auth_user_id" not in client.session


def test_an_sso_user_meets_the_same_gate(saml_idp, acme, alice, bob, make_profile):
    saml_tenant(acme, saml_idp, alice)
    from tests.identity.idps import saml_sign_in
    from tests.identity.test_hostile import finish_saml

    client = Client()
    finish_saml(client, saml_sign_in(sso_start(client, "bob@acme.example"), "bob@acme.example"))
    assert client.get("/")["Location"] == reverse("billing:gate")
    assert client.get("/admin/users/").status_code == 403


@pytest.mark.parametrize("field", ["sso_only"])
def test_sso_only_needs_a_break_glass_admin(oidc_idp, acme, alice, field):
    services.sso_set_oidc(
        tenant=acme, actor=alice, issuer=oidc_idp.base, client_id=CLIENT_ID, client_secret="s"
    )
    client = client_with_second_factor(alice)
    response = client.post(
        reverse("identity:sso_options"), {"first_sign_in": "create", field: "on"}
    )
    assert "Name at least one admin as a break-glass account" in response.content.decode()
    assert not TenantSso.objects.get().sso_only


def test_the_history_says_who_came_in_through_sso(oidc_idp, acme, alice, bob):
    from django_fsm_log.models import StateLog

    oidc_tenant(acme, oidc_idp, alice)
    for email in ("bob@acme.example", "newbie@acme.example", "bob@acme.example"):
        client = Client()
        back = oidc_sign_in(sso_start(client, email), email)
        assert client.get(back.removeprefix("http://testserver")).status_code == 302
    entries = StateLog.objects.filter(transition__in=["sso_signup", "sso_link"])
    assert sorted((e.transition, e.by.email) for e in entries) == [
        ("sso_link", "bob@acme.example"),  # once, not at every sign-in
        ("sso_signup", "newbie@acme.example"),
    ]
    page = client_for(alice).get(reverse("billing:profile_history", args=[bob.pk]))
    assert "First signed in through SSO" in page.content.decode()


def test_logging_out_of_a_saml_sign_in_sends_a_logout_request_to_the_idp(
    saml_idp, acme, alice, bob
):
    from urllib.parse import parse_qs, urlparse

    from tests.identity.idps import saml_sign_in
    from tests.identity.test_hostile import finish_saml

    saml_tenant(acme, saml_idp, alice)
    client = Client()
    finish_saml(client, saml_sign_in(sso_start(client, "bob@acme.example"), "bob@acme.example"))
    assert "_auth_user_id" in client.session
    html = client.post("/logout/").content.decode().replace("&amp;", "&")
    url = urlparse(re.search(r'id="sso-continue" href="([^"]+)"', html)[1])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{saml_idp.base}/slo"
    assert "SAMLRequest" in parse_qs(url.query)
    assert "_auth_user_id" not in client.session
