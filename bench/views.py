"""The floor: what it costs to serve the Users page's 50 rows with no database work.

Same middleware stack, same base template, same cells and action links, but the
rows are plain data prepared before the timing starts, so the view runs no query.
Whatever the Users page spends above this is its own (queries, paging, forms).
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

# Filled by bench.measure before the floor is timed.
FLOOR_ROWS: list[dict] = []


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    back = quote(reverse("accounts:user_list"), safe="")
    return render(request, "bench/floor.html", {"rows": FLOOR_ROWS, "next": back, "nav": "admin"})
