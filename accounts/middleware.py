from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import ResolverMatch, resolve
from django.urls.exceptions import Resolver404

# Pages a user may open before accepting the terms of agreement.
TERMS_EXEMPT = {
    "accounts:terms",
    "accounts:login",
    "accounts:logout",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
}


def resolve_request(request: HttpRequest) -> ResolverMatch | None:
    try:
        return resolve(request.path_info)
    except Resolver404:
        return None


def url_name(request: HttpRequest) -> str | None:
    """The namespaced URL name of the request's path, or None if it has none."""
    match = resolve_request(request)
    return match.view_name if match else None


def is_exempt_path(request: HttpRequest) -> bool:
    """Static files and Django's own admin site (superusers only) are never held."""
    return request.path_info.startswith(("/" + settings.STATIC_URL.lstrip("/"), "/django-admin/"))


class TermsMiddleware:
    """At first login the user must accept the terms of agreement before anything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and user.terms_accepted_at is None
            and not is_exempt_path(request)
            and url_name(request) not in TERMS_EXEMPT
        ):
            return redirect("accounts:terms")
        return self.get_response(request)
