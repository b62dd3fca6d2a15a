"""A device just set up counts as this session's second factor: the person proved
they hold it (a code from the app, a touch of the key) to set it up."""

from __future__ import annotations

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.signals import authenticator_added
from django.dispatch import receiver


@receiver(authenticator_added, dispatch_uid="identity.device_added_is_a_second_factor")
def device_added_is_a_second_factor(sender, request, user, authenticator, **kwargs) -> None:
    if request is not None and authenticator.type != authenticator.Type.RECOVERY_CODES:
        record_authentication(
            request, user, "mfa", id=authenticator.pk, type=authenticator.type, set_up=True
        )
