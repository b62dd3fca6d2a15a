"""The floors: what it costs to serve the Users page's 50 rows with no database work.

(c) ``floor``: same middleware stack, same base template, same cells and action
links, but the rows are plain data prepared before the timing starts, so the view
runs no query. Whatever the Users page spends above this is its own (queries,
paging, forms).

(d) ``floor_bytes``: the real first page's bytes, captured once before the timing,
returned as they are through the same middleware (the session and user queries
only, from ``login_required``): no template at all. (a)/(d) is what the page costs
beyond a bare response.

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

# Filled by bench.run before the floors are timed.
FLOOR_ROWS: list[dict] = []
FLOOR_CONTEXT: dict = {}  # e.g. the Admin menu's count, read once
FLOOR_BYTES: list[bytes] = [b""]  # the real Users page, first page


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    back = quote(reverse("accounts:user_list"), safe="")
    context = {"rows": FLOOR_ROWS, "next": back, "nav": "admin"}
    if not request.GET.get("menu"):
        context.update(FLOOR_CONTEXT)  # overrides the context processors' lazy values
    return render(request, "bench/floor.html", context)


@login_required
def floor_bytes(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FLOOR_BYTES[0])
