"""Stripe's events, received at ``/webhooks/stripe/`` (billing.views.stripe_webhook).

Each event is verified with ``stripe.Webhook.construct_event`` and the endpoint's
secret (STRIPE_WEBHOOK_SECRET): a wrong or missing signature, or one older than
STRIPE_WEBHOOK_TOLERANCE seconds (a replay), is refused and changes nothing.

Each is processed exactly once: its id is stored (``ProcessorEvent``, unique) in
the same transaction as what it changes, so a redelivery finds it and does
nothing, and two deliveries at once end in one change. An older event never
overwrites newer data: a card keeps the time of the data held
(``card_updated_at``), and an event from before it changes nothing. Types not
handled here are acknowledged and ignored.

Handled:
- ``setup_intent.succeeded``: a card the owner entered on Payment Information and
  whose bank answered after they left the page is saved, as if their form had come
  (the same service; once, whichever of the two comes first);
- ``setup_intent.setup_failed``: such a card was refused: noted in the history;
- ``payment_method.updated``, ``payment_method.automatically_updated``: the card
  updater's new expiry or last four replace our copy;
- ``payment_method.detached``: the card can no longer pay; the profile goes the way
  of one whose card expired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from billing import processor, services
from billing.models import Method, PaymentProfile, ProcessorEvent
from billing.processor import CardError

logger = logging.getLogger(__name__)


class BadEvent(ValueError):
    """Not an event from our Stripe account: refused with 400."""


class RetryLater(RuntimeError):
    """The event could not be processed now (Stripe did not answer our call back):
    answered with 503, and Stripe sends it again later."""


def verified_event(payload: bytes, signature: str) -> stripe.Event:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BadEvent("This endpoint has no webhook secret configured.")
    if not signature:
        raise BadEvent("The Stripe-Signature header is missing.")
    try:
        return stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        raise BadEvent("The signature does not verify, or is too old.") from None
    except ValueError:  # not JSON, or not UTF-8
        raise BadEvent("The body is not an event.") from None


def _claim(event: stripe.Event) -> bool:
    """Record the event as processed, in the caller's transaction; False when it
    already was (a redelivery, or another worker got it first)."""
    try:
        with transaction.atomic():
            ProcessorEvent.objects.create(
                event_id=event.id, type=event.type, created=_time_of(event)
            )
    except IntegrityError:
        return False
    return True


def _time_of(event: stripe.Event) -> datetime:
    return datetime.fromtimestamp(int(event.created), UTC)


def _owner(customer: str) -> User | None:
    profile = (
        PaymentProfile.objects.filter(stripe_customer_id=customer).select_related("user").first()
    )
    return profile.user if profile else None


def _setup_succeeded(event: stripe.Event, intent: dict) -> None:
    try:
        found = processor.confirmed_card_of_event(intent)
    except CardError as error:
        raise RetryLater(str(error)) from error
    owner = _owner(found[0]) if found else None
    with transaction.atomic():
        if not _claim(event) or owner is None:
            return
        try:
            with transaction.atomic():
                services.payment_profile_submit(
                    user=owner, method=Method.CREDIT_CARD, details={}, card=found[1], via="Stripe"
                )
        except (CardError, services.PaymentProfileError) as error:
            logger.info("stripe: setup intent %s not saved: %s", intent.get("id"), error)


def _setup_failed(event: stripe.Event, intent: dict) -> None:
    metadata = intent.get("metadata") or {}
    if metadata.get("ccm_purpose") != processor.PURPOSE["ccm_purpose"]:
        with transaction.atomic():
            _claim(event)
        return
    error = intent.get("last_setup_error") or {}
    reason = error.get("message") or error.get("decline_code") or error.get("code") or ""
    with transaction.atomic():
        if _claim(event):
            services.payment_profile_card_setup_failed(
                customer=intent.get("customer") or "", reason=reason
            )


def _card_updated(event: stripe.Event, method: dict) -> None:
    card = method.get("card")
    if not card:
        return
    update = services.CardAtProcessor(
        payment_method=method["id"],
        brand=processor.brand_name(card.get("brand")),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month")),
        exp_year=int(card.get("exp_year")),
        at=_time_of(event),
    )
    with transaction.atomic():
        if _claim(event):
            services.payment_profile_card_updated(card=update)


def _card_detached(event: stripe.Event, method: dict) -> None:
    with transaction.atomic():
        if _claim(event):
            services.payment_profile_card_removed(payment_method=method["id"], at=_time_of(event))


# Each handler gets the event and its object (``data.object``) as plain data.
HANDLERS: dict[str, Callable[[stripe.Event, dict], None]] = {
    "setup_intent.succeeded": _setup_succeeded,
    "setup_intent.setup_failed": _setup_failed,
    "payment_method.updated": _card_updated,
    "payment_method.automatically_updated": _card_updated,
    "payment_method.detached": _card_detached,
}


def process(event: stripe.Event) -> None:
    """Process a verified event once; ignore a type not handled (acknowledged all the
    same). Raises ``RetryLater`` when Stripe should send it again."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        logger.debug("stripe: event %s (%s) ignored", event.id, event.type)
        return
    if ProcessorEvent.objects.filter(event_id=event.id).exists():
        logger.info("stripe: event %s (%s) was processed before", event.id, event.type)
        return
    handler(event, event.data.object.to_dict())
    logger.info("stripe: event %s (%s) processed", event.id, event.type)
