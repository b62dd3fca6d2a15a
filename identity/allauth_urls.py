"""allauth's views that the app uses, at our paths and under their own (unnamespaced)
names, which allauth's code reverses. Each says which holds it stays open through
(accounts.holds): two-factor set-up and the second-factor prompts are open at the
payment-profile gate (an admin there keeps the admin area, which may ask for them);
the identity providers' answers are open always (a sign-in in progress).

Left out on purpose: allauth's own login, sign-up, password and e-mail pages (ours
are the app's), passkey-only login, "trust this browser"."""

from __future__ import annotations

from functools import wraps

from allauth.mfa.base import views as mfa
from allauth.mfa.recovery_codes import views as recovery
from allauth.mfa.totp import views as totp
from allauth.mfa.webauthn import views as webauthn
from allauth.socialaccount import views as social
from allauth.socialaccount.providers.saml import views as saml
from django.core.exceptions import PermissionDenied
from django.urls import path
from django.views.decorators.http import require_POST

from accounts import views as accounts_views
from accounts.holds import PAYMENT_PROFILE, TERMS, open_while
from identity import oidc
from identity.adapters import refusal_page
from identity.sign_in import log_out

always_open = open_while(TERMS, PAYMENT_PROFILE)


def with_host(view):
    """python3-saml reads the Host header itself (KeyError without one, as from an
    HTTP/1.0 client): give it the host Django validated against ALLOWED_HOSTS."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        request.META["HTTP_HOST"] = request.get_host()
        return view(request, *args, **kwargs)

    return wrapped


def refused_as_page(view):
    """allauth refuses an answer whose sign-in it does not know (a replayed SAML
    assertion, one from another browser) with PermissionDenied: our refusal page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied:
            return refusal_page(
                request,
                "This answer of your identity provider belongs to no sign-in started here "
                "(it was used before, or started in another browser). Start again from the "
                "login page.",
            )

    return wrapped


open_at_gate = open_while(PAYMENT_PROFILE)

TWO_FACTOR = "account/two-factor/"

urlpatterns = [
    # Names allauth reverses for our own login and logout (the routes are accounts'
    # own, listed first in ccm/urls.py: these only give them allauth's names).
    path("login/", always_open(accounts_views.LoginView.as_view()), name="account_login"),
    path("logout/", always_open(require_POST(log_out)), name="account_logout"),
    # Two-factor sign-in, from Account.
    path(TWO_FACTOR, open_at_gate(mfa.index), name="mfa_index"),
    path(f"{TWO_FACTOR}authenticate/", always_open(mfa.authenticate), name="mfa_authenticate"),
    path(
        f"{TWO_FACTOR}reauthenticate/",
        open_at_gate(mfa.reauthenticate),
        name="mfa_reauthenticate",
    ),
    path(f"{TWO_FACTOR}app/activate/", open_at_gate(totp.activate_totp), name="mfa_activate_totp"),
    path(
        f"{TWO_FACTOR}app/deactivate/",
        open_at_gate(totp.deactivate_totp),
        name="mfa_deactivate_totp",
    ),
    path(
        f"{TWO_FACTOR}recovery-codes/",
        open_at_gate(recovery.view_recovery_codes),
        name="mfa_view_recovery_codes",
    ),
    path(
        f"{TWO_FACTOR}recovery-codes/generate/",
        open_at_gate(recovery.generate_recovery_codes),
        name="mfa_generate_recovery_codes",
    ),
    path(
        f"{TWO_FACTOR}recovery-codes/download/",
        open_at_gate(recovery.download_recovery_codes),
        name="mfa_download_recovery_codes",
    ),
    path(f"{TWO_FACTOR}keys/", open_at_gate(webauthn.list_webauthn), name="mfa_list_webauthn"),
    path(f"{TWO_FACTOR}keys/add/", open_at_gate(webauthn.add_webauthn), name="mfa_add_webauthn"),
    path(
        f"{TWO_FACTOR}keys/reauthenticate/",
        open_at_gate(webauthn.reauthenticate_webauthn),
        name="mfa_reauthenticate_webauthn",
    ),
    path(
        f"{TWO_FACTOR}keys/<int:pk>/remove/",
        open_at_gate(webauthn.remove_webauthn),
        name="mfa_remove_webauthn",
    ),
    path(
        f"{TWO_FACTOR}keys/<int:pk>/edit/",
        open_at_gate(webauthn.edit_webauthn),
        name="mfa_edit_webauthn",
    ),
    # The tenants' identity providers.
    path("sso/oidc/<str:provider_id>/login/", always_open(oidc.login), name="openid_connect_login"),
    path(
        "sso/oidc/<str:provider_id>/login/callback/",
        always_open(refused_as_page(oidc.callback)),
        name="openid_connect_callback",
    ),
    path(
        "sso/saml/<str:organization_slug>/acs/", always_open(with_host(saml.acs)), name="saml_acs"
    ),
    path(
        "sso/saml/<str:organization_slug>/acs/finish/",
        always_open(refused_as_page(with_host(saml.finish_acs))),
        name="saml_finish_acs",
    ),
    path(
        "sso/saml/<str:organization_slug>/sls/", always_open(with_host(saml.sls)), name="saml_sls"
    ),
    path(
        "sso/saml/<str:organization_slug>/metadata/",
        always_open(with_host(saml.metadata)),
        name="saml_metadata",
    ),
    path(
        "sso/saml/<str:organization_slug>/login/",
        always_open(with_host(saml.login)),
        name="saml_login",
    ),
    path("sso/error/", always_open(social.login_error), name="socialaccount_login_error"),
    path(
        "sso/cancelled/", always_open(social.login_cancelled), name="socialaccount_login_cancelled"
    ),
]
