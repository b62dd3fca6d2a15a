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

from accounts.models import Plan, Tenant, User
from accounts.timezones import tenant_zone
from billing.models import Method, card_expiry_text, profile_status

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

# What the rows read, as plain values: building three model instances a row (the
# user, the plan, the profile with its state machine) took about 170 µs a row,
# most of the export's time at 100,000 users. Nothing else of the profile is read:
# its invoice details and card token stay in the database.
_USER_EXPORT_VALUES = (
    "name",
    "email",
    "is_tenant_admin",
    "plan__name",
    "plan__kind",
    "payment_profile__state",
    "payment_profile__method",
    "payment_profile__pending_change_id",
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
    methods = dict(Method.choices)
    for (
        name,
        email,
        is_admin,
        plan_name,
        plan_kind,
        state,
        method,
        pending_change_id,
        declined_at,
        card_brand,
        card_last4,
        exp_month,
        exp_year,
        changed,
    ) in users.values_list(*_USER_EXPORT_VALUES).iterator(chunk_size=ROWS_PER_FETCH):
        card = method == Method.CREDIT_CARD
        status = profile_status(
            state=state,
            declined=declined_at is not None,
            change_waiting=pending_change_id is not None,
            # User.needs_payment_profile, as the status filter asks it in SQL
            # (accounts.selectors._status_filter): a paid plan in a tenant that
            # requires profiles.
            needed=tenant.require_payment_profile and plan_kind == Plan.Kind.SUBSCRIPTION,
        )
        yield [
            name,
            email,
            plan_name if plan_name is not None else "Bundles only",
            methods[method] if method else "Not set up",
            status.label,
            f"{card_brand} ending in {card_last4}" if card and card_last4 else "",
            card_expiry_text(exp_month, exp_year) if card else "",
            changed.astimezone(zone).isoformat(timespec="seconds") if changed else "",
            "yes" if is_admin else "no",
        ]
