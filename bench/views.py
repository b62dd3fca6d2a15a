"""The floors: what it costs to serve the Users page's 50 rows with no database work.

(c) ``floor``: same middleware stack, same template, same rows built the same way
(``accounts.views.user_list_context``: each row's ``<tr>`` from its values, the
links, the filters' options), but from the first page as ``user_list_page`` read
it before the timing started, with the filter form's plans read then too, so the
view runs no query beyond the session and user of ``login_required``. Whatever
the Users page spends above this is its own (queries, paging, the form).

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

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.forms import DEFAULT_PAGE_SIZE, UserFilterForm
from accounts.selectors import user_list_page
from accounts.views import user_list_context

# Filled by bench.run before the floors are timed.
FLOOR_PAGE: list = []  # [the cleaned UserFilterForm of the first page, its page]
FLOOR_CONTEXT: dict = {}  # e.g. the Admin menu's count, read once
FLOOR_BYTES: list[bytes] = [b""]  # the real Users page, first page


def floor_prepare(tenant) -> None:
    """Read the floor's page now, as the Users page reads its first page (with the
    tenant as fresh as the request's user's: its user_count is the page's count)."""
    tenant = type(tenant).objects.get(pk=tenant.pk)
    filters = UserFilterForm({}, tenant=tenant)
    filters.is_valid()
    filters.plans  # noqa: B018 (read now, not in the timing)
    FLOOR_PAGE[:] = [filters, user_list_page(tenant=tenant, number=1, per_page=DEFAULT_PAGE_SIZE)]


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    filters, page = FLOOR_PAGE
    context = user_list_context(request, filters, page)
    if not request.GET.get("menu"):
        context.update(FLOOR_CONTEXT)  # overrides the context processors' lazy values
    return render(request, "accounts/user_list.html", context)


@login_required
def floor_bytes(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FLOOR_BYTES[0])
