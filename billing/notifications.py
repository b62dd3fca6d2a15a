"""E-mails about payment profiles: which ones exist and who gets them.

Called by the services inside their transaction; accounts.mail queues each one (a
django-mailer row that commits or rolls back with the state change) and builds
its links. Every e-mail about one profile goes through ``_send`` and is recorded as
a ``ProfileEmail`` in the same transaction: the profile's history page lists them
with their delivery status (the digest, about many profiles, is not one of them).
"""

from __future__ import annotations

import logging

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from mailer.models import get_message_id

from accounts.mail import absolute_url, queue_mail
from accounts.models import User
from accounts.timezones import tenant_zone
from billing.models import PaymentProfile, ProfileEmail

logger = logging.getLogger(__name__)


def user_row_link(user: User) -> str:
    """Admin > Users showing this user's row, with its Actions."""
    return absolute_url(reverse("billing:user_list") + "?" + urlencode({"q": user.email}))


def _send(profile: PaymentProfile, *, to: str, template: str, context: dict) -> None:
    """Queue one e-mail about `profile` and record it for its history page."""
    queued = queue_mail(to=to, template=template, context=context)
    if queued is None:  # not django-mailer's queue (no EMAIL_BACKEND of ours does that)
        return
    email = queued.email
    ProfileEmail.objects.create(
        profile=profile,
        to=to,
        subject=email.subject[:255],
        template=template,
        message_pk=queued.pk,
        message_id=get_message_id(email),
        queued_at=queued.when_added,
    )


def _tell_admins(profile: PaymentProfile, admins: list[User], template: str) -> None:
    user = profile.user
    link = user_row_link(user)
    for admin in admins:
        _send(
            profile,
            to=admin.email,
            template=template,
            context={"admin": admin, "user": user, "profile": profile, "link": link},
        )
    if not admins:
        logger.warning("no admin to tell about payment profile %s (%s)", profile.pk, template)


def profile_submitted(profile: PaymentProfile, admins: list[User]) -> None:
    """Tell the admins that a profile awaits activation."""
    _tell_admins(profile, admins, "profile_submitted")


def change_submitted(profile: PaymentProfile, admins: list[User]) -> None:
    """Tell the admins that a change of an active profile awaits approval."""
    _tell_admins(profile, admins, "change_submitted")


def admins_reminded(profile: PaymentProfile, admins: list[User]) -> None:
    """The owner's "Remind my admins": the profile or its change still waits."""
    _tell_admins(profile, admins, "admins_reminded")


def _tell_user(profile: PaymentProfile, template: str, link_path: str, **context) -> None:
    _send(
        profile,
        to=profile.user.email,
        template=template,
        context={
            "user": profile.user,
            "profile": profile,
            "link": absolute_url(link_path),
            **context,
        },
    )


def profile_activated(profile: PaymentProfile) -> None:
    _tell_user(profile, "profile_activated", "/")


def profile_deactivated(profile: PaymentProfile) -> None:
    _tell_user(profile, "profile_deactivated", reverse("accounts:account"))


def profile_declined(profile: PaymentProfile) -> None:
    _tell_user(profile, "profile_declined", reverse("billing:profile_edit"))


def change_approved(profile: PaymentProfile) -> None:
    _tell_user(profile, "change_approved", reverse("billing:profile_edit"))


def change_declined(profile: PaymentProfile, *, reason: str) -> None:
    _tell_user(profile, "change_declined", reverse("billing:profile_edit"), reason=reason)


# --- Sent by the scheduled jobs (billing/jobs.py) ---------------------------------
# No request has activated the tenant's time zone there: each e-mail shows its
# times in the zone of the tenant it goes to, as the pages do.


def card_cannot_pay(profile: PaymentProfile, admins: list[User]) -> None:
    """The system deactivated the profile because its card cannot pay: it expired and
    was not replaced, or the processor removed it (the templates say which, from
    ``profile.deactivation_reason``)."""
    with timezone.override(tenant_zone(profile.user.tenant)):
        _tell_user(profile, "card_expired", reverse("billing:profile_edit"))
        _tell_admins(profile, admins, "card_expired_admins")


def card_expiring(profile: PaymentProfile, *, expires_at, days: int) -> None:
    """The card on file stops being good at `expires_at`: about `days` days from now."""
    with timezone.override(tenant_zone(profile.user.tenant)):
        _tell_user(
            profile,
            "card_expiring",
            reverse("billing:profile_edit"),
            expires_at=expires_at,
            days=days,
        )


def setup_reminder(profile: PaymentProfile, *, days: int) -> None:
    """The user has been held at the gate without a payment profile for `days` days."""
    _tell_user(profile, "setup_reminder", reverse("billing:profile_edit"), days=days)


def pending_digest(admin: User, items: list) -> None:
    """One admin's daily digest: what has waited longer than the tenant's threshold,
    oldest first (``billing.jobs.Waiting`` items)."""
    with timezone.override(tenant_zone(admin.tenant)):
        queue_mail(
            to=admin.email,
            template="pending_digest",
            context={
                "admin": admin,
                "user": admin,  # the subject names the tenant through `user`
                "items": items,
                "link": absolute_url(reverse("billing:user_list") + "?status=awaiting"),
            },
        )
