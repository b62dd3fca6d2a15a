from __future__ import annotations

from django.contrib.auth import get_user_model
from django_fsm_log.models import StateLog

from billing.models import PaymentProfile, State


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
}


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
        entry.source_label = labels.get(entry.source_state, entry.source_state or "")
        entry.target_label = (
            "Declined" if entry.transition == "decline" else labels.get(entry.state, entry.state)
        )
    return entries
