"""Times are shown in the tenant's time zone, and say which; <time datetime> keeps
ISO 8601 in UTC without microseconds (accounts.timezones)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.models import Tenant, User
from billing.models import Method, PaymentProfile, State
from billing.services import payment_profile_submit
from tests.helpers import INVOICE_POST, client_for, make_user

# 13:05:07.123456 UTC is 14:05 in Berlin in November (CET), 08:05 in New York (EST).
WHEN = datetime.datetime(2026, 11, 26, 13, 5, 7, 123456, tzinfo=datetime.UTC)
MACHINE = 'datetime="2026-11-26T13:05:07Z"'


@pytest.fixture
def berlin(acme) -> Tenant:
    Tenant.objects.filter(pk=acme.pk).update(time_zone="Europe/Berlin")
    return Tenant.objects.get(pk=acme.pk)


def at_when(user: User, state: str = State.PENDING) -> None:
    PaymentProfile.objects.filter(user=user).update(
        submitted_at=WHEN, state_changed_at=WHEN, deactivated_at=WHEN
    )
    User.objects.filter(pk=user.pk).update(terms_accepted_at=WHEN)


def assert_machine_times_are_utc(html: str) -> None:
    for value in re.findall(r'<time datetime="([^"]*)"', html):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value), value


@pytest.mark.parametrize("state", [State.PENDING, State.INACTIVE])
def test_the_gate_shows_times_in_the_tenants_zone(berlin, bob, make_profile, state):
    make_profile(bob, state)
    at_when(bob)
    html = client_for(bob).get(reverse("billing:gate")).content.decode()
    assert "2026-11-26 14:05 CET" in html
    assert MACHINE in html
    assert_machine_times_are_utc(html)


def test_the_billing_and_account_pages_show_times_in_the_tenants_zone(berlin, bob, make_profile):
    make_profile(bob, State.PENDING)
    at_when(bob)
    client = client_for(bob)
    for url in (reverse("billing:profile_edit"), reverse("accounts:account")):
        html = client.get(url).content.decode()
        assert "2026-11-26 14:05 CET" in html, url
        assert MACHINE in html, url
        assert_machine_times_are_utc(html)


def test_the_admin_pages_show_times_in_the_tenants_zone(berlin, alice, bob):
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE_POST, "method": ""})
    at_when(bob)
    StateLog.objects.update(timestamp=WHEN)
    client = client_for(alice)
    for url, shown in (
        (reverse("billing:user_list"), "2026-11-26 14:05 CET"),
        (reverse("billing:profile_detail", args=[bob.pk]), "2026-11-26 14:05 CET"),
        (reverse("billing:profile_history", args=[bob.pk]), "2026-11-26 14:05:07 CET"),
    ):
        html = client.get(url).content.decode()
        assert shown in html, url
        assert MACHINE in html, url
        assert_machine_times_are_utc(html)


def test_each_tenant_sees_its_own_zone_and_the_zone_ends_with_the_request(
    berlin, globex, bob, make_profile
):
    Tenant.objects.filter(pk=globex.pk).update(time_zone="America/New_York")
    paid = globex.plans.create(name="Pro", kind="subscription")
    gina = make_user("gina@globex.example", globex, plan=paid, name="Gina")
    for user, shown in ((bob, "2026-11-26 14:05 CET"), (gina, "2026-11-26 08:05 EST")):
        make_profile(user, State.PENDING)
        at_when(user)
        assert shown in client_for(user).get(reverse("billing:gate")).content.decode()
    assert timezone.get_current_timezone_name() == "UTC"
