"""Who must use a second factor, whether this session has one, and sudo mode. The one
place that says so; the admin area (accounts.admin_area.tenant_admin_required), the
Django admin (SuperuserTwoFactorMiddleware), the sudo acts and allauth's own pages
(identity.adapters.AccountAdapter) all ask here.

- Superusers always need two-factor sign-in; a tenant's admins do when the tenant's
  "Admins must use two-factor sign-in" is on. Until set up, they are sent to set it up.
- A session has a second factor when allauth recorded one for this user in it: at
  sign-in (its login stage asks every user who has a device), when re-asked, or when
  a device was just set up (identity.signals).
- Sudo mode: an act that needs it asks for the second factor again when the last one
  this session gave is older than SUDO_MAX_AGE (15 minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from allauth.account.internal.flows.login import get_authentication_records
from allauth.core.exceptions import ReauthenticationRequired
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

DEVICE_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)

SET_UP_FOR_ADMINS = (
    "Your tenant asks its admins to use two-factor sign-in. Set it up here, then go on "
    "to the admin area."
)
SET_UP_FOR_SUPERUSERS = (
    "Operators always use two-factor sign-in. Set it up here, then go on to the operators' site."
)
SET_UP_FOR_SUDO = (
    "This asks for a second factor (an authenticator app or a security key). Set one "
    "up here first, then try again."
)


def has_device(user) -> bool:
    """Whether `user` has an authenticator app or a security key (recovery codes alone
    are no device: they come with one)."""
    return Authenticator.objects.filter(user_id=user.pk, type__in=DEVICE_TYPES).exists()


def two_factor_required(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return bool(user.is_tenant_admin and user.tenant_id and user.tenant.admins_must_use_two_factor)


def last_second_factor_at(request: HttpRequest) -> float | None:
    """When this session last gave a second factor (a Unix time), or None."""
    times = [
        record["at"]
        for record in get_authentication_records(request, request.user)
        if record.get("method") == "mfa"
    ]
    return max(times) if times else None


def has_second_factor(request: HttpRequest) -> bool:
    return last_second_factor_at(request) is not None


def second_factor_is_fresh(request: HttpRequest) -> bool:
    at = last_second_factor_at(request)
    return at is not None and time.time() - at < settings.SUDO_MAX_AGE


def _to(url_name: str, request: HttpRequest) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}"


def two_factor_redirect(request: HttpRequest, why: str) -> HttpResponse | None:
    """Where a user who must use two-factor sign-in goes before a page that needs it:
    to set it up when they have no device, to give it when this session has not
    (signed in before it was required, or through the operators' own login page).
    None when they may go on."""
    if not has_device(request.user):
        messages.warning(request, why)
        return redirect(_to("mfa_index", request))
    if not has_second_factor(request):
        return redirect(_to("mfa_reauthenticate", request))
    return None


def admin_area_redirect(request: HttpRequest) -> HttpResponse | None:
    """For tenant_admin_required: None, or where the admin goes first."""
    if not two_factor_required(request.user):
        return None
    why = SET_UP_FOR_SUPERUSERS if request.user.is_superuser else SET_UP_FOR_ADMINS
    return two_factor_redirect(request, why)


def sudo_refusal(request: HttpRequest) -> HttpResponse | None:
    """For a sudo act: a redirect to set up a device (none yet), or None when the last
    second factor is fresh. A stale one raises allauth's ReauthenticationRequired: its
    middleware keeps the request (a POST's form too), asks for the second factor, and
    then runs the request as it was sent."""
    if not has_device(request.user):
        messages.warning(request, SET_UP_FOR_SUDO)
        return redirect(_to("mfa_index", request))
    if not second_factor_is_fresh(request):
        raise ReauthenticationRequired()
    return None


def sudo_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The whole view is a sudo act (its form too: it asks before the admin types)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return sudo_refusal(request) or view(request, *args, **kwargs)

    return wrapped


class SuperuserTwoFactorMiddleware:
    """Superusers give a second factor before Django's admin site (/django-admin/),
    whichever login page they came through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.app_name != "admin" or match.url_name in ("login", "logout"):
            return None
        user = request.user
        if not (user.is_authenticated and user.is_superuser):
            return None
        return two_factor_redirect(request, SET_UP_FOR_SUPERUSERS)
