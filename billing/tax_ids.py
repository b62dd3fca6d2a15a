"""Tax IDs on invoices, checked for the invoice's country with python-stdnum (its
form and check digits, offline: no registry is asked whether the number exists).

- An EU member state: its VAT number, with the country's prefix (EL for Greece), as
  the EU's VIES knows it. Typed without the prefix, the prefix is added.
- The United States: an EIN; Switzerland: the UID; the United Kingdom: its VAT
  number; Australia: the ABN; India: the GSTIN.
- Any other country for which stdnum has a VAT or company-tax number (Canada's BN,
  Norway's MVA, Japan's corporate number, Brazil's CNPJ, …): that one.
- Elsewhere: accepted as typed (trimmed).

Stored compact (no spaces or dots: "DE136695976"), shown formatted where stdnum
can ("CHE-100.155.212"). A number that is not valid is refused with what a valid
one looks like.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

from django_countries import countries
from stdnum.eu import vat as eu_vat
from stdnum.util import get_cc_module

EU_MEMBERS = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    }
)
_EU_PREFIX = {"GR": "EL"}  # the one member whose VAT prefix is not its ISO code

# Where the number businesses are invoiced with is not stdnum's "vat" of the country.
_MODULES = {
    "US": "us.ein",
    "CH": "ch.uid",
    "GB": "gb.vat",
    "AU": "au.abn",
    "IN": "in_.gstin",
}
_NAMES = {
    "US": "EIN (Employer Identification Number)",
    "CH": "UID (Swiss business identification number)",
    "GB": "VAT registration number for the United Kingdom",
}
_DOCTEST = re.compile(r">>> (?:validate|compact)\('([^']+)'\)\n\s*'")


@dataclass(frozen=True)
class TaxIdRule:
    """How one country's tax IDs are checked."""

    country: str
    name: str  # "German VAT number", "ABN (Australian Business Number)"
    module: ModuleType
    eu_prefix: str = ""  # "DE": checked as an EU VAT number with this prefix

    def example(self) -> str:
        """A valid number, as shown (from stdnum's own documented examples)."""
        found = _DOCTEST.search(self.module.__doc__ or "")
        if not found:
            return ""
        number = self.module.compact(found[1])
        if self.eu_prefix:
            return self._prefixed(number)
        return self.display(number)

    def _prefixed(self, number: str) -> str:
        number = "".join(number.split()).upper()
        return eu_vat.compact(number if number[:2].isalpha() else f"{self.eu_prefix}{number}")

    def clean(self, text: str) -> str | None:
        """The number compact, or None when it is not a valid one."""
        try:
            if self.eu_prefix:
                number = self._prefixed(text)
                ok = number.startswith(self.eu_prefix) and eu_vat.is_valid(number)
            else:
                number = self.module.compact(text)
                ok = self.module.is_valid(number)
        except Exception:  # stdnum's compact() on something that is no number at all
            return None
        return number if ok else None

    def display(self, number: str) -> str:
        module = self.module
        if self.eu_prefix or not hasattr(module, "format"):
            return number
        try:
            return module.format(number)
        except Exception:
            return number


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"stdnum.{name}")


@lru_cache(maxsize=300)
def rule_for(country: str) -> TaxIdRule | None:
    """The rule for `country` (an ISO code), or None: accepted as typed."""
    if not country:
        return None
    if country in EU_MEMBERS:
        national = get_cc_module(country.lower(), "vat")
        return TaxIdRule(
            country=country,
            name=f"VAT number for {countries.name(country)}",
            module=national or eu_vat,
            eu_prefix=_EU_PREFIX.get(country, country),
        )
    if country in _MODULES:
        module = _module(_MODULES[country])
    else:
        module = get_cc_module(country.lower(), "vat")
        if module is None:
            return None
    name = _NAMES.get(country) or (module.__doc__ or "").strip().splitlines()[0].rstrip(".")
    return TaxIdRule(country=country, name=name, module=module)


class InvalidTaxId(ValueError):
    """``str(error)``: what is wrong and what a valid one looks like."""


def clean_tax_id(country: str, text: str) -> str:
    """The tax ID as stored: compact where the country has a rule, else as typed
    (trimmed). Raises ``InvalidTaxId``."""
    text = " ".join((text or "").split())
    rule = rule_for(str(country or ""))
    if not text or rule is None:
        return text
    number = rule.clean(text)
    if number is None:
        example = rule.example()
        like = f", like {example}" if example else ""
        prefix = f" with its country prefix {rule.eu_prefix}" if rule.eu_prefix else ""
        raise InvalidTaxId(
            f"This is not a valid {rule.name}. Enter it{prefix} as on your tax "
            f"documents{like}, or leave Tax ID empty."
        )
    return number


def tax_id_display(country: str, number: str) -> str:
    """A stored tax ID as people read it ("CHE-100.155.212")."""
    rule = rule_for(str(country or ""))
    return rule.display(number) if rule and number else number
