"""The Users page's search (name or e-mail containing the text, ignoring case)
from an index on PostgreSQL: a trigram GIN index, led by the tenant.

``icontains`` is ``UPPER(column::text) LIKE UPPER('%text%')`` on PostgreSQL, so the
index is on exactly those expressions. btree_gin lets a GIN index hold the tenant
too, so another tenant's users are never read. SQLite has no such index and scans
the tenant's users (bench/results.md says so). The extensions and the index exist
on PostgreSQL only. Both extensions are trusted (PostgreSQL 13+): the database's
owner may create them. Going back drops the index and leaves the extensions,
which other indexes may use.
"""

from django.db import migrations

INDEX = "user_search_trgm_idx"


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    schema_editor.execute(
        f"CREATE INDEX {INDEX} ON accounts_user USING gin "
        "(tenant_id, UPPER(name::text) gin_trgm_ops, UPPER(email::text) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_api_tokens")]

    operations = [migrations.RunPython(create_index, drop_index)]
