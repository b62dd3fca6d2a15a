"""Admin > API tokens: make one (shown once, stored hashed), list, revoke."""

from __future__ import annotations

import hashlib
import re

from django.test import Client

from accounts.models import ApiToken
from accounts.tokens import api_token_create
from tests.helpers import client_with_second_factor as client_for


def test_it_makes_a_token_shown_once_and_stored_hashed(alice):
    response = client_for(alice).post("/admin/api-tokens/add/", {"name": "ERP", "expires_on": ""})
    assert response.status_code == 200
    html = response.content.decode()
    plaintext = re.search(r'value="(ccm_\d+_[^"]+)"', html)[1]
    token = ApiToken.objects.get()
    assert token.name == "ERP" and token.created_by == alice and token.expires_at is None
    secret = plaintext.split("_", 2)[2]
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    listing = client_for(alice).get("/admin/api-tokens/").content.decode()
    assert "ERP" in listing and secret not in listing and "Never" in listing


def test_it_refuses_a_past_expiry_and_an_empty_name(alice):
    response = client_for(alice).post(
        "/admin/api-tokens/add/", {"name": " ", "expires_on": "2000-01-01"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Give the token a name" in html and "Pick a day after today" in html
    assert not ApiToken.objects.exists()


def test_an_expiry_is_the_start_of_the_day(alice):
    client_for(alice).post("/admin/api-tokens/add/", {"name": "T", "expires_on": "2099-01-31"})
    assert ApiToken.objects.get().expires_at.isoformat().startswith("2099-01-31T00:00")


def test_revoking_stops_the_token_at_once(alice, dora):
    new = api_token_create(admin=alice, name="ERP", expires_at=None)
    api = Client(headers={"Authorization": f"Bearer {new.plaintext}"})
    assert api.get("/api/v1/users").status_code == 200
    # Another admin of the tenant may revoke it.
    response = client_for(dora).post(f"/admin/api-tokens/{new.token.pk}/revoke/")
    assert response.status_code == 302
    assert api.get("/api/v1/users").status_code == 401


def test_another_tenants_admin_cannot_see_or_revoke_it(alice, charlie):
    new = api_token_create(admin=alice, name="Ledger sync", expires_at=None)
    client = client_for(charlie)
    assert "Ledger sync" not in client.get("/admin/api-tokens/").content.decode()
    assert client.post(f"/admin/api-tokens/{new.token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None


def test_a_demoted_admins_token_stops_working(alice):
    new = api_token_create(admin=alice, name="ERP", expires_at=None)
    alice.is_tenant_admin = False
    alice.save()
    response = Client(headers={"Authorization": f"Bearer {new.plaintext}"}).get("/api/v1/users")
    assert response.status_code == 403
