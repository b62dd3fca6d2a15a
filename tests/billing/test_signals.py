"""Every user has a payment profile row from the moment they exist: "not set up" is
a row in state none, never a missing row. Walks every way a user is created."""

from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts import services
from accounts.models import User
from billing.models import PaymentProfile, State
from tests.helpers import client_for


def assert_everyone_has_a_blank_profile() -> None:
    assert User.objects.exists()
    assert not User.objects.filter(payment_profile__isnull=True).exists()
    for profile in PaymentProfile.objects.all():
        assert profile.state == State.NONE and profile.method == ""


def test_create_user_and_create_superuser_make_one(db):
    User.objects.create_user("a@example.com", name="A")
    User.objects.create_superuser("root@example.com", "pw", name="Root")
    assert_everyone_has_a_blank_profile()


def test_the_createsuperuser_command_makes_one(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password")
    call_command(
        "createsuperuser", email="ops@example.com", name="Ops", interactive=False, verbosity=0
    )
    assert_everyone_has_a_blank_profile()


def test_add_user_in_the_admin_area_makes_one(alice, acme, paid_plan):
    services.user_create(
        actor=alice, tenant=acme, name="Nina", email="nina@acme.example", plan=paid_plan
    )
    assert_everyone_has_a_blank_profile()


def test_djangos_admin_site_makes_one(acme):
    root = User.objects.create_superuser("root@example.com", "pw", name="Root")
    response = client_for(root).post(
        reverse("admin:accounts_user_add"),
        {
            "email": "Site@Example.com",
            "name": "Site User",
            "tenant": acme.pk,
            "usable_password": "false",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert PaymentProfile.objects.get(user__email="site@example.com").state == State.NONE
    assert_everyone_has_a_blank_profile()


def test_the_demo_seed_makes_one(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    assert_everyone_has_a_blank_profile()


def test_saving_a_user_again_does_not_make_a_second_one(bob):
    User.objects.filter(pk=bob.pk).update(name="Bob Renamed")
    bob.refresh_from_db()
    bob.save()
    assert PaymentProfile.objects.filter(user=bob).count() == 1


def test_the_data_migration_gives_earlier_users_theirs(bob, betty):
    PaymentProfile.objects.filter(user=bob).delete()
    migration = importlib.import_module("billing.migrations.0002_profile_for_every_user")
    migration.create_missing_profiles(apps, connection.schema_editor())
    assert PaymentProfile.objects.get(user=bob).state == State.NONE
    assert PaymentProfile.objects.count() == 2


def test_the_database_refuses_a_second_profile_for_one_user(bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentProfile.objects.create(user=bob)
