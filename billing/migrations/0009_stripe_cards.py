"""Cards through Stripe (issue 22): a card is kept as its Stripe PaymentMethod.

``card_token`` held the made-up tokens of the local gateway that came before
(``tok_local_…``), which no processor knows: the column becomes
``stripe_payment_method_id`` and those values are emptied. The cards keep their
brand, last four and expiry, and the profiles their state; the owner enters the
card again when they next change it (README, "Card payments").

On SQLite, altering a column rebuilds the table, which drops billing.0007's indexes
(made by SQL, unknown to Django's state): ``sqlite_indexes_again`` makes them again
after this migration, and before its reversal goes on to 0007's (billing.0010 the
same).
"""

import importlib

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def forget_local_tokens(apps, schema_editor):
    for name in ("PaymentProfile", "PendingChange"):
        model = apps.get_model("billing", name)
        model.objects.exclude(stripe_payment_method_id="").exclude(
            stripe_payment_method_id__startswith="pm_"
        ).update(stripe_payment_method_id="")


def sqlite_indexes_again(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    sort_keys = importlib.import_module("billing.migrations.0007_profile_sort_keys")
    for name, columns in sort_keys.INDEXES:
        listed = ", ".join(("tenant_id", *columns))
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON billing_paymentprofile ({listed})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_profile_held_and_card_index"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_indexes_again),
        migrations.RenameField("paymentprofile", "card_token", "stripe_payment_method_id"),
        migrations.RenameField("pendingchange", "card_token", "stripe_payment_method_id"),
        migrations.AlterField(
            model_name="paymentprofile",
            name="stripe_payment_method_id",
            field=models.CharField(
                blank=True, db_index=True, max_length=255, verbose_name="Stripe PaymentMethod"
            ),
        ),
        migrations.AlterField(
            model_name="pendingchange",
            name="stripe_payment_method_id",
            field=models.CharField(
                blank=True, db_index=True, max_length=255, verbose_name="Stripe PaymentMethod"
            ),
        ),
        migrations.RunPython(forget_local_tokens, migrations.RunPython.noop, elidable=True),
        migrations.AddField(
            model_name="paymentprofile",
            name="card_updated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pendingchange",
            name="card_updated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="paymentprofile",
            name="stripe_customer_id",
            field=models.CharField(blank=True, max_length=255, verbose_name="Stripe customer"),
        ),
        migrations.AddConstraint(
            model_name="paymentprofile",
            constraint=models.UniqueConstraint(
                condition=models.Q(("stripe_customer_id", ""), _negated=True),
                fields=("stripe_customer_id",),
                name="profile_one_stripe_customer",
            ),
        ),
        migrations.CreateModel(
            name="CardSetup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("setup_intent_id", models.CharField(max_length=255, unique=True)),
                ("payment_method_id", models.CharField(max_length=255)),
                ("used_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "profile",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="billing.paymentprofile",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ProcessorEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_id", models.CharField(max_length=255, unique=True)),
                ("type", models.CharField(max_length=100)),
                ("created", models.DateTimeField()),
                ("processed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.RunPython(sqlite_indexes_again, migrations.RunPython.noop),
    ]
