"""The payment gateway interface: a card goes in, a token comes out.

The raw card number and CVC exist only in the request that carries them and in
the call to ``tokenize``; nothing here logs, stores or returns them.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables


# Prefixes and lengths of the brands we accept, most specific first.
def _range(first: int, last: int) -> tuple[str, ...]:
    return tuple(str(p) for p in range(first, last + 1))


_BRANDS: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...] = (
    ("American Express", ("34", "37"), (15,)),
    ("Mastercard", (*_range(51, 55), *_range(2221, 2720)), (16,)),
    ("Visa", ("4",), (13, 16, 19)),
    ("Discover", ("6011", "65", *_range(644, 649)), (16, 19)),
    ("Diners Club", ("36", "38", "39", *_range(300, 305)), (14, 16, 19)),
    ("JCB", _range(3528, 3589), (16, 17, 18, 19)),
)


class CardError(ValueError):
    """The gateway refused the card; the message says what to do."""


CARD_DECLINED = "The card was declined. Check the details, use another card, or choose Invoice."


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    def __repr__(self) -> str:  # never more than the last four
        return f"CardToken(brand={self.brand!r}, last4={self.last4!r})"


def ascii_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() also says yes to "²" or "٤", which int() then refuses
    (or which a processor would not expect in a card number or CVC)."""
    return text.isascii() and text.isdigit()


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(number: str) -> str | None:
    for brand, prefixes, lengths in _BRANDS:
        if len(number) in lengths and number.startswith(prefixes):
            return brand
    return None


def cvc_length(brand: str) -> int:
    return 4 if brand == "American Express" else 3


def expiry_passed(month: int, year: int, today: datetime.date | None = None) -> bool:
    """A card is good through the last day of its expiry month."""
    today = today or timezone.localdate()
    return (year, month) < (today.year, today.month)


class PaymentGateway(Protocol):
    """Implementations mark `number` and `cvc` with @sensitive_variables, as below."""

    def tokenize(
        self, *, number: str, exp_month: int, exp_year: int, cvc: str, cardholder: str
    ) -> CardToken: ...


# A test card number that LocalGateway declines, as a processor's issuer would.
DECLINED_TEST_CARD = "4000000000000002"


class LocalGateway:
    """For development and tests: makes up an opaque token, and declines what a
    processor would (DECLINED_TEST_CARD, or a card that is not valid at all if a
    caller skipped the form's checks). Nothing leaves the process.

    What a person typed wrong (too few digits, a past expiry date, a short CVC) is
    the form's to say, in its words (billing.forms); a gateway only knows whether
    it takes the card.
    """

    # An error report (the DEBUG page, an HTML mail to ADMINS) shows each frame's local
    # variables: this frame's must not show the card.
    @sensitive_variables("number", "cvc")
    def tokenize(
        self, *, number: str, exp_month: int, exp_year: int, cvc: str, cardholder: str
    ) -> CardToken:
        brand = card_brand(number) if ascii_digits(number) else None
        if (
            number == DECLINED_TEST_CARD
            or brand is None
            or not luhn_ok(number)
            or expiry_passed(exp_month, exp_year)
            or not ascii_digits(cvc)
            or len(cvc) != cvc_length(brand)
        ):
            raise CardError(CARD_DECLINED)
        return CardToken(
            token=f"tok_local_{secrets.token_urlsafe(18)}",
            brand=brand,
            last4=number[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
        )


def get_gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()
