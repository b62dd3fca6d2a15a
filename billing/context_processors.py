from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.timezones import tenant_zone
from billing.standing import card_expiring
from billing.user_list import awaiting_badge


def card_expiry(request: HttpRequest) -> dict:
    """The banner on every page for a user whose own card expires within 30 days (or
    has expired, and the profile is still on it), unless a new card, or other details
    that can pay, already wait for approval. No query: the profile and tenant come
    with the request's user (accounts.backends), the waiting change only when the
    card is expiring and there is one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    profile = user.payment_profile  # every user has one (billing.signals)
    tenant = user.tenant
    now = timezone.now()
    expires = card_expiring(
        state=profile.state,
        method=profile.method,
        month=profile.card_exp_month,
        year=profile.card_exp_year,
        tz=tenant_zone(tenant),
        now=now,
    )
    if expires is None:
        return {}
    if profile.pending_change_id and profile.pending_change.pays_at(expires, tenant_zone(tenant)):
        return {}
    grace = timedelta(days=tenant.card_grace_days if tenant else 0)
    return {
        "card_expiry": {
            "profile": profile,
            "expired": now >= expires,
            # The first moment it is no longer good; "good through" the day before.
            "last_day": (expires - timedelta(days=1)).astimezone(tenant_zone(tenant)).date(),
            "deactivated_at": expires + grace if profile.state == "active" else None,
        }
    }


def admin_menu(request: HttpRequest) -> dict:
    """What the Admin menu counts for a tenant admin: profiles and changes that wait
    for an admin, capped ("99+", billing.user_list.awaiting_badge). Lazy: the query
    runs only on pages that show the menu."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not (user.is_tenant_admin and user.tenant_id):
        return {}
    return {"awaiting_admin_badge": SimpleLazyObject(lambda: awaiting_badge(user.tenant))}
