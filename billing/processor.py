"""The card processor: Stripe, through its official SDK (``stripe.StripeClient``).

The card itself never reaches this server. The Payment Information page asks for
a SetupIntent (``setup_intent_start``), Stripe.js in the browser sends the card to
Stripe and runs the bank's authentication (3-D Secure) with its client secret, and
the page posts back only the SetupIntent's id. ``confirmed_card`` then reads that
SetupIntent and its PaymentMethod from Stripe, on the server: whose it is, whether
it succeeded, and the card's brand, last four and expiry. Nothing about the card is
taken from the browser.

Every function here talks to Stripe over the network: call them outside any
transaction that holds a row lock (billing.services takes the lock after).

Settings: STRIPE_SECRET_KEY, and STRIPE_API_BASE for a stand-in (localstripe; empty:
Stripe's own). The page's side (STRIPE_PUBLISHABLE_KEY, STRIPE_JS_URL) is in
billing.views and the template.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import stripe
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from billing.models import PaymentProfile

logger = logging.getLogger(__name__)


class CardError(ValueError):
    """The card was not confirmed, or its confirmation cannot be used; the message
    says what happened and what to do, in plain words."""


PROCESSOR_DOWN = (
    "The card could not be checked with the payment processor just now, and nothing was "
    "saved. Try again in a few minutes, or choose Invoice."
)
NOT_CONFIGURED = (
    "Card payments are not set up on this installation yet, and nothing was saved. "
    "Choose Invoice, or ask a CloudCenter operator."
)
NOT_CONFIRMED = (
    "The card was not confirmed with your bank, so nothing was saved. Enter the card "
    "again and save."
)
NOT_YOURS = (
    "This card confirmation does not belong to you, so nothing was saved. Enter the card again."
)
USED_BEFORE = "This card confirmation was already used, so nothing was saved. Enter the card again."
NOT_A_CARD = "Only cards can be saved here. Enter a card, or choose Invoice."

# What the Payment Information page writes into each SetupIntent it asks for, so that
# the webhook knows one the owner started there (billing.webhooks) from one made by
# anyone else for the same customer (Stripe's dashboard, another integration).
PURPOSE = {"ccm_purpose": "payment_information"}

# Stripe's brand codes as the pages name the card ("Visa ending in 4242"), and as
# cards saved before Stripe were named.
BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos Australia",
    "interac": "Interac",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


def brand_name(code: str | None) -> str:
    return BRANDS.get(code or "", (code or "card").replace("_", " ").title())


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


def client() -> stripe.StripeClient:
    """A client for the configured account (and stand-in, if STRIPE_API_BASE is set)."""
    if not is_configured():
        raise CardError(NOT_CONFIGURED)
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else {}
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT),
    )


def _unavailable(error: stripe.StripeError) -> CardError:
    logger.warning(
        "stripe: %s (%s, request %s)", type(error).__name__, error.http_status, error.request_id
    )
    return CardError(PROCESSOR_DOWN)


def customer_for(user: User, api: stripe.StripeClient | None = None) -> str:
    """The id of `user`'s Stripe customer, created on first use and kept on their
    profile (``stripe_customer_id``). Two first uses at once both create one; the
    first stored wins and the other is deleted again."""
    api = api or client()
    profile = PaymentProfile.objects.only("pk", "stripe_customer_id").get(user=user)
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    try:
        customer = api.v1.customers.create(
            params={
                "email": user.email,
                "name": user.name or user.email,
                "metadata": {"ccm_user": str(user.pk), "ccm_tenant": str(user.tenant_id or "")},
            }
        )
    except stripe.StripeError as error:
        raise _unavailable(error) from error
    stored = PaymentProfile.objects.filter(pk=profile.pk, stripe_customer_id="").update(
        stripe_customer_id=customer.id
    )
    if stored:
        logger.info("stripe: customer %s made for user %s", customer.id, user.pk)
        return customer.id
    try:  # another request stored one first: use theirs, remove ours
        api.v1.customers.delete(customer.id)
    except stripe.StripeError:
        logger.warning("stripe: could not delete the spare customer %s", customer.id)
    return PaymentProfile.objects.values_list("stripe_customer_id", flat=True).get(pk=profile.pk)


@dataclass(frozen=True)
class SetupStarted:
    """What the page needs to confirm a card with Stripe.js. The client secret is
    handed to the owner's browser only, never logged or stored."""

    setup_intent: str
    client_secret: str

    def __repr__(self) -> str:
        return f"SetupStarted(setup_intent={self.setup_intent!r})"


