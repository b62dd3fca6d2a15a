"""E-mails about payment profiles: which ones exist and who gets them.

Called by the services inside their transaction; accounts.mail queues each one (a
django-mailer row that commits or rolls back with the state change) and builds
its links.
"""

from __future__ import annotations

import logging

from django.urls import reverse
from django.utils.http import urlencode

from accounts.mail import absolute_url, queue_mail
from accounts.models import User
from billing.models import PaymentProfile

logger = logging.getLogger(__name__)


def profile_submitted(profile: PaymentProfile) -> None:
    """Tell every admin of the user's tenant that a profile awaits activation."""
    user = profile.user
    admins = User.objects.filter(
        tenant_id=user.tenant_id, is_tenant_admin=True, is_active=True
    ).exclude(pk=user.pk)
    # Admin > Users showing this user's row, with its Actions (Activate Pay Profile).
    link = absolute_url(reverse("accounts:user_list") + "?" + urlencode({"q": user.email}))
    sent = 0
    for admin in admins:
        queue_mail(
            to=admin.email,
            template="profile_submitted",
            context={"admin": admin, "user": user, "profile": profile, "link": link},
        )
        sent += 1
    if not sent:
        logger.warning("no admin to notify about payment profile %s", profile.pk)


def profile_activated(profile: PaymentProfile) -> None:
    queue_mail(
        to=profile.user.email,
        template="profile_activated",
        context={"user": profile.user, "profile": profile, "link": absolute_url("/")},
    )


def profile_deactivated(profile: PaymentProfile) -> None:
    queue_mail(
        to=profile.user.email,
        template="profile_deactivated",
        context={
            "user": profile.user,
            "profile": profile,
            "link": absolute_url(reverse("accounts:account")),
        },
    )
