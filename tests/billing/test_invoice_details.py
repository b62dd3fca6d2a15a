"""Invoice details a business can be billed on: an ISO country, a tax ID checked for
it (python-stdnum), a postal code where the country has them, and the address in
the country's own order (billing/addresses.py, billing/tax_ids.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from billing.addresses import address_lines
from billing.forms import PaymentProfileForm
from billing.models import Method, PaymentProfile, State
from billing.services import payment_profile_submit
from tests.helpers import INVOICE_POST, client_for

DE = {**INVOICE_POST, "city": "Berlin", "region": "", "postal_code": "10115", "country": "DE"}


def form(**changes) -> PaymentProfileForm:
    bound = PaymentProfileForm({**DE, **changes})
    bound.is_valid()
    return bound


@pytest.mark.parametrize(
    ("country", "postal_code", "typed", "stored"),
    [
        ("DE", "10115", "DE 136 695 976", "DE136695976"),
        ("DE", "10115", "136695976", "DE136695976"),  # the prefix is added
        ("FR", "75001", "FR 40 303 265 045", "FR40303265045"),
        ("GR", "10431", "094259216", "EL094259216"),  # Greece's VAT prefix is EL
        ("GB", "SW1A 1AA", "GB 980 7806 84", "980780684"),
        ("US", "62701", "91-1144442", "911144442"),
        ("CH", "8001", "CHE-100.155.212", "CHE100155212"),
        ("AU", "2000", "83 914 571 673", "83914571673"),
        ("IN", "400001", "27AAPFU0939F1ZV", "27AAPFU0939F1ZV"),
        ("NO", "0150", "NO 995 525 828 MVA", "995525828MVA"),
        ("ZA", "8001", "My own number 1", "My own number 1"),  # no rule: as typed
    ],
)
def test_it_takes_a_valid_tax_id_and_keeps_it_compact(country, postal_code, typed, stored):
    bound = form(country=country, postal_code=postal_code, tax_id=typed)
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["tax_id"] == stored


@pytest.mark.parametrize(
    ("country", "postal_code", "typed", "like"),
    [
        ("DE", "10115", "DE136695977", "like DE136695976"),
        ("DE", "10115", "FR40303265045", "country prefix DE"),  # another member's
        ("FR", "75001", "FR 40 303 265 046", "like FR"),
        ("GB", "SW1A 1AA", "GB 980 7806 85", "like 980 7806 84"),
        ("US", "62701", "00-1144442", "EIN"),
        ("CH", "8001", "CHE-100.155.213", "like CHE-100.155.212"),
        ("AU", "2000", "83 914 571 674", "like 83 914 571 673"),
        ("IN", "400001", "27AAPFU0939F1ZX", "like 27AAPFU0939F1ZV"),
    ],
)
def test_it_refuses_an_invalid_tax_id_and_says_what_a_valid_one_looks_like(
    country, postal_code, typed, like
):
    bound = form(country=country, postal_code=postal_code, tax_id=typed)
    assert not bound.is_valid()
    (error,) = bound.errors["tax_id"]
    assert error.startswith("This is not a valid") and like in error, error


def test_it_shows_a_stored_tax_id_formatted(alice, bob):
    details = {
        **{k: v for k, v in INVOICE_POST.items() if k != "method"},
        "country": "CH",
        "city": "Zürich",
        "region": "",
        "postal_code": "8001",
        "tax_id": "CHE100155212",
    }
    payment_profile_submit(user=bob, method=Method.INVOICE, details=details)
    assert PaymentProfile.objects.get(user=bob).tax_id == "CHE100155212"
    page = client_for(alice).get(reverse("billing:profile_detail", args=[bob.pk]))
    html = page.content.decode()
    assert "CHE-100.155.212" in html
    assert "1 Main Street<br>CH-8001 Zürich<br>Switzerland" in html  # Swiss post's order
    form = client_for(bob).get(reverse("billing:profile_edit")).context["form"]
    assert form["tax_id"].value() == "CHE-100.155.212"


def test_a_country_without_postal_codes_needs_none_and_keeps_none():
    bound = form(country="HK", city="Kowloon", postal_code="", tax_id="")
    assert bound.is_valid(), bound.errors
    typed = form(country="HK", city="Kowloon", postal_code="999077")
    assert typed.is_valid() and typed.cleaned_data["postal_code"] == ""


def test_a_country_with_postal_codes_requires_one_in_its_form():
    assert form(postal_code="").errors["postal_code"] == ["Enter the postal code."]
    (error,) = form(postal_code="1011").errors["postal_code"]
    assert error.startswith("This is not a postal code of Germany: enter one like 26133")
    assert form(country="GB", postal_code="sw1a  1aa").cleaned_data["postal_code"] == "SW1A 1AA"


def test_a_country_where_postal_codes_are_optional_takes_none():
    assert form(country="IE", city="Dublin", postal_code="").is_valid()


def test_the_country_is_a_choice_of_iso_countries():
    assert form(country="Germany").errors["country"] == [
        "Choose the country of the billing address."
    ]
    assert form(country="").errors["country"] == ["Choose the country of the billing address."]
    assert form(country="de").errors.get("country")  # codes only, as the <select> sends them


@pytest.mark.parametrize(
    ("country", "region", "postal_code", "city", "lines"),
    [
        ("US", "IL", "62701", "Springfield", ["Springfield, IL 62701", "United States of America"]),
        ("DE", "", "10115", "Berlin", ["10115 Berlin", "Germany"]),
        ("GB", "", "SW1A 1AA", "London", ["London", "SW1A 1AA", "United Kingdom"]),
        ("FR", "", "75001", "Paris", ["75001 Paris", "France"]),
        ("JP", "Tokyo", "100-0001", "Chiyoda-ku", ["100-0001", "Japan"]),
        ("HK", "Kowloon", "", "Tsim Sha Tsui", ["Tsim Sha Tsui", "Kowloon", "Hong Kong"]),
    ],
)
def test_it_shows_the_address_in_the_countrys_own_order(country, region, postal_code, city, lines):
    details = SimpleNamespace(
        address="1 Main Street", city=city, region=region, postal_code=postal_code, country=country
    )
    shown = address_lines(details)
    assert shown[0].startswith("1 Main Street")
    assert shown[1:] == lines or shown[-len(lines) :] == lines
    assert "" not in shown


def test_the_billing_details_popup_and_api_share_the_one_formatter(alice, bob, make_profile):
    from billing.services import payment_profile_activate

    payment_profile_submit(
        user=bob, method=Method.INVOICE, details={k: v for k, v in INVOICE_POST.items()}
    )
    payment_profile_activate(actor=alice, user=bob)
    popup = client_for(alice).get(
        reverse("billing:profile_detail", args=[bob.pk]), headers={"X-Requested-With": "fetch"}
    )
    assert "1 Main Street<br>Springfield, IL 62701<br>United States of America" in (
        popup.content.decode()
    )
    assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE


# --- billing.0010: free-text countries become codes -------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_maps_free_text_countries_to_codes_and_keeps_the_rest():
    executor = MigrationExecutor(connection)
    executor.migrate([("billing", "0009_stripe_cards"), ("accounts", "0010_user_plan_name")])
    apps = executor.loader.project_state(
        [("billing", "0009_stripe_cards"), ("accounts", "0010_user_plan_name")]
    ).apps
    User = apps.get_model("accounts", "User")
    Profile = apps.get_model("billing", "PaymentProfile")
    typed = ["United States", "germany", "UK", "CHE", "The Netherlands", "FR", "Atlantis", ""]
    for i, country in enumerate(typed):
        user = User.objects.create(email=f"u{i}@example.com", name=f"U {i}", password="x")
        Profile.objects.update_or_create(
            user=user, defaults={"address": "1 Main Street", "country": country}
        )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = dict(
        PaymentProfile.objects.order_by("user__email").values_list("user__email", "country")
    )
    assert [rows[f"u{i}@example.com"] for i in range(len(typed))] == [
        "US",
        "DE",
        "GB",
        "CH",
        "NL",
        "FR",
        "",
        "",
    ]
    lost = PaymentProfile.objects.get(user__email="u6@example.com")
    assert lost.address == "1 Main Street, Atlantis"  # kept where people see it
