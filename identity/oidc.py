"""allauth's OpenID Connect provider, made strict for tenants' identity providers.

allauth sends ``state`` and PKCE, checks the ID token's issuer, audience and expiry,
but sends no ``nonce`` and, when the ID token came straight from the token endpoint,
skips its signature (allowed by OpenID Connect Core 3.1.3.7 over TLS). We check both,
always: the nonce the browser's sign-in started with must come back in the ID token,
and the token must be signed by a key of the issuer's JWKS with that key's algorithm
(never ``none``, never HMAC with a public key). The protocol itself stays allauth's
and PyJWT's: this only asks them for the checks they already have.
"""

from __future__ import annotations

import json

from allauth.account.internal.decorators import login_not_required
from allauth.core.internal.deferred import jwt
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import get_random_string

# Asymmetric algorithms only: an HMAC "signature" would be keyed with a public key.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


class TenantOIDCAdapter(OpenIDConnectOAuth2Adapter):
    state: dict | None = None  # the stashed state of this sign-in (set by the callback)

    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        # OpenID Connect's answer always has an ID token; without one allauth would
        # trust the userinfo alone, with no nonce and no signature to check.
        if not kwargs.get("response", {}).get("id_token"):
            raise OAuth2Error("The provider sent no ID token.")
        return super().complete_login(request, app, token, **kwargs)

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as error:
            raise OAuth2Error("The ID token is not a JWT.") from error
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in SIGNING_ALGORITHMS:
            raise OAuth2Error(f"The ID token's algorithm {alg!r} is not accepted.")
        if not kid:
            raise OAuth2Error("The ID token names no signing key.")
        with get_adapter().get_requests_session() as session:
            response = session.get(self.openid_config["jwks_uri"])
            response.raise_for_status()
            keys = response.json()
        jwk = next((k for k in keys.get("keys", []) if k.get("kid") == kid), None)
        if jwk is None or jwk.get("alg", alg) != alg:
            raise OAuth2Error("The ID token is not signed by a key of the issuer.")
        try:
            key = jwt.algorithms.get_default_algorithms()[alg].from_jwk(json.dumps(jwk))
            data = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],
                issuer=self.openid_config["issuer"],
                audience=app.client_id,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise OAuth2Error(f"Invalid ID token: {error}") from error
        expected = (self.state or {}).get("nonce")
        if not expected or data.get("nonce") != expected:
            raise OAuth2Error("The ID token's nonce does not match this sign-in.")
        jwtkit.verify_jti(data)
        return data


class TenantOIDCProvider(OpenIDConnectProvider):
    oauth2_adapter_class = TenantOIDCAdapter

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        nonce = get_random_string(32)
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        auth_params["nonce"] = nonce
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


class _CallbackView(OAuth2CallbackView):
    def _get_state(self, request: HttpRequest, provider):
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2LoginView.adapter_view(TenantOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return _CallbackView.adapter_view(TenantOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
