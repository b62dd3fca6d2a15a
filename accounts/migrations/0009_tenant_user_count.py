"""Each tenant's number of users (``Tenant.user_count``), kept by the database.

Triggers on ``accounts_user`` add one for every user inserted into a tenant,
take one away for every user deleted from it, and move one when a user changes
tenant, in the writing transaction, whatever writes: the ORM, ``bulk_create``,
COPY or raw SQL. On PostgreSQL the insert and delete triggers run once a
statement over its transition table (one UPDATE per tenant, however many rows a
COPY loads); SQLite has row triggers only. The count is then backfilled with one
UPDATE. Going back drops the triggers, then the column.

SQLite drops a table's triggers when Django rebuilds the table (an ALTER it cannot
do in place): a later migration that rebuilds ``accounts_user`` on SQLite must
create them again (``create_triggers`` below). tests/accounts/test_user_count.py
fails if they are missing after the migrations.
"""

from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER accounts_user_count_insert AFTER INSERT ON accounts_user
    WHEN NEW.tenant_id IS NOT NULL
    BEGIN
        UPDATE accounts_tenant SET user_count = user_count + 1 WHERE id = NEW.tenant_id;
    END""",
    """CREATE TRIGGER accounts_user_count_delete AFTER DELETE ON accounts_user
    WHEN OLD.tenant_id IS NOT NULL
    BEGIN
        UPDATE accounts_tenant SET user_count = user_count - 1 WHERE id = OLD.tenant_id;
    END""",
    """CREATE TRIGGER accounts_user_count_move AFTER UPDATE OF tenant_id ON accounts_user
    WHEN OLD.tenant_id IS NOT NEW.tenant_id
    BEGIN
        UPDATE accounts_tenant SET user_count = user_count - 1 WHERE id = OLD.tenant_id;
        UPDATE accounts_tenant SET user_count = user_count + 1 WHERE id = NEW.tenant_id;
    END""",
]

POSTGRESQL = [
    """CREATE FUNCTION accounts_user_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE accounts_tenant AS t SET user_count = t.user_count + n.users
        FROM (SELECT tenant_id, count(*) AS users FROM added
              WHERE tenant_id IS NOT NULL GROUP BY tenant_id) AS n
        WHERE t.id = n.tenant_id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION accounts_user_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE accounts_tenant AS t SET user_count = t.user_count - n.users
        FROM (SELECT tenant_id, count(*) AS users FROM removed
              WHERE tenant_id IS NOT NULL GROUP BY tenant_id) AS n
        WHERE t.id = n.tenant_id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION accounts_user_count_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE accounts_tenant SET user_count = user_count - 1 WHERE id = OLD.tenant_id;
        UPDATE accounts_tenant SET user_count = user_count + 1 WHERE id = NEW.tenant_id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER accounts_user_count_insert AFTER INSERT ON accounts_user
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION accounts_user_count_add()""",
    """CREATE TRIGGER accounts_user_count_delete AFTER DELETE ON accounts_user
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION accounts_user_count_remove()""",
    # Row by row, and only for a change of tenant: a statement trigger on every
    # UPDATE of a user (each login writes last_login) would capture both tables.
    """CREATE TRIGGER accounts_user_count_move AFTER UPDATE OF tenant_id ON accounts_user
    FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
    EXECUTE FUNCTION accounts_user_count_move()""",
]

TRIGGERS = ("accounts_user_count_insert", "accounts_user_count_delete", "accounts_user_count_move")
FUNCTIONS = ("accounts_user_count_add", "accounts_user_count_remove", "accounts_user_count_move")

BACKFILL = """UPDATE accounts_tenant SET user_count = (
    SELECT COUNT(*) FROM accounts_user WHERE accounts_user.tenant_id = accounts_tenant.id
)"""


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"sqlite": SQLITE, "postgresql": POSTGRESQL}[vendor]:
        schema_editor.execute(sql, params=None)  # None: the bodies' % are not parameters


def drop_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for name in TRIGGERS:
        on = " ON accounts_user" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")
    if vendor == "postgresql":
        for name in FUNCTIONS:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_user_search_trigram")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="user_count",
            field=models.PositiveIntegerField(default=0, editable=False, serialize=False),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
