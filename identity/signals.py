"""A device just set up counts as this session's second factor: the person proved
they hold it (a code from the app, a touch of the key) to set it up.

On the row's save, not on allauth's authenticator_added signal: allauth sends that
after the commit, which may come after the session has been saved."""

from __future__ import annotations

from allauth.account.internal.flows.login import record_authentication
from allauth.core import context
from allauth.mfa.models import Authenticator
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

# Sent when someone signs in through SSO for the first time (act "sso_signup": added
# then; "sso_link": an existing user), with `user`, `act` and `description`, in the
# transaction that links their account: billing notes it in the profile's history.
signed_in_through_sso = Signal()


@receiver(post_save, sender=Authenticator, dispatch_uid="identity.device_is_a_second_factor")
def device_set_up_is_a_second_factor(sender, instance, created: bool, raw: bool, **kwargs) -> None:
    request = getattr(context, "request", None)
    if not created or raw or instance.type == Authenticator.Type.RECOVERY_CODES or request is None:
        return
    if getattr(request, "user", None) is not None and request.user.pk == instance.user_id:
        record_authentication(
            request, request.user, "mfa", id=instance.pk, type=instance.type, set_up=True
        )
