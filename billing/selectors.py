from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django_fsm_log.models import StateLog

from accounts.timezones import tenant_zone
from billing.models import CARD_EXPIRING_WITHIN, Method, PaymentProfile, State


def user_is_gated(user) -> bool:
    """True when the user needs a payment profile and it is not active."""
    return bool(
        user.is_authenticated
        and user.needs_payment_profile
        and user.payment_profile.state != State.ACTIVE
    )


def profile_activators(user) -> list:
    """Whom `user` can ask to activate their payment profile: every active admin of
    their tenant except themselves (no one may activate their own). Empty when
    only a CloudCenter operator can."""
    if not user.tenant_id:
        return []
    return list(
        get_user_model()
        .objects.filter(tenant_id=user.tenant_id, is_tenant_admin=True, is_active=True)
        .exclude(pk=user.pk)
        .order_by("name", "email")
    )


# Every act in a profile's log, as the history page and the owner's timeline name it.
ACT_LABELS = {
    "submit": "Saved for activation",
    "activate": "Activated",
    "decline": "Declined",
    "deactivate": "Deactivated",
    "change_submit": "Change submitted",
    "change_approve": "Change approved",
    "change_decline": "Change declined",
    "change_withdraw": "Change withdrawn",
    "change_drop": "Change dropped",
    "remind": "Admins reminded",
    "expire": "Deactivated: card expired",
    "setup_reminder": "Reminded to set up a profile",
    "card_warning": "Reminded: card expiring",
}
# The acts only the system does (the scheduled jobs): logged with no one as `by`, and
# shown as done by "the system".
SYSTEM_ACTS = frozenset({"expire", "setup_reminder", "card_warning"})


def profile_history_entries(profile: PaymentProfile, *, limit: int | None = None) -> list[StateLog]:
    """Every logged act on the profile, newest first, with who did it joined in.

    Each entry gets `act_label`, `source_label` and `target_label` (the states'
    names as the Users page shows them: a decline leads to "Declined") without the
    per-row content-type lookups of ``StateLog.get_state_display``.
    """
    labels = dict(State.choices)
    entries = StateLog.objects.for_(profile).select_related("by").order_by("-timestamp", "-pk")
    entries = list(entries[:limit] if limit else entries)
    for entry in entries:
        entry.act_label = ACT_LABELS.get(entry.transition, entry.transition)
        entry.by_system = entry.by_id is None and entry.transition in SYSTEM_ACTS
        entry.source_label = labels.get(entry.source_state, entry.source_state or "")
        entry.target_label = (
            "Declined" if entry.transition == "decline" else labels.get(entry.state, entry.state)
        )
    return entries


# A card's expiry month as one number (year * 12 + month), for range filters.
CARD_MONTH = F("card_exp_year") * 12 + F("card_exp_month")


def month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month


def card_expiring(profile: PaymentProfile, now: datetime) -> datetime | None:
    """When the card in force stops being good, if that is within
    CARD_EXPIRING_WITHIN of `now` (or has passed while the profile is still on it);
    else None. What the banner and the Users page show. Only active and pending
    profiles count. Reads the owner's tenant: load it with the profile."""
    if profile.state not in (State.ACTIVE, State.PENDING):
        return None
    expires = profile.card_expires_at(tenant_zone(profile.user.tenant))
    if expires is None or expires - now > CARD_EXPIRING_WITHIN:
        return None
    return expires


def card_expiring_filter(tenant, now: datetime, prefix: str = "payment_profile__") -> Q:
    """``card_expiring`` as a filter for one tenant's profiles (or, with a prefix,
    users): an expiry month before the month that `now` + CARD_EXPIRING_WITHIN falls
    in, in the tenant's zone."""
    horizon = (now + CARD_EXPIRING_WITHIN).astimezone(tenant_zone(tenant))
    year, month = f"{prefix}card_exp_year", f"{prefix}card_exp_month"
    return Q(
        **{
            f"{prefix}method": Method.CREDIT_CARD,
            f"{prefix}state__in": (State.ACTIVE, State.PENDING),
        }
    ) & (
        Q(**{f"{year}__lt": horizon.year})
        | Q(**{year: horizon.year, f"{month}__lt": horizon.month})
    )
