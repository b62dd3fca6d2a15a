from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from django.utils import timezone

from accounts.timezones import tenant_zone
from billing.selectors import card_expiring


def card_expiry(request: HttpRequest) -> dict:
    """The banner on every page for a user whose own card expires within 30 days (or
    has expired, and the profile is still on it), unless a new card, or other details
    that can pay, already wait for approval. No query: the profile and tenant come
    with the request's user (accounts.backends), the waiting change only when the
    card is expiring and there is one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    try:
        profile = user.payment_profile
    except ObjectDoesNotExist:
        return {}
    now = timezone.now()
    expires = card_expiring(profile, now)
    if expires is None:
        return {}
    tenant = user.tenant
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
