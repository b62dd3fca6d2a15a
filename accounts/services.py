"""Writes of the admin area: users, plans and the tenant's settings.

Each service is atomic and takes keyword arguments only. A refusal raises
``AccountError`` whose text is fit to show next to the form field it names.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.mail import absolute_url, queue_mail
from accounts.models import (
    EMAIL_TAKEN,
    SETTING_RANGES,
    PasswordLinkRequest,
    Plan,
    Tenant,
    User,
)
from accounts.timezones import validate_time_zone

logger = logging.getLogger(__name__)


class AccountError(Exception):
    """A refused write. ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _check_plan(plan: Plan | None, tenant_id: int) -> None:
    if plan is not None and plan.tenant_id != tenant_id:
        raise AccountError("Pick one of your tenant's plans.", field="plan")


def set_password_link(user: User) -> str:
    """An absolute link where `user` chooses a password. Django's reset token: it
    stops working once the password is set (the token covers the password hash)."""
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return absolute_url(path)


def _queue_welcome(user: User, actor: User) -> None:
    queue_mail(
        to=user.email,
        template="user_welcome",
        context={
            "user": user,
            "actor": actor,
            "link": set_password_link(user),
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )


@transaction.atomic
def user_create(
    *,
    actor: User,
    tenant: Tenant,
    name: str,
    email: str,
    plan: Plan | None,
    is_tenant_admin: bool = False,
) -> User:
    """Add a user to the tenant and queue an e-mail with a link to set their password.

    The user has no usable password until they follow the link; they accept the
    terms of agreement at first login like everyone else.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    name = name.strip()
    if not name:
        raise AccountError("Enter the user's name.", field="name")
    _check_plan(plan, tenant.pk)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                password=None,
                name=name,
                tenant=tenant,
                plan=plan,
                is_tenant_admin=is_tenant_admin,
            )
    except IntegrityError:  # the e-mail's unique constraint: the one check
        raise AccountError(EMAIL_TAKEN, field="email") from None
    _queue_welcome(user, actor)
    logger.info("user %s created in tenant %s by user %s", user.pk, tenant.pk, actor.pk)
    return user


def user_plan_refusal(*, actor: User, user: User) -> str:
    """Why `actor` may not change `user`'s plan, or "" if they may. As with activating
    a payment profile, an admin cannot change their own plan (a bundle would take them
    past the gate): another admin, or a superuser in /django-admin/, must. The service
    raises it; the Change plan page shows it up front."""
    if actor.pk == user.pk:
        return "You cannot change your own plan: another admin must do it."
    return ""


@transaction.atomic
def user_change_plan(*, actor: User, user: User, plan: Plan | None) -> User:
    """Put the user on another plan of their tenant (None: bundles only).

    Moving onto a paid subscription plan in a tenant that requires payment
    profiles holds the user at the gate until their profile is active.
    """
    refusal = user_plan_refusal(actor=actor, user=user)
    if refusal:
        raise AccountError(refusal)
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_plan(plan, user.tenant_id)
    user.plan = plan
    user.save(update_fields=["plan"])
    logger.info("user %s moved to plan %s by user %s", user.pk, plan and plan.pk, actor.pk)
    return user


@transaction.atomic
def plan_create(*, tenant: Tenant, name: str, kind: str) -> Plan:
    """Add a plan; names are unique per tenant (ignoring case, so the list stays readable)."""
    name = " ".join(name.split())
    if not name:
        raise AccountError("Enter the plan's name.", field="name")
    if kind not in Plan.Kind.values:
        raise AccountError("Choose a kind: paid subscription plan or bundle.", field="kind")
    try:
        with transaction.atomic():
            return Plan.objects.create(tenant=tenant, name=name, kind=kind)
    except IntegrityError:  # plan_unique_name_per_tenant_ci: the one check
        raise AccountError(
            f"Your tenant already has a plan named {name}. Choose another name.", field="name"
        ) from None


@transaction.atomic
def tenant_update_settings(
    *,
    tenant: Tenant,
    require_payment_profile: bool,
    time_zone: str | None = None,
    pending_digest: bool | None = None,
    pending_digest_after_hours: int | None = None,
    setup_reminders: bool | None = None,
    card_grace_days: int | None = None,
    admins_must_use_two_factor: bool | None = None,
) -> Tenant:
    """Switch the payment-profile requirement for users on paid subscription plans,
    set the time zone the tenant's times are shown in, and what the scheduled jobs
    do for the tenant (billing/jobs.py). None keeps a setting as it is."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    tenant.require_payment_profile = require_payment_profile
    if time_zone is not None:
        try:
            validate_time_zone(time_zone)
        except ValidationError as error:
            raise AccountError(error.messages[0], field="time_zone") from None
        tenant.time_zone = time_zone
    for field, value in (
        ("pending_digest_after_hours", pending_digest_after_hours),
        ("card_grace_days", card_grace_days),
    ):
        if value is not None:
            low, high = SETTING_RANGES[field]
            if not low <= value <= high:
                raise AccountError(f"Enter a number from {low} to {high}.", field=field)
            setattr(tenant, field, value)
    for field, value in (
        ("pending_digest", pending_digest),
        ("setup_reminders", setup_reminders),
        ("admins_must_use_two_factor", admins_must_use_two_factor),
    ):
        if value is not None:
            setattr(tenant, field, value)
    tenant.save(
        update_fields=[
            "require_payment_profile",
            "time_zone",
            "pending_digest",
            "pending_digest_after_hours",
            "setup_reminders",
            "card_grace_days",
            "admins_must_use_two_factor",
        ]
    )
    return tenant


# "Forgot your password": links to one address per hour. Each is an e-mail anyone
# can make us send without logging in.
PASSWORD_LINKS_PER_HOUR = 3


def _digest(email: str) -> str:
    return salted_hmac("accounts.password_link", email.strip().lower()).hexdigest()


def password_link_available_at(email: str) -> datetime | None:
    """When another password link may be sent to `email` (None: now)."""
    since = timezone.now() - timedelta(hours=1)
    sent = list(
        PasswordLinkRequest.objects.filter(email_digest=_digest(email), requested_at__gt=since)
        .order_by("requested_at")
        .values_list("requested_at", flat=True)[:PASSWORD_LINKS_PER_HOUR]
    )
    if len(sent) < PASSWORD_LINKS_PER_HOUR:
        return None
    return sent[0] + timedelta(hours=1)


@transaction.atomic
def password_link_requested(email: str) -> None:
    """Count a password link for `email` (known or not), and forget day-old counts."""
    now = timezone.now()
    PasswordLinkRequest.objects.filter(requested_at__lt=now - timedelta(days=1)).delete()
    PasswordLinkRequest.objects.create(email_digest=_digest(email), requested_at=now)
