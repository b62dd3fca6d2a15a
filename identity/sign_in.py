"""Signing in and out, between our pages and allauth's flows."""

from __future__ import annotations

import logging

import requests
from allauth.account.internal.flows.login import record_authentication
from allauth.account.utils import perform_login
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from onelogin.saml2.errors import OneLogin_Saml2_Error

from identity.adapters import refusal_page
from identity.models import TenantSso
from identity.services import SESSION_KEY

logger = logging.getLogger(__name__)


def password_signed_in(request: HttpRequest, user, *, next_url: str) -> HttpResponse:
    """The password was right: allauth's login stages take over (a second factor for
    anyone who has one), then log the user in."""
    record_authentication(request, user, "password", email=user.email)
    return perform_login(request, user, email_verification="none", redirect_url=next_url)


def _onward(request: HttpRequest, url: str, heading: str, text: str) -> HttpResponse:
    """A page that sends the browser on to `url` at once (and a Continue link): a
    redirect from a form's POST to another site is refused by our CSP (form-action
    'self'), which Chromium applies to the redirects of a form's submission."""
    return render(
        request, "identity/sso_continue.html", {"url": url, "heading": heading, "text": text}
    )


def sso_begin(request: HttpRequest, sso: TenantSso, *, next_url: str) -> HttpResponse:
    """Off to the tenant's identity provider (allauth builds the request: OpenID
    Connect's authorization URL with state, nonce and PKCE, or SAML's AuthnRequest)."""
    provider = sso.app.get_provider(request)
    request.META["HTTP_HOST"] = request.get_host()  # python3-saml reads it itself
    try:
        response = provider.redirect(request, AuthProcess.LOGIN, next_url=next_url)
    except (OneLogin_Saml2_Error, OAuth2Error, requests.RequestException, ValueError):
        logger.warning("SSO of tenant %s could not start", sso.tenant_id, exc_info=True)
        return refusal_page(
            request,
            f"{sso.tenant.name}'s sign-in page cannot be reached or is not set up right. "
            "Try again in a few minutes; if it goes on, tell your admin.",
            status=502,
        )
    if not response.has_header("Location"):
        return response  # allauth's error page
    return _onward(
        request,
        response["Location"],
        "Continue at your organisation's sign-in",
        f"{sso.tenant.name} signs you in through its own sign-in page.",
    )


def _provider_logout_url(request: HttpRequest, noted: dict) -> str:
    """Where the identity provider ends its own session, when it says it can (OpenID
    Connect's end_session_endpoint: RP-initiated logout; SAML's SingleLogoutService):
    "" otherwise."""
    from allauth.socialaccount.models import SocialApp

    app = SocialApp.objects.filter(pk=noted.get("app")).first()
    if app is None:
        return ""
    back = request.build_absolute_uri(reverse("accounts:login"))
    if app.provider == TenantSso.Protocol.OIDC:
        adapter = app.get_provider(request).get_oauth2_adapter(request)
        try:
            endpoint = adapter.openid_config.get("end_session_endpoint")
        except Exception:
            return ""
        if not endpoint:
            return ""
        query = {"client_id": app.client_id, "post_logout_redirect_uri": back}
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
    if app.provider == TenantSso.Protocol.SAML and noted.get("name_id"):
        from allauth.socialaccount.providers.saml.utils import build_auth

        request.META["HTTP_HOST"] = request.get_host()  # python3-saml reads it itself
        try:
            auth = build_auth(request, app.get_provider(request))
            if not auth.get_slo_url():
                return ""
            return auth.logout(
                return_to=back,
                name_id=noted["name_id"],
                session_index=noted.get("session_index"),
                name_id_format=noted.get("name_id_format"),
            )
        except Exception:
            return ""
    return ""


def log_out(request: HttpRequest) -> HttpResponse:
    """POST only (the URLconf says so): ends our session, and the identity provider's
    where it supports it."""
    noted = request.session.get(SESSION_KEY) or {}
    provider_url = _provider_logout_url(request, noted) if noted else ""
    logout(request)
    if not provider_url:
        return redirect("accounts:login")
    return _onward(
        request,
        provider_url,
        "Signed out of CloudCenter",
        "Now signing you out of your organisation's sign-in too.",
    )
