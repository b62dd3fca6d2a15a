"""The floors: what it costs to serve the Users page's 50 rows with no database work.

(c) ``floor``: the Users page's own view (billing.views.user_list), the same
middleware, template and rows, but served the first page as ``user_list_page``
read it before the timing started (and the filter form's plans and the Admin
menu's count read then too), so the view runs no query beyond the session and
user of ``login_required``. Whatever the Users page spends above this is its
reads.

(d) ``floor_bytes``: the real first page's bytes, captured once before the timing,
returned as they are through the same middleware (the session and user queries
only, from ``login_required``): no template at all. (a)/(d) is what the page costs
beyond a bare response.

``?menu=1`` leaves the Admin menu's own count in (billing.context_processors.
admin_menu, one query on every admin page), so the bench can time that query by
itself (floor with it minus floor without it).
"""

from __future__ import annotations

from unittest import mock

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from billing import context_processors
from billing import views as billing_views
from billing.forms import DEFAULT_PAGE_SIZE, UserFilterForm
from billing.user_list import awaiting_badge, user_list_page

# Filled by bench.run (floor_prepare) before the floors are timed.
FLOOR_PAGE: list = []  # [the first page, the tenant's plans, the Admin menu's count]
FLOOR_BYTES: list[bytes] = [b""]  # the real Users page, first page


def floor_prepare(tenant) -> None:
    """Read the floor's page now, as the Users page reads its first page (with the
    tenant as fresh as the request's user's: its user_count is the page's count)."""
    tenant = type(tenant).objects.get(pk=tenant.pk)
    plans = UserFilterForm({}, tenant=tenant).plans
    page = user_list_page(tenant=tenant, number=1, per_page=DEFAULT_PAGE_SIZE)
    FLOOR_PAGE[:] = [page, plans, awaiting_badge(tenant)]


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    page, plans, badge = FLOOR_PAGE
    with (
        mock.patch.object(billing_views, "user_list_page", lambda **_: page),
        mock.patch.object(UserFilterForm, "plans", plans),
        mock.patch.object(
            context_processors,
            "awaiting_badge",
            context_processors.awaiting_badge if request.GET.get("menu") else lambda _: badge,
        ),
    ):
        return billing_views.user_list(request)


@login_required
def floor_bytes(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FLOOR_BYTES[0])
