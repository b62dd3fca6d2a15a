"""CSV exports: streamed as they are read, and safe to open in a spreadsheet.

``csv_stream`` is not tied to the Users page: any export of rows of text can use it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date

from django.db.models import QuerySet

from accounts.models import Tenant, User
from accounts.timezones import tenant_zone
from billing.models import Method

# A spreadsheet takes a cell that starts with one of these for a formula (a name
# like "=HYPERLINK(...)" typed by a user would run on the admin's machine), so such
# a cell gets a leading apostrophe, which makes it text (OWASP's advice for CSV).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A byte order mark first: Excel, where most admins open a CSV, reads a file without
# one in the machine's legacy code page and garbles every name beyond ASCII
# ("JÃ¼rgen"); with it, UTF-8. Python reads it with encoding="utf-8-sig", and
# LibreOffice and Google Sheets skip it.
BOM = "\ufeff"

# Rows written before the text goes out: one yield per row would be 100,000 tiny
# writes to the socket; this many rows is about 100 kB.
ROWS_PER_WRITE = 500

# Rows fetched from the database at a time (on PostgreSQL through a server-side
# cursor): memory holds one such batch, however many rows the export has.
ROWS_PER_FETCH = 2000


def csv_cell(value: str) -> str:
    """The text as a spreadsheet will show it, never run it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_stream(header: Iterable[str], rows: Iterable[Iterable[str]]) -> Iterator[str]:
    """The CSV text of `header` and `rows` (RFC 4180: quoted where needed, CRLF line
    ends), BOM first, in pieces of ROWS_PER_WRITE rows, written as `rows` is read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(cell) for cell in row])
        if count % ROWS_PER_WRITE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_filename(kind: str, tenant: Tenant, day: date) -> str:
    """ "users-acme-2026-11-26.csv": what, whose, when (the tenant's day)."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "", tenant.slug) or "tenant"
    return f"{kind}-{slug}-{day.isoformat()}.csv"


USER_COLUMNS = (
    "Name",
    "Email",
    "Plan",
    "Payment Method",
    "Profile Status",
    "Card",
    "Card Expiry",
    "Last Changed",
    "Admin",
)

# What the rows read, no more: a profile's invoice details and card token stay in
# the database (and a deferred column read by mistake would be a query per row,
# which tests/accounts/test_user_export.py counts).
_USER_EXPORT_FIELDS = (
    "name",
    "email",
    "is_tenant_admin",
    "tenant",
    "plan__name",
    "plan__kind",
    "payment_profile__user",
    "payment_profile__state",
    "payment_profile__method",
    "payment_profile__pending_change",
    "payment_profile__declined_at",
    "payment_profile__card_brand",
    "payment_profile__card_last4",
    "payment_profile__card_exp_month",
    "payment_profile__card_exp_year",
    "payment_profile__state_changed_at",
)


def user_rows(users: QuerySet[User], tenant: Tenant) -> Iterator[list[str]]:
    """Each of `users` (the tenant's, as accounts.selectors.user_list_for_admin
    gives them) as a row of USER_COLUMNS, in the words the Users page uses. One
    query, read ROWS_PER_FETCH rows at a time. Times are ISO 8601 in the tenant's
    zone, with the offset; a card is its brand, last four and expiry, nothing more."""
    zone = tenant_zone(tenant)
    rows = users.select_related("plan", "payment_profile").only(*_USER_EXPORT_FIELDS)
    for user in rows.iterator(chunk_size=ROWS_PER_FETCH):
        user.tenant = tenant  # the status asks whether the tenant requires profiles
        profile = user.payment_profile
        card = profile.method == Method.CREDIT_CARD
        changed = profile.state_changed_at
        yield [
            user.name,
            user.email,
            user.plan.name if user.plan_id else "Bundles only",
            profile.get_method_display() if profile.method else "Not set up",
            profile.status.label,
            f"{profile.card_brand} ending in {profile.card_last4}"
            if card and profile.card_last4
            else "",
            profile.card_expiry if card else "",
            changed.astimezone(zone).isoformat(timespec="seconds") if changed else "",
            "yes" if user.is_tenant_admin else "no",
        ]
