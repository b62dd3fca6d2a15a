"""The acts on a payment profile.

Each one is atomic: it re-reads the row under ``select_for_update()``, checks that
the transition is allowed from the state it finds and for this actor, runs it,
saves, and queues its e-mail as a row in the same transaction. So a double click,
a stale page or two admins at once end in exactly one transition, and the other
caller gets a ``PaymentProfileError`` with a message fit to show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from accounts.models import User
from billing import notifications
from billing.gateway import CardError, get_gateway
from billing.models import CARD_FIELDS, INVOICE_FIELDS, Method, PaymentProfile, State

logger = logging.getLogger(__name__)


NO_CARD_ON_FILE = "There is no card on file to keep: enter the card number and CVC."


class PaymentProfileError(Exception):
    """A refused act; ``str(error)`` is a message for the person who asked."""


@dataclass(frozen=True)
class CardInput:
    """A card as typed. Lives only for the request; never stored or logged."""

    cardholder: str
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:
        return f"CardInput(cardholder={self.cardholder!r}, number='…{self.number[-4:]}')"


@dataclass(frozen=True)
class CardOnFile:
    """Keep the card on file (its token, brand and last four digits) and change only
    what may change without the number: the cardholder name and the expiry, as
    card-on-file systems allow for the same card. Carries no number and no CVC."""

    cardholder: str
    exp_month: int
    exp_year: int


def _locked_profile(user: User) -> PaymentProfile:
    """The user's profile (every user has one), re-read and locked for the rest of
    the transaction."""
    return (
        PaymentProfile.objects.select_for_update(of=("self",))
        .select_related("user__tenant")
        .get(user=user)
    )


def _save(profile: PaymentProfile) -> None:
    try:
        profile.save()
    except ConcurrentTransition:  # only if a lock was bypassed; say so, don't 500
        raise PaymentProfileError(
            f"The payment profile of {profile.user} was changed at the same time. "
            "Reload the page and try again."
        ) from None


def _details_snapshot(profile: PaymentProfile) -> tuple:
    fields = ("method", *INVOICE_FIELDS, *CARD_FIELDS)
    return tuple(getattr(profile, f) for f in fields if f != "card_token")


def payment_profile_submit(
    *,
    user: User,
    method: str,
    details: dict[str, str],
    card: CardInput | CardOnFile | None = None,
) -> PaymentProfile:
    """Save the user's billing details and put the profile up for activation.

    A card is turned into a token first, outside the transaction, so the
    gateway's network time never holds a row lock. ``CardOnFile`` keeps the card
    already saved (refused as ``CardError`` when there is none). Raises
    ``CardError`` when the gateway refuses the card and ``PaymentProfileError``
    when the act is refused.
    """
    if method not in Method.values:
        raise PaymentProfileError("Choose a payment method: Credit Card or Invoice.")
    token = None
    if method == Method.CREDIT_CARD and not isinstance(card, CardOnFile):
        if card is None:
            raise CardError("Enter the card details.")
        token = get_gateway().tokenize(
            number=card.number,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            cvc=card.cvc,
            cardholder=card.cardholder,
        )

    with transaction.atomic():
        profile = _locked_profile(user)
        if not has_transition_perm(profile.submit, user):
            raise PaymentProfileError("You can only change your own payment profile.")
        was = profile.state
        before = _details_snapshot(profile)
        profile.method = method
        if token is not None:
            for field in INVOICE_FIELDS:
                setattr(profile, field, "")
            profile.cardholder_name = card.cardholder
            profile.card_brand = token.brand
            profile.card_last4 = token.last4
            profile.card_exp_month = token.exp_month
            profile.card_exp_year = token.exp_year
            profile.card_token = token.token
        elif isinstance(card, CardOnFile) and method == Method.CREDIT_CARD:
            if not (profile.method == Method.CREDIT_CARD and profile.card_token):
                raise CardError(NO_CARD_ON_FILE)
            profile.cardholder_name = card.cardholder
            profile.card_exp_month = card.exp_month
            profile.card_exp_year = card.exp_year
        else:
            for field in CARD_FIELDS:
                setattr(profile, field, None if field.startswith("card_exp") else "")
            for field in INVOICE_FIELDS:
                setattr(profile, field, (details.get(field) or "").strip())
        if was == State.PENDING and _details_snapshot(profile) == before:
            # A double click or a resent form: nothing new for the admins to see.
            return PaymentProfile.objects.get(pk=profile.pk)
        description = f"{profile.get_method_display()} details saved"
        if was == State.ACTIVE:
            description += "; active profile changed, needs activation again"
        profile.submit(by=user, description=description)
        _save(profile)
        notifications.profile_submitted(profile)
    logger.info("payment profile %s submitted (%s) by user %s", profile.pk, method, user.pk)
    return profile


def _not_allowed(profile: PaymentProfile, actor: User, act: str) -> str:
    if actor.pk == profile.user_id:
        return f"You cannot {act} your own payment profile: another admin must do it."
    return f"You are not allowed to {act} this payment profile."


def activate_refusal(*, profile: PaymentProfile, actor: User) -> str:
    """Why `actor` may not activate `profile` now, or "" if they may. The service
    raises it; the confirmation page shows it up front."""
    user = profile.user
    if not can_proceed(profile.activate):
        if profile.state == State.NONE:
            return f"{user} has not set up a payment profile yet, so there is nothing to activate."
        return f"The payment profile of {user} is already active."
    if not has_transition_perm(profile.activate, actor):
        return _not_allowed(profile, actor, "activate")
    return ""


def deactivate_refusal(*, profile: PaymentProfile, actor: User) -> str:
    """Why `actor` may not deactivate `profile` now, or "" if they may."""
    user = profile.user
    if not can_proceed(profile.deactivate):
        if profile.state == State.NONE:
            return (
                f"{user} has not set up a payment profile yet, so there is nothing to deactivate."
            )
        if profile.state == State.PENDING:
            return f"The payment profile of {user} is pending activation and cannot be deactivated."
        return f"The payment profile of {user} is already inactive."
    if not has_transition_perm(profile.deactivate, actor):
        return _not_allowed(profile, actor, "deactivate")
    return ""


def payment_profile_activate(*, actor: User, user: User, note: str = "") -> PaymentProfile:
    """An admin activates a pending or inactive profile; the user may then use the console."""
    with transaction.atomic():
        profile = _locked_profile(user)
        refusal = activate_refusal(profile=profile, actor=actor)
        if refusal:
            raise PaymentProfileError(refusal)
        profile.activate(by=actor, description=note.strip() or "Activated")
        _save(profile)
        notifications.profile_activated(profile)
    logger.info("payment profile %s activated by user %s", profile.pk, actor.pk)
    return profile


def payment_profile_deactivate(*, actor: User, user: User, reason: str = "") -> PaymentProfile:
    """An admin deactivates an active profile; the user is held at the gate again."""
    with transaction.atomic():
        profile = _locked_profile(user)
        refusal = deactivate_refusal(profile=profile, actor=actor)
        if refusal:
            raise PaymentProfileError(refusal)
        profile.deactivate(by=actor, description=reason.strip() or None)
        _save(profile)
        notifications.profile_deactivated(profile)
    logger.info("payment profile %s deactivated by user %s", profile.pk, actor.pk)
    return profile
