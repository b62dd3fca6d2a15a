"""Protections that cut across every page: login throttling's key and lockout page,
middleware for request charsets and response headers, and error pages that never
read the request body (the logging of refusals is in accounts/logs.py).

Kept apart from accounts/holds.py (where a user is held) and from the views:
nothing here knows about tenants, plans or payment profiles.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import timedelta

from axes.conf import settings as axes_settings
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.http import parse_header_parameters
from django.utils.log import log_response
from ipware.ip import get_client_ip

# --- Login throttling (django-axes) --------------------------------------------


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The lockout key's e-mail address, normalised as the login form normalises it
    (stripped, lower case), whichever path took the password: /login/, Django's admin
    login (which passes it on as typed), the password change. Otherwise every
    spelling of one address would get a counter of its own."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    return username.strip().lower() if isinstance(username, str) else username


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address for login throttling (AXES_CLIENT_IP_CALLABLE).

    Behind PROXY_COUNT proxies, django-ipware reads it from X-Forwarded-For as the
    settings say (ccm/settings.py). A request that has no such header, or one that
    does not parse as the proxies would write it, did not come through them (a
    client that reached gunicorn directly): its address is the connection's. Axes
    would otherwise key every such client under None, one counter shared by all of
    them, so anyone could lock an address out for all of them."""
    if settings.PROXY_COUNT:
        address, _routable = get_client_ip(
            request,
            proxy_order=axes_settings.AXES_IPWARE_PROXY_ORDER,
            proxy_count=axes_settings.AXES_IPWARE_PROXY_COUNT,
            proxy_trusted_ips=axes_settings.AXES_IPWARE_PROXY_TRUSTED_IPS,
            request_header_order=axes_settings.AXES_IPWARE_META_PRECEDENCE_ORDER,
        )
        if address:
            return address
    return request.META.get("REMOTE_ADDR") or None


def cool_off_in_words(delta: timedelta) -> str:
    """15 minutes, 1 hour, 1 hour 30 minutes (rounded up to the minute)."""
    minutes = max(1, -(-int(delta.total_seconds()) // 60))
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """What a locked-out client gets, whatever it sent (AXES_LOCKOUT_CALLABLE): the same
    page for a right and a wrong password."""
    cool_off = get_cool_off(request)
    return render(
        request,
        "accounts/locked_out.html",
        {"cool_off": cool_off_in_words(cool_off) if cool_off else ""},
        status=axes_settings.AXES_HTTP_RESPONSE_CODE,
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, handing the request to the form, which checks the
    current password through authenticate() (accounts.forms.ThrottledOldPassword)."""

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}


# --- Request charsets ----------------------------------------------------------

# What a form body or a query string is made of: it must read the same in the
# declared charset as in ASCII, or Django cannot parse it.
_ASCII_PROBE = "name=value&other=%41+b;-_.~"


def charset_is_readable(charset: str, content_type: str) -> bool:
    """Whether Django can read a request declaring this charset. Python knows more
    codecs than text encodings: "hex", "rot13" and "base64" turn bytes into bytes or
    str into str and fail when Django decodes with them; UTF-16 and UTF-32 do not
    encode "=" and "&" as ASCII does. Django 5.2 reads a form body (urlencoded) only
    if its charset is spelled "utf-8", in any case, and answers anything else with a
    400 that logs a traceback."""
    if content_type == "application/x-www-form-urlencoded":
        return charset.lower() == "utf-8"
    try:
        name = codecs.lookup(charset).name
        return _ASCII_PROBE.encode(name) == _ASCII_PROBE.encode("ascii")
    except (LookupError, ValueError, TypeError):
        return False


# Where guard_request_charset leaves the charset it took out of CONTENT_TYPE.
UNREADABLE_CHARSET = "ccm.unreadable_charset"


def guard_request_charset(application: Callable) -> Callable:
    """WSGI wrapper (ccm/wsgi.py). Django adopts a request's charset while it builds
    the request, and decodes the query string with it there and then: for "rot13" or
    "hex" that raises before any middleware runs, a 500 from the server itself. Hand
    Django the request without that charset, noting it for RequestCharsetMiddleware,
    which refuses it."""

    def guarded(environ: dict, start_response: Callable):
        content_type, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        charset = params.get("charset")
        if charset is not None and not charset_is_readable(charset, content_type):
            environ = {**environ, "CONTENT_TYPE": content_type, UNREADABLE_CHARSET: charset}
        return application(environ, start_response)

    return guarded


class RequestCharsetMiddleware:
    """Answers 400 to a request whose Content-Type declares a charset Django cannot
    read, before anything reads its body or query string. Django would raise while
    parsing it (a 500 for an unknown codec, or a 400 whose error page parses the form
    again and fails), with a traceback in the log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = request.META.get(UNREADABLE_CHARSET) or request.content_params.get("charset")
        if charset is not None and not charset_is_readable(charset, request.content_type):
            response = bad_request(request, None)
            log_response(
                "Bad Request (unreadable charset %s): %s",
                charset,
                request.path,
                response=response,
                request=request,
            )
            return response
        return self.get_response(request)


# --- Response headers ----------------------------------------------------------

# Browser features the app never uses, refused to the page and to anything framed in it.
# (Not publickey-credentials-get: security keys and passkeys sign in with it.)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "screen-wake-lock",
        "serial",
        "usb",
        "web-share",
        "xr-spatial-tracking",
    )
)


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response; ``Cache-Control: no-store`` on every
    response to a logged-in user whose view did not set Cache-Control itself, so no
    account or billing page stays in a shared browser's cache after logging out.

    Placed before WhiteNoise: static files get the policy too, and (having no
    ``request.user``) keep their own long cache headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response


# --- Error pages (handler400, handler403, handler404, handler500) -----------------
#
# Django's own error views are decorated with requires_csrf_token, which checks the
# CSRF token of a POST again, reading the body again: for a body that could not be
# parsed the first time, the error page itself fails and becomes a 500. These render
# the same templates without looking at the request's body or query string.


def bad_request(request: HttpRequest, exception: Exception | None) -> HttpResponse:
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception | None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None) -> HttpResponse:
    if request.path.startswith("/api/"):  # a script asked: it reads JSON (billing/api.py)
        return JsonResponse({"detail": "There is no such API endpoint."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: whatever failed (the database, a middleware) may fail again.
    return HttpResponseServerError(loader.get_template("500.html").render())