def setup_intent_start(*, user: User) -> SetupStarted:
    """A SetupIntent for `user`'s customer, to save a card for later payments made
    without them (``usage="off_session"``). A customer Stripe no longer knows
    (deleted in its dashboard; a restarted stand-in) is replaced by a new one."""
    api = client()
    for _attempt in range(2):
        customer = customer_for(user, api)
        try:
            intent = api.v1.setup_intents.create(
                params={
                    "customer": customer,
                    "usage": "off_session",
                    "payment_method_types": ["card"],
                    "metadata": {**PURPOSE, "ccm_user": str(user.pk)},
                }
            )
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:
                raise _unavailable(error) from error
            logger.warning("stripe: customer %s of user %s is gone", customer, user.pk)
            PaymentProfile.objects.filter(user=user, stripe_customer_id=customer).update(
                stripe_customer_id=""
            )
            continue
        except stripe.StripeError as error:
            raise _unavailable(error) from error
        return SetupStarted(setup_intent=intent.id, client_secret=intent.client_secret)
    raise CardError(PROCESSOR_DOWN)


@dataclass(frozen=True)
class ConfirmedCard:
    """A card Stripe confirmed for a SetupIntent, as read from Stripe by this server:
    what a profile keeps of it. ``read_at``: when it was read (the time of the data,
    which a processor's later event must be newer than to change it)."""

    setup_intent: str
    payment_method: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    cardholder: str
    read_at: datetime


def _card_of(intent, *, setup_intent_id: str, cardholder: str) -> ConfirmedCard:
    method = intent.payment_method
    card = getattr(method, "card", None) if method is not None else None
    if card is None or getattr(method, "type", "card") != "card":
        raise CardError(NOT_A_CARD)
    billing = getattr(method, "billing_details", None)
    return ConfirmedCard(
        setup_intent=setup_intent_id,
        payment_method=method.id,
        brand=brand_name(card.brand),
        last4=str(card.last4),
        exp_month=int(card.exp_month),
        exp_year=int(card.exp_year),
        cardholder=((billing and billing.name) or cardholder or "").strip()[:200],
        read_at=timezone.now(),
    )


def confirmed_card(*, user: User, setup_intent_id: str, cardholder: str = "") -> ConfirmedCard:
    """The card of a SetupIntent the owner's browser says it confirmed, read back from
    Stripe and checked: it is of `user`'s customer and it succeeded. (That it was not
    used before is checked by billing.services under the profile's lock.) Raises
    ``CardError`` with what to tell the owner."""
    api = client()
    customer = PaymentProfile.objects.values_list("stripe_customer_id", flat=True).get(user=user)
    try:
        intent = api.v1.setup_intents.retrieve(
            setup_intent_id, params={"expand": ["payment_method"]}
        )
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            raise CardError(NOT_CONFIRMED) from error
        raise _unavailable(error) from error
    except stripe.StripeError as error:
        raise _unavailable(error) from error
    if not customer or intent.customer != customer:
        logger.warning(
            "stripe: user %s sent setup intent %s of another customer", user.pk, setup_intent_id
        )
        raise CardError(NOT_YOURS)
    if intent.status != "succeeded":
        raise CardError(NOT_CONFIRMED)
    return _card_of(intent, setup_intent_id=setup_intent_id, cardholder=cardholder)


def confirmed_card_of_event(intent) -> tuple[str, ConfirmedCard] | None:
    """For a ``setup_intent.succeeded`` event: (customer id, card) of a SetupIntent the
    Payment Information page started, read again from Stripe (the event carries the
    PaymentMethod's id only); None for one made elsewhere."""
    metadata = intent.get("metadata") or {}
    if metadata.get("ccm_purpose") != PURPOSE["ccm_purpose"] or not intent.get("customer"):
        return None
    api = client()
    try:
        fresh = api.v1.setup_intents.retrieve(intent["id"], params={"expand": ["payment_method"]})
    except stripe.StripeError as error:
        raise _unavailable(error) from error
    if fresh.status != "succeeded" or fresh.customer != intent["customer"]:
        return None
    return fresh.customer, _card_of(fresh, setup_intent_id=fresh.id, cardholder="")
