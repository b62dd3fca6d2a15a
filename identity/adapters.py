"""allauth's hooks, where our rules come in.

- AccountAdapter: nobody signs up on their own; a session keeps our backend (the one
  that loads a user with everything the gate needs); allauth's "Signed in as"
  messages stay out (ours say what matters); re-asking for a second factor follows
  identity.policy (sudo mode).
- SocialAccountAdapter: every SSO sign-in passes identity.services.sso_user_for,
  which applies the tenant's rules (its confirmed domains, first sign-in, tenant
  isolation) before allauth logs anyone in; every failure of the protocol (state,
  nonce, signature, audience, expiry …) is our refusal page, with no session.
- MFAAdapter: the authenticator app's label.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest
from django.shortcuts import render

from identity import policy

BACKEND = "accounts.backends.EmailBackend"
# allauth's own messages about signing in and out: the app never showed any.
_QUIET = ("account/messages/logged_in.txt", "account/messages/logged_out.txt")


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def login(self, request: HttpRequest, user) -> None:
        user.backend = BACKEND
        super().login(request, user)

    def add_message(self, request, level, message_template=None, *args, **kwargs) -> None:
        if message_template in _QUIET:
            return
        super().add_message(request, level, message_template, *args, **kwargs)

    def is_reauthentication_required(self, *, app: str = "", **kwargs) -> bool:
        """allauth asks before its two-factor pages change anything (add a key, remove
        the app, new recovery codes): with no device yet there is nothing to ask for;
        otherwise the last second factor must be fresh, as for every sudo act."""
        request = context.request
        if not policy.has_device(request.user):
            return False
        return not policy.second_factor_is_fresh(request)


def refusal_page(request: HttpRequest, message: str, *, status: int = 403):
    """What a refused SSO sign-in shows: what happened and what to do, no session."""
    from django.contrib.auth import logout

    logout(request)
    return render(request, "identity/sso_refused.html", {"message": message}, status=status)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        from identity import services

        try:
            services.sso_user_for(request=request, sociallogin=sociallogin)
        except services.SsoRefused as refused:
            raise ImmediateHttpResponse(refusal_page(request, str(refused))) from None

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        from identity.services import log_refusal

        log_refusal(provider=provider, error=error, exception=exception, extra=extra_context)
        raise ImmediateHttpResponse(
            refusal_page(
                request,
                "Your identity provider's answer could not be accepted, so you are not "
                "signed in. Start again from the login page; if it happens again, tell "
                "your admin the time it happened.",
            )
        )

    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        return False  # sso_user_for adds the user before allauth would ask

    def send_notification_mail(self, *args, **kwargs) -> None:
        return None  # "a third-party account was connected": ours is the tenant's IdP


class MFAAdapter(DefaultMFAAdapter):
    def get_totp_label(self, user) -> str:
        return user.email
