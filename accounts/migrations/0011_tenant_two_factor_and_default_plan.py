"""Tenant: "admins must use two-factor sign-in" and the default plan of users added
at a first SSO sign-in (identity/).

On SQLite, adding a foreign key rebuilds accounts_tenant, which the user-count
triggers of accounts.0009 name: they are dropped first and made again after."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_counts = importlib.import_module("accounts.migrations.0009_tenant_user_count")


def drop_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        _counts.drop_triggers(apps, schema_editor)


def create_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        _counts.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_user_plan_name'),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AddField(
            model_name='tenant',
            name='admins_must_use_two_factor',
            field=models.BooleanField(default=False, verbose_name='Admins must use two-factor sign-in'),
        ),
        migrations.AddField(
            model_name='tenant',
            name='default_plan',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.plan', verbose_name='Default plan'),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
