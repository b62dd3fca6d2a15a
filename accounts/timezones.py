"""Times in the tenant's time zone.

Each tenant picks an IANA zone (``Tenant.time_zone``, on its Settings page).
``TenantTimeZoneMiddleware`` activates it for the requests of its users, so
Django's ``localtime`` and the ``date`` filter use it; everyone else (logged out,
operators without a tenant) sees ``settings.TIME_ZONE``. Pages show times with
``{% timestamp %}`` (accounts.templatetags.timestamps), which names the zone.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

NOT_A_TIME_ZONE = "Choose a time zone from the list, for example Europe/Berlin or America/New_York."


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names this machine knows (its tz database)."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(time_zone_names())]


def tenant_zone(tenant) -> zoneinfo.ZoneInfo:
    """The tenant's zone (UTC for none, or a name this machine no longer knows)."""
    name = tenant.time_zone if tenant is not None else ""
    return zoneinfo.ZoneInfo(name if name in time_zone_names() else "UTC")


def validate_time_zone(value: str) -> None:
    """Only a name from the list: never a path or a zone file of our own."""
    if value not in time_zone_names():
        raise ValidationError(NOT_A_TIME_ZONE, code="invalid_time_zone")


class TenantTimeZoneMiddleware:
    """Activates the tenant's time zone for a logged-in user's request, and
    deactivates it afterwards (a thread serves other tenants next)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        # The tenant is loaded with the user (accounts.backends): no query of its own.
        name = user.tenant.time_zone if user.is_authenticated and user.tenant_id else ""
        if name in time_zone_names():
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
