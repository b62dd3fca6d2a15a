"""Tenant.user_count: the database keeps it (accounts.0009's triggers) through every
way users are written, and a tenant saved from a stale copy does not undo it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Tenant, User
from tests.helpers import make_user

pytestmark = pytest.mark.django_db


def counts(*tenants: Tenant) -> list[int]:
    """What the database says now, and what counting the users says."""
    fresh = {t.pk: t.user_count for t in Tenant.objects.filter(pk__in=[t.pk for t in tenants])}
    return [(fresh[t.pk], User.objects.filter(tenant=t).count()) for t in tenants]


def test_the_orm_bulk_create_and_raw_sql_count(acme, globex):
    make_user("one@acme.test", acme)
    User.objects.bulk_create(
        [User(email=f"bulk{i}@acme.test", name="Bulk", tenant=acme) for i in range(3)]
        + [User(email="bulk@globex.test", name="Bulk", tenant=globex)]
        + [User(email="nobody@ops.test", name="Operator")]  # no tenant: counted nowhere
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, email, name, tenant_id,"
            " is_tenant_admin, is_active, is_staff, date_joined)"
            " VALUES ('', %s, 'raw@acme.test', 'Raw', %s, %s, %s, %s, CURRENT_TIMESTAMP)",
            [False, acme.pk, False, True, False],
        )
    assert counts(acme, globex) == [(5, 5), (1, 1)]


def test_deleting_one_or_many_users_counts_down(acme, globex):
    for i in range(4):
        make_user(f"u{i}@acme.test", acme)
    make_user("g@globex.test", globex)
    User.objects.get(email="u0@acme.test").delete()
    User.objects.filter(email__in=["u1@acme.test", "u2@acme.test", "g@globex.test"]).delete()
    assert counts(acme, globex) == [(1, 1), (0, 0)]


def test_a_user_moved_to_another_tenant_moves_the_count(acme, globex):
    user = make_user("mover@acme.test", acme)
    make_user("stays@acme.test", acme)
    user.tenant = globex
    user.save()
    assert counts(acme, globex) == [(1, 1), (1, 1)]
    User.objects.filter(pk=user.pk).update(tenant=None)  # an operator now
    assert counts(acme, globex) == [(1, 1), (0, 0)]
    User.objects.filter(pk=user.pk).update(tenant=acme, name="Back")
    assert counts(acme, globex) == [(2, 2), (0, 0)]


def test_other_changes_to_a_user_leave_the_count_alone(acme):
    user = make_user("u@acme.test", acme)
    user.name = "Renamed"
    user.save()
    User.objects.filter(pk=user.pk).update(tenant=acme)  # the same tenant again
    assert counts(acme) == [(1, 1)]


def test_a_tenant_saved_from_a_stale_copy_keeps_the_count(acme):
    stale = Tenant.objects.get(pk=acme.pk)  # read before the users are added
    make_user("a@acme.test", acme)
    make_user("b@acme.test", acme)
    stale.name = "Acme Renamed"
    stale.save()  # as Django's admin site saves it: every field
    assert counts(acme) == [(2, 2)]
    assert Tenant.objects.get(pk=acme.pk).name == "Acme Renamed"


def test_a_new_tenant_starts_at_zero(db):
    tenant = Tenant.objects.create(name="New", slug="new")
    assert counts(tenant) == [(0, 0)]


def test_dumpdata_and_loaddata_leave_the_count_to_the_database(acme, tmp_path):
    for i in range(3):
        make_user(f"u{i}@acme.test", acme)
    dump = tmp_path / "acme.json"
    call_command("dumpdata", "accounts.tenant", "accounts.user", output=str(dump), verbosity=0)
    assert "user_count" not in dump.read_text()
    User.objects.all().delete()
    Tenant.objects.all().delete()
    call_command("loaddata", str(dump), verbosity=0)
    assert counts(Tenant.objects.get(slug="acme")) == [(3, 3)]
