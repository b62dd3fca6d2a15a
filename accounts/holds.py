"""Where a logged-in user is held before they may use the console, and which views
they may still open while held. The one place that says so.

Two holds, checked in this order:
- ``TERMS``: at first login the user accepts the terms of agreement.
- ``PAYMENT_PROFILE``: a user who needs a payment profile (their tenant requires
  one and they are on a paid subscription plan) until it is active. Billing's to
  say (billing.standing.user_is_held), so billing registers it when it starts
  (``register_hold`` in billing.apps): accounts knows the hold's name, not its rule.

A view says which holds it stays open through with ``@open_while(...)`` (outermost,
so the mark is on the function the URLconf calls); ``HoldMiddleware`` reads the
mark in ``process_view``, so the URL is resolved once, by Django. Everything else
sends a held user to the hold's page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import resolve, reverse
from django.utils.functional import SimpleLazyObject

TERMS = "terms"
PAYMENT_PROFILE = "payment_profile"


def _terms_not_accepted(user) -> bool:
    return user.terms_accepted_at is None


# Each hold, in the order they are checked: its name, whether it holds a user, and
# the URL name of the page it sends them to.
_HOLDS: list[tuple[str, Callable[[object], bool], str]] = [
    (TERMS, _terms_not_accepted, "accounts:terms")
]


def register_hold(name: str, holds: Callable[[object], bool], page: str) -> None:
    """Add a hold after those registered before (an app's ready())."""
    if name not in {registered for registered, _, _ in _HOLDS}:
        _HOLDS.append((name, holds, page))


def _page(hold: str) -> str:
    return next(page for name, _, page in _HOLDS if name == hold)


def start_url(user) -> str:
    """Where `user` starts: the page of the hold they are under, or the dashboard."""
    hold = hold_of(user)
    return reverse(_page(hold) if hold else "accounts:home")


def open_while(*holds: str) -> Callable:
    """Mark a view as one a user held by any of `holds` may still open."""

    def mark(view: Callable) -> Callable:
        view.open_while = frozenset(getattr(view, "open_while", ())) | frozenset(holds)
        return view

    return mark


def hold_of(user) -> str | None:
    """The hold `user` is under now, or None when they may use the console."""
    if not user.is_authenticated:
        return None
    return next((name for name, holds, _ in _HOLDS if holds(user)), None)


class HoldMiddleware:
    """Sends a held user to the terms or the payment-profile gate, unless the view
    they asked for is open while held (or is Django's admin site, for operators)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.resolver_match.app_name == "admin":  # /django-admin/: superusers only
            return None
        if request.resolver_match.namespace == "api":  # tokens, not the session's user
            return None
        hold = hold_of(request.user)
        if hold is None or hold in getattr(view_func, "open_while", ()):
            return None
        return redirect(_page(hold))


# The main navigation's links (templates/base.html), by the URL each one opens.
_NAV_LINKS = {"home": "accounts:home", "admin": "billing:user_list", "account": "accounts:account"}


def _navigation(user) -> dict:
    hold = hold_of(user)
    links = {
        key: hold is None or hold in getattr(resolve(reverse(name)).func, "open_while", ())
        for key, name in _NAV_LINKS.items()
    }
    # Where the brand link goes: the dashboard, or for a held user the hold's page.
    links["start"] = start_url(user)
    return links


def navigation(request: HttpRequest) -> dict:
    """Context processor: which links of the main navigation a user may follow now
    (``navigation.home``, ``.admin``, ``.account``: read from the views' own
    ``open_while`` marks), so a held user is not offered pages that only send them
    back to the gate. Lazy, and it reads the user's relations the middleware has
    already loaded: no query of its own."""
    return {"navigation": SimpleLazyObject(lambda: _navigation(request.user))}
