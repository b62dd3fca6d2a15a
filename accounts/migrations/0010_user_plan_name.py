"""The Users page's plan filter and sort by plan from indexes led by the tenant.

- ``User.plan_name``, a copy of the user's plan's name ("" for no plan), filled in
  with one UPDATE; the sort by plan reads it from ``user_list_plan_name_idx``
  (tenant, plan_name, name, email, id) instead of joining every user to their plan
  and sorting them all.
- ``user_list_plan_idx`` (tenant, plan, name, email, id): the plan filter in the
  default order (the plan's own index does not lead with the tenant).

The column has the database default "" too, so that rows written by SQL (COPY,
raw INSERTs) need not name it. On SQLite, Django adds a NOT NULL column by
rebuilding the table, which would drop the triggers of accounts.0009; the column
is added in place there instead (``ALTER TABLE … ADD COLUMN … DEFAULT ''``, which
SQLite allows). Going back drops the column in place too (SQLite 3.35+).
"""

from django.db import migrations, models


def add_column(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "ALTER TABLE \"accounts_user\" ADD COLUMN \"plan_name\" varchar(100) DEFAULT '' NOT NULL"
        )
    else:
        schema_editor.add_field(User, User._meta.get_field("plan_name"))


def drop_column(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    schema_editor.remove_field(User, User._meta.get_field("plan_name"))


def backfill(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    Plan = apps.get_model("accounts", "Plan")
    name = Plan.objects.filter(pk=models.OuterRef("plan_id")).values("name")[:1]
    User.objects.filter(plan__isnull=False).update(plan_name=models.Subquery(name))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_tenant_user_count")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="user",
                    name="plan_name",
                    field=models.CharField(
                        blank=True, db_default="", default="", editable=False, max_length=100
                    ),
                ),
            ],
        ),
        migrations.RunPython(add_column, drop_column),  # the column, after the field's state
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                fields=["tenant", "plan", "name", "email", "id"], name="user_list_plan_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                fields=["tenant", "plan_name", "name", "email", "id"],
                name="user_list_plan_name_idx",
            ),
        ),
    ]
