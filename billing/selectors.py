from __future__ import annotations

from accounts.models import User
from billing.models import PaymentProfile, State


def profile_of(user: User) -> PaymentProfile | None:
    """The user's payment profile, or None when they never saved one."""
    try:
        return user.payment_profile
    except PaymentProfile.DoesNotExist:
        return None


def profile_state(user: User) -> str:
    profile = profile_of(user)
    return profile.state if profile else State.NONE


def user_is_gated(user) -> bool:
    """True when the user needs a payment profile and it is not active."""
    return bool(
        user.is_authenticated and user.needs_payment_profile and profile_state(user) != State.ACTIVE
    )


def pending_count(tenant) -> int:
    """How many profiles of the tenant await activation."""
    return PaymentProfile.objects.filter(user__tenant=tenant, state=State.PENDING).count()
