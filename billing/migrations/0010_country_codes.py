"""Invoice countries become ISO 3166 codes (issue 22).

The country was free text. Each value is matched to a code: an ISO code (``DE``,
``DEU``), an English country name in any case (``germany``, "Viet Nam"), or one of
the common other spellings below ("USA", "UK", "Deutschland"). A value that matches
none is kept where people still see it, at the end of the street address ("1 Main
Street, Atlantis"), and the country is left empty: the Payment Information form
asks for it on the next save, and the migration prints how many there were.
"""

import importlib
import re

import django_countries.fields
from django.db import migrations

ALIASES = {
    "america": "US",
    "united states": "US",
    "us": "US",
    "usa": "US",
    "u s": "US",
    "u s a": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "deutschland": "DE",
    "österreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "españa": "ES",
    "italia": "IT",
    "holland": "NL",
    "nederland": "NL",
    "belgië": "BE",
    "belgique": "BE",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "polska": "PL",
    "czechia": "CZ",
    "czech republic": "CZ",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "uae": "AE",
    "vietnam": "VN",
    "türkiye": "TR",
    "turkey": "TR",
}


def _key(text):
    text = re.sub(r"[^\w]+", " ", text.casefold()).strip()
    return re.sub(r"^the ", "", text)


def _code_for(text, names, alpha3):
    key = _key(text)
    if not key:
        return ""
    if len(key) == 2 and key.upper() in names.values():
        return key.upper()
    return alpha3.get(key.upper()) or ALIASES.get(key) or names.get(key, "")


def to_codes(apps, schema_editor):
    from django_countries import countries

    names = {_key(str(name)): code for code, name in countries}
    alpha3 = {countries.alpha3(code): code for code in names.values()}
    unmatched = 0
    for model_name in ("PaymentProfile", "PendingChange"):
        model = apps.get_model("billing", model_name)
        for row in model.objects.exclude(country="").only("pk", "country", "address"):
            code = _code_for(row.country, names, alpha3)
            if code:
                model.objects.filter(pk=row.pk).update(country=code)
                continue
            unmatched += 1
            address = ", ".join(part for part in (row.address, row.country) if part)
            model.objects.filter(pk=row.pk).update(country="", address=address[:300])
    if unmatched:
        print(f"\n  billing.0010: {unmatched} countries matched no ISO country: kept at the end "
              "of the address, to be chosen on the next save")


def sqlite_indexes_again(apps, schema_editor):
    """SQLite rebuilds the table to alter the column: billing.0007's indexes again."""
    stripe_cards = importlib.import_module("billing.migrations.0009_stripe_cards")
    stripe_cards.sqlite_indexes_again(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_stripe_cards"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_indexes_again),
        migrations.RunPython(to_codes, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="paymentprofile",
            name="country",
            field=django_countries.fields.CountryField(blank=True, max_length=2),
        ),
        migrations.AlterField(
            model_name="pendingchange",
            name="country",
            field=django_countries.fields.CountryField(blank=True, max_length=2),
        ),
        migrations.RunPython(sqlite_indexes_again, migrations.RunPython.noop),
    ]
