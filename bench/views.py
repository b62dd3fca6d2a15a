"""The floor: what it costs to serve the Users page's 50 rows with no database work.

Same middleware stack, same base template, same cells and action links, but the
rows are plain data prepared before the timing starts, so the view runs no query.
Whatever the Users page spends above this is its own (queries, paging, forms).

The base template's Admin menu shows how many profiles and changes wait for an
admin (accounts.context_processors.admin_menu, one query on every admin page).
The floor shows the same number, counted before the timing starts, so it stays
query-free; ``?menu=1`` leaves the context processor's own count in, so the
bench can time that query by itself (floor with it minus floor without it).
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

# Filled by bench.run before the floor is timed.
FLOOR_ROWS: list[dict] = []
FLOOR_CONTEXT: dict = {}  # e.g. the Admin menu's count, read once
FLOOR_BYTES: list[bytes] = []  # the Users page's first page as served, for floor_bytes


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    back = quote(reverse("accounts:user_list"), safe="")
    context = {"rows": FLOOR_ROWS, "next": back, "nav": "admin"}
    if not request.GET.get("menu"):
        context.update(FLOOR_CONTEXT)  # overrides the context processors' lazy values
    return render(request, "bench/floor.html", context)


@login_required
def floor_bytes(request: HttpRequest) -> HttpResponse:
    """Floor (d): the Users page's own bytes, captured from the real page beforehand,
    through the same middleware (its session and user queries only) and no
    template: what serving the page costs without making it."""
    return HttpResponse(FLOOR_BYTES[0] if FLOOR_BYTES else b"")
