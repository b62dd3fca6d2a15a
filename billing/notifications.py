"""E-mails about payment profiles.

Called by the services inside their transaction: each message becomes a queue
row (django-mailer) that commits or rolls back with the state change, and the
mail worker delivers it later.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User
from billing.models import PaymentProfile

logger = logging.getLogger(__name__)


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _queue(*, to: str, template: str, context: dict) -> None:
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.txt", context)
    EmailMessage(subject=" ".join(subject.split()), body=body, to=[to]).send()


def profile_submitted(profile: PaymentProfile) -> None:
    """Tell every admin of the user's tenant that a profile awaits activation."""
    user = profile.user
    admins = User.objects.filter(
        tenant_id=user.tenant_id, is_tenant_admin=True, is_active=True
    ).exclude(pk=user.pk)
    link = absolute_url(reverse("accounts:user_list") + "?status=pending")
    sent = 0
    for admin in admins:
        _queue(
            to=admin.email,
            template="profile_submitted",
            context={"admin": admin, "user": user, "profile": profile, "link": link},
        )
        sent += 1
    if not sent:
        logger.warning("no admin to notify about payment profile %s", profile.pk)


def profile_activated(profile: PaymentProfile) -> None:
    _queue(
        to=profile.user.email,
        template="profile_activated",
        context={"user": profile.user, "profile": profile, "link": absolute_url("/")},
    )


def profile_deactivated(profile: PaymentProfile) -> None:
    _queue(
        to=profile.user.email,
        template="profile_deactivated",
        context={
            "user": profile.user,
            "profile": profile,
            "link": absolute_url(reverse("accounts:account")),
        },
    )
