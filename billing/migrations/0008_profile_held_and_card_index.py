"""The profile's copy of whether its owner is held at the gate (``held``), and the
indexes that serve the Users page's "Held at the gate" and "Card expiring", each
leading with the tenant.

``held`` is filled in with one UPDATE: the profiles not active whose owner needs
one (their tenant requires profiles and their plan is a paid subscription).

The column has the database default false too, so that rows written by SQL (COPY,
raw INSERTs) need not name it. On SQLite, Django adds a NOT NULL column by
rebuilding the table, which would drop billing.0007's indexes (made by SQL, so unknown to Django's state); the column is
added in place there instead (``ALTER TABLE … ADD COLUMN … DEFAULT 0``, which
SQLite allows). A later migration that rebuilds ``billing_paymentprofile`` on SQLite
must create 0007's indexes again.
"""

from django.db import migrations, models


def add_column(apps, schema_editor) -> None:
    PaymentProfile = apps.get_model("billing", "PaymentProfile")
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            'ALTER TABLE "billing_paymentprofile" ADD COLUMN "held" bool DEFAULT 0 NOT NULL'
        )
    else:
        schema_editor.add_field(PaymentProfile, PaymentProfile._meta.get_field("held"))


def drop_column(apps, schema_editor) -> None:
    PaymentProfile = apps.get_model("billing", "PaymentProfile")
    schema_editor.remove_field(PaymentProfile, PaymentProfile._meta.get_field("held"))


def backfill(apps, schema_editor) -> None:
    PaymentProfile = apps.get_model("billing", "PaymentProfile")
    User = apps.get_model("accounts", "User")
    needed = User.objects.filter(
        tenant__require_payment_profile=True, plan__kind="subscription"
    ).values("pk")
    PaymentProfile.objects.exclude(state="active").filter(user__in=needed).update(held=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_user_search_trigram"),
        ("billing", "0007_profile_sort_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="paymentprofile",
                    name="held",
                    field=models.BooleanField(default=False, db_default=False, editable=False),
                ),
            ],
        ),
        migrations.RunPython(add_column, drop_column),  # the column, after the field's state
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="paymentprofile",
            index=models.Index(
                fields=["tenant", "user"], condition=models.Q(held=True), name="profile_held_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="paymentprofile",
            index=models.Index(
                fields=["tenant", "method", "state", "card_exp_year", "card_exp_month", "user"],
                name="profile_list_card_idx",
            ),
        ),
    ]
