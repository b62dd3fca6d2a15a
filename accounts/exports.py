"""CSV exports: streamed as they are read, and safe to open in a spreadsheet.

``csv_stream`` is not tied to the Users page: any export of rows of text can use it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date

from accounts.models import Tenant

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
