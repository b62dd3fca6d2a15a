"""Admin > Settings: whether users on paid subscription plans need a payment profile."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Tenant
from tests.helpers import client_for

URL = reverse("accounts:tenant_settings")
LABEL = "Require users on paid subscription plans to set up a payment profile"


def test_it_shows_the_option_ticked_when_on(alice, acme):
    html = client_for(alice).get(URL).content.decode()
    assert LABEL in html
    assert 'name="require_payment_profile"' in html
    assert "checked" in html.split('name="require_payment_profile"')[1].split(">")[0]


def test_switching_it_off_lets_paid_users_in(alice, bob, acme):
    assert client_for(bob).get(reverse("accounts:home"))["Location"] == reverse("billing:gate")
    client = client_for(alice)
    response = client.post(URL, {})
    assert response["Location"] == URL
    assert "Settings saved." in client.get(URL).content.decode()
    assert Tenant.objects.get(pk=acme.pk).require_payment_profile is False
    assert client_for(bob).get(reverse("accounts:home")).status_code == 200


def test_switching_it_on_again(alice, acme):
    Tenant.objects.filter(pk=acme.pk).update(require_payment_profile=False)
    client_for(alice).post(URL, {"require_payment_profile": "on"})
    assert Tenant.objects.get(pk=acme.pk).require_payment_profile is True


def test_it_changes_only_the_admins_own_tenant(charlie, acme, globex):
    client_for(charlie).post(URL, {})
    assert Tenant.objects.get(pk=globex.pk).require_payment_profile is False
    assert Tenant.objects.get(pk=acme.pk).require_payment_profile is True


def test_it_shows_and_saves_the_time_zone(alice, acme):
    client = client_for(alice)
    html = client.get(URL).content.decode()
    assert '<select name="time_zone"' in html
    assert '<option value="UTC" selected>' in html
    response = client.post(URL, {"require_payment_profile": "on", "time_zone": "Europe/Berlin"})
    assert response["Location"] == URL
    assert Tenant.objects.get(pk=acme.pk).time_zone == "Europe/Berlin"
    assert '<option value="Europe/Berlin" selected>' in client.get(URL).content.decode()


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "europe/berlin", "CET "])
def test_it_refuses_a_time_zone_that_is_not_one(alice, acme, zone):
    response = client_for(alice).post(URL, {"require_payment_profile": "on", "time_zone": zone})
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"]
    assert Tenant.objects.get(pk=acme.pk).time_zone == "UTC"


def test_the_model_accepts_only_iana_zone_names(acme):
    acme.time_zone = "Nowhere/Special"
    with pytest.raises(ValidationError):
        acme.full_clean()
    acme.time_zone = "Asia/Tokyo"
    acme.full_clean()
