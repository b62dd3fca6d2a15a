"""Two-factor sign-in (allauth's MFA, our pages): setting up an authenticator app,
signing in with it and with a recovery code, "admins must use two-factor", the
operators' rule, and sudo mode."""

from __future__ import annotations

import re

import pyotp
import time_machine
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, Tenant, User
from tests.helpers import PASSWORD


def log_in(client: Client, user: User):
    return client.post("/login/", {"username": user.email, "password": PASSWORD})


def set_up_app(client: Client) -> str:
    """Account > Two-factor sign-in > Set up an authenticator app: the key from the
    page, the app's code back. Returns the key."""
    page = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)[1]
    response = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


def recovery_codes(client: Client) -> list[str]:
    page = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    return re.findall(r"<li>([0-9a-z]{8})</li>", page)


def test_an_admin_sets_up_an_app_and_signs_in_with_it_and_with_a_recovery_code(alice):
    client = Client()
    log_in(client, alice)
    secret = set_up_app(client)
    codes = recovery_codes(client)
    assert len(codes) == 10
    assert Authenticator.objects.filter(user=alice, type="totp").exists()
    client.post("/logout/")

    assert log_in(client, alice)["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # not signed in before the code
    response = client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    client.post("/logout/")

    log_in(client, alice)
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    client.post("/logout/")
    log_in(client, alice)
    reused = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert reused.status_code == 200 and "That code is not right" in reused.content.decode()


def test_admins_must_use_two_factor_sends_an_admin_without_it_to_set_up(alice, bob, make_profile):
    Tenant.objects.filter(pk=alice.tenant_id).update(admins_must_use_two_factor=True)
    client = Client()
    log_in(client, alice)
    response = client.get("/admin/users/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_index"))
    page = client.get(response["Location"]).content.decode()
    assert "asks its admins to use two-factor sign-in" in page
    set_up_app(client)
    assert client.get("/admin/users/").status_code == 200
    # A user who is not an admin is not asked.
    make_profile(bob, "active")
    other = Client()
    log_in(other, bob)
    assert other.get("/").status_code == 200


def test_a_superuser_gives_a_second_factor_before_the_django_admin(db):
    root = User.objects.create_superuser(email="root@ops.example", password=PASSWORD, name="Root")
    client = Client()
    client.post(
        "/django-admin/login/",
        {"username": root.email, "password": PASSWORD, "next": "/django-admin/"},
    )
    response = client.get("/django-admin/")
    assert response["Location"].startswith(reverse("mfa_index"))
    set_up_app(client)
    assert client.get("/django-admin/").status_code == 200
    # Signed in again through the operators' login page: asked for the code.
    client.post("/logout/")
    client.post(
        "/django-admin/login/",
        {"username": root.email, "password": PASSWORD, "next": "/django-admin/"},
    )
    assert client.get("/django-admin/")["Location"].startswith(reverse("mfa_reauthenticate"))


def test_making_an_api_token_asks_for_a_fresh_second_factor(alice):
    client = Client()
    log_in(client, alice)
    # No device: set one up first.
    response = client.get(reverse("accounts:api_token_create"))
    assert response["Location"].startswith(reverse("mfa_index"))
    secret = set_up_app(client)
    assert client.get(reverse("accounts:api_token_create")).status_code == 200  # just set up
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        response = client.post(reverse("accounts:api_token_create"), {"name": "ERP"})
        assert response["Location"].startswith(reverse("mfa_reauthenticate"))
        assert not ApiToken.objects.exists()
        # The code, and the token is made from the form as it was sent.
        response = client.post(
            response["Location"], {"code": pyotp.TOTP(secret).now()}, follow=True
        )
        assert ApiToken.objects.get().name == "ERP"
        assert "ccm_" in response.content.decode()


def test_turning_the_payment_requirement_off_asks_for_a_fresh_second_factor(alice):
    client = Client()
    log_in(client, alice)
    response = client.post(reverse("accounts:tenant_settings"), {"require_payment_profile": ""})
    assert response["Location"].startswith(reverse("mfa_index"))
    assert Tenant.objects.get(pk=alice.tenant_id).require_payment_profile
    set_up_app(client)
    response = client.post(reverse("accounts:tenant_settings"), {"require_payment_profile": ""})
    assert response["Location"] == reverse("accounts:tenant_settings")
    assert not Tenant.objects.get(pk=alice.tenant_id).require_payment_profile
    # Turning it on again is no sudo act.
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=1)):
        response = client.post(
            reverse("accounts:tenant_settings"), {"require_payment_profile": "on"}
        )
        assert response["Location"] == reverse("accounts:tenant_settings")
