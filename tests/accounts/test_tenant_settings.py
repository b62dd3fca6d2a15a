"""Admin > Settings: whether users on paid subscription plans need a payment profile."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Tenant
from tests.helpers import client_with_second_factor as client_for

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


# --- The scheduled jobs' settings (billing/jobs.py) -------------------------------------


def test_it_shows_each_schedule_option_with_a_sentence(alice, acme):
    html = client_for(alice).get(URL).content.decode()
    for name, sentence in (
        ("pending_digest", "Nothing is sent on days when nothing has waited that long."),
        ("pending_digest_after_hours", "24 by default."),
        ("setup_reminders", "1, 3 and 7 days after their account was created, and no more."),
        ("card_grace_days", "deactivated this many days after the card expired"),
    ):
        assert f'name="{name}"' in html
        assert sentence in html
    hours = re.search(r'<input[^>]*name="pending_digest_after_hours"[^>]*>', html)[0]
    assert 'value="24"' in hours


def test_it_saves_the_schedule_options(alice, acme):
    response = client_for(alice).post(
        URL,
        {
            "require_payment_profile": "on",
            "pending_digest_after_hours": "48",
            "setup_reminders": "on",
            "card_grace_days": "0",
        },
    )
    assert response["Location"] == URL
    tenant = Tenant.objects.get(pk=acme.pk)
    assert tenant.pending_digest is False  # unticked
    assert tenant.pending_digest_after_hours == 48
    assert tenant.setup_reminders is True
    assert tenant.card_grace_days == 0


def test_numbers_left_out_stay_as_they_are(alice, acme):
    Tenant.objects.filter(pk=acme.pk).update(pending_digest_after_hours=12, card_grace_days=3)
    client_for(alice).post(URL, {"require_payment_profile": "on", "pending_digest": "on"})
    tenant = Tenant.objects.get(pk=acme.pk)
    assert (tenant.pending_digest_after_hours, tenant.card_grace_days) == (12, 3)
    assert tenant.pending_digest is True


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pending_digest_after_hours", "0", "Enter a number of hours from 1 to 720."),
        ("pending_digest_after_hours", "721", "Enter a number of hours from 1 to 720."),
        ("pending_digest_after_hours", "a day", "Enter a number of hours from 1 to 720."),
        ("card_grace_days", "-1", "Enter a number of days from 0 to 60."),
        ("card_grace_days", "61", "Enter a number of days from 0 to 60."),
    ],
)
def test_it_refuses_numbers_out_of_range(alice, acme, field, value, message):
    response = client_for(alice).post(URL, {"require_payment_profile": "on", field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    tenant = Tenant.objects.get(pk=acme.pk)
    assert (tenant.pending_digest_after_hours, tenant.card_grace_days) == (24, 7)
