"""API tokens: made and revoked by a tenant admin on Admin > API tokens, checked on
every call of the API (billing/api.py).

A token reads ``ccm_<id>_<secret>``. Only the SHA-256 of the secret is stored (the
secret is 32 random bytes, so a plain hash is enough: nothing to brute-force), and
the id finds the row without a scan. Whatever is wrong with a token, the caller is
told in words, but never whose it is.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import ApiToken, User

logger = logging.getLogger(__name__)

PREFIX = "ccm_"
NOT_A_TOKEN = "Send a valid API token: Authorization: Bearer ccm_<id>_<secret>."
REVOKED = "This API token was revoked. Make a new one on Admin > API tokens."
EXPIRED = "This API token has expired. Make a new one on Admin > API tokens."
OWNER_GONE = (
    "The admin who made this API token can no longer use the admin area, so neither can the token."
)
# The throttle's window; the number of calls a token may make in it is the setting
# API_CALLS_PER_MINUTE.
WINDOW = timedelta(minutes=1)


class TokenRefused(Exception):
    """A call whose token cannot be used; ``str(error)`` says why. ``status`` is the
    HTTP answer: 401 (no usable token) or 403 (a token whose owner may not act)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class TokenThrottled(Exception):
    """Too many calls with one token in the window; ``wait`` is seconds until the next."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            f"This API token made {settings.API_CALLS_PER_MINUTE} calls in the last minute, "
            f"the most allowed. Try again in {wait} second{'s' if wait != 1 else ''}."
        )
        self.wait = wait


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


def api_token_create(*, admin: User, name: str, expires_at: datetime | None) -> NewToken:
    """Make a token that acts as `admin`; its text is in the result, and only there."""
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name, secret_hash=_digest(secret), created_by=admin, expires_at=expires_at
    )
    logger.info("API token %s made by user %s", token.pk, admin.pk)
    return NewToken(token=token, plaintext=f"{PREFIX}{token.pk}_{secret}")


def tokens_for_admin(admin: User) -> QuerySet[ApiToken]:
    """The tokens of the admin's tenant, newest first (any admin of the tenant sees
    and may revoke them all: a token outlives its maker's attention)."""
    return (
        ApiToken.objects.filter(created_by__tenant_id=admin.tenant_id)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )


def token_for_admin(*, admin: User, pk: int) -> ApiToken:
    """Token `pk` of the admin's tenant, or 404."""
    return get_object_or_404(tokens_for_admin(admin), pk=pk)


def api_token_revoke(*, admin: User, token: ApiToken) -> ApiToken:
    """Revoke a token at once (a second revoke keeps the first time)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    logger.info("API token %s revoked by user %s", token.pk, admin.pk)
    return token


def _parse(raw: str) -> tuple[int, str] | None:
    if not raw.startswith(PREFIX):
        return None
    pk, sep, secret = raw[len(PREFIX) :].partition("_")
    if not (sep and pk.isascii() and pk.isdigit() and len(pk) < 18 and secret):
        return None
    return int(pk), secret


def api_token_authenticate(raw: str) -> ApiToken:
    """The token `raw` names, checked (secret, revoked, expired, owner still an active
    tenant admin) and counted against the throttle; ``last_used_at`` is stamped.
    Raises ``TokenRefused`` or ``TokenThrottled``. Two queries."""
    parsed = _parse(raw.strip())
    if parsed is None:
        raise TokenRefused(NOT_A_TOKEN)
    pk, secret = parsed
    token = ApiToken.objects.select_related("created_by__tenant").filter(pk=pk).first()
    if token is None or not secrets.compare_digest(token.secret_hash, _digest(secret)):
        raise TokenRefused(NOT_A_TOKEN)
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused(REVOKED)
    if token.is_expired(now):
        raise TokenRefused(EXPIRED)
    owner = token.created_by
    if not owner.is_active:
        raise TokenRefused(NOT_A_TOKEN)
    if not (owner.is_tenant_admin and owner.tenant_id):
        raise TokenRefused(OWNER_GONE, status=403)
    _count_call(token, now)
    return token


def _count_call(token: ApiToken, now: datetime) -> None:
    """Count one call in the token's window, or refuse it: one UPDATE that matches
    only while the window has room (or has passed), so concurrent calls on any
    number of processes cannot all slip through."""
    limit = settings.API_CALLS_PER_MINUTE
    window_open = Q(window_started_at__gt=now - WINDOW)
    counted = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(~window_open | Q(window_started_at=None) | Q(window_count__lt=limit))
        .update(
            last_used_at=now,
            window_count=Case(When(window_open, then=F("window_count") + 1), default=Value(1)),
            window_started_at=Case(When(window_open, then=F("window_started_at")), default=now),
        )
    )
    if not counted:
        started = token.window_started_at or now
        wait = math.ceil((started + WINDOW - now).total_seconds())
        raise TokenThrottled(max(1, wait))
