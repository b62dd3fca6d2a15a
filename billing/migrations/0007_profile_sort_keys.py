"""The Users page's copies on each payment profile (its owner's tenant, the rank of
its status in workflow order) and the indexes that serve the page's sorts on a
profile column, each leading with the tenant.

The backfill is one UPDATE over every profile. The ranks are those of
billing.models.STATUS_ORDER as of this migration (written out: a later change of
the order needs a migration of its own).

The indexes are created here rather than declared on the model: the page orders
``state_changed_at`` with never-changed (NULL) first ascending and last
descending, which a plain index gives on SQLite (NULL sorts first there) but on
PostgreSQL only an index built ``NULLS FIRST``, a clause SQLite's CREATE INDEX
does not take.
"""

from django.db import migrations, models

PENDING, CHANGE_PENDING, DECLINED, NONE, ACTIVE, INACTIVE, NOT_REQUIRED = range(7)

# (name, columns after tenant_id); state_changed_at gets NULLS FIRST on PostgreSQL.
INDEXES = (
    ("profile_list_status_idx", ("status_rank", "state_changed_at", "user_id")),
    ("profile_list_method_idx", ("method", "state_changed_at", "user_id")),
    ("profile_list_changed_idx", ("state_changed_at", "user_id")),
)


def backfill(apps, schema_editor) -> None:
    PaymentProfile = apps.get_model("billing", "PaymentProfile")
    User = apps.get_model("accounts", "User")
    needed = User.objects.filter(
        tenant__require_payment_profile=True, plan__kind="subscription"
    ).values("pk")
    rank = models.Case(
        models.When(state="pending", then=PENDING),
        models.When(state="active", pending_change__isnull=False, then=CHANGE_PENDING),
        models.When(state="active", then=ACTIVE),
        models.When(state="inactive", declined_at__isnull=False, then=DECLINED),
        models.When(state="inactive", then=INACTIVE),
        models.When(user__in=needed, then=NONE),
        default=NOT_REQUIRED,
    )
    owner = User.objects.filter(pk=models.OuterRef("user_id")).values("tenant_id")[:1]
    PaymentProfile.objects.update(tenant=models.Subquery(owner), status_rank=rank)


def _column(name: str, vendor: str) -> str:
    return f"{name} NULLS FIRST" if vendor == "postgresql" and name == "state_changed_at" else name


def create_indexes(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for name, columns in INDEXES:
        listed = ", ".join(_column(column, vendor) for column in ("tenant_id", *columns))
        schema_editor.execute(f"CREATE INDEX {name} ON billing_paymentprofile ({listed})")


def drop_indexes(apps, schema_editor) -> None:
    for name, _columns in INDEXES:
        schema_editor.execute(f"DROP INDEX {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_api_tokens"),
        ("billing", "0006_profile_emails_and_log_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="paymentprofile",
            name="status_rank",
            field=models.PositiveSmallIntegerField(default=6, editable=False),
        ),
        migrations.AddField(
            model_name="paymentprofile",
            name="tenant",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=models.deletion.CASCADE,
                related_name="+",
                to="accounts.tenant",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
