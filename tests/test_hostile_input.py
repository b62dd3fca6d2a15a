"""Hostile input: arbitrary text, huge values, control characters (NUL included),
HTML and SQL-looking strings in every form and every query parameter we read.

For each generated request: never a 500; when the form refuses the input, nothing
is stored and every error says what to fix; when it accepts it, what was stored
is shown escaped on every page that displays it.

Each example runs in its own transaction that is rolled back (pytest-django
resets the database per test, not per hypothesis example), so examples do not
see each other's rows. Runs on SQLite and on PostgreSQL (which refuses NUL in
text: the forms must stop it first).
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mailer.models import Message

from accounts.models import Plan, User
from billing.addresses import normalise_postal_code
from billing.models import INVOICE_FIELDS, Method, PaymentProfile, State
from billing.services import payment_profile_activate, payment_profile_submit
from billing.tax_ids import clean_tax_id, tax_id_display
from tests.helpers import (
    INVOICE_POST,
    PASSWORD,
    card_post,
    changed_tables,
    client_for,
    client_with_second_factor,
    db_snapshot,
    make_user,
)

HUGE = 100_000

# Strings a careless form or template trips over. Each HTML one is recognisable in
# a page by `_RAW_MARKERS` if it were ever rendered unescaped.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "Acme\x00 Corp",
    "\x01\x02\x07\x08\x0b\x0c\x1b\x7f",
    "\r\n\t",
    "\u202eevil\u202c",
    "\ufeff",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ 7|add:7 }}{% debug %}",
    "'; DROP TABLE accounts_user; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "%00",
    "%",
    "_",
    "\\",
    "Ünïcödé 名前 🚀",
    "x" * HUGE,
    "<" * HUGE,
    "\x00" * 1_000,
]
_RAW_MARKERS = ("<script>alert", "<img src=x onerror", "<svg onload")

# Digits that are not ASCII: str.isdigit() says yes to all of them, int() does not.
ODD_DIGITS = ["²", "٤", "४", "\U0001d7dc", "①", "¼"]

hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(st.characters(codec="ascii"), max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=8),  # control characters
    st.lists(st.sampled_from(NASTY[:22]) | st.text(max_size=8), max_size=4).map("".join),
)

# Things that look like a card number, expiry or CVC, but are not quite.
digitish = st.one_of(
    hostile_text,
    st.text(st.sampled_from([*"0123456789 -/", *ODD_DIGITS]), max_size=24),
    st.sampled_from(["4242 4242 4242 42²4", "4242424242424٢42", "٠٤/٣٩", "04/²9", "1²3"]),
)

HOSTILE_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# Django's catch-all wording, which tells the person nothing about what to change.
GENERIC_ERRORS = ("This field is required.", "Enter a valid value.", "Select a valid choice.")


@contextlib.contextmanager
def rolled_back():
    """One hypothesis example: whatever it stores is gone before the next one."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def page(client: Client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def assert_no_raw_html(html: str) -> None:
    for marker in _RAW_MARKERS:
        assert marker not in html


def assert_shown_escaped(html: str, *values: str) -> None:
    """Each stored value is on the page in its escaped form, and no hostile markup
    made it through raw."""
    for value in values:
        if value:
            assert escape(value) in html, f"{value[:60]!r} not shown (escaped)"
    assert_no_raw_html(html)


def assert_refused_clearly(response, before: dict) -> None:
    """A refused form: the page again with errors that say what to fix, nothing stored."""
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors, "neither stored nor refused"
    html = response.content.decode()
    for messages in form.errors.values():
        for message in messages:
            assert message.strip()
            assert not message.startswith(GENERIC_ERRORS), message
            assert escape(message) in html
    assert_no_raw_html(html)
    assert db_snapshot() == before


def assert_local_redirect(response) -> None:
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert not location.scheme and not location.netloc, response["Location"]
    assert response["Location"].startswith("/")


# --- The Payment Information form (bob) ---------------------------------------

PROFILE_EDIT = reverse("billing:profile_edit")


@pytest.fixture
def admins_and_bob(alice, bob):
    return client_for(alice), client_for(bob)


def _submit_profile(alice_client: Client, bob_client: Client, bob: User, post: dict) -> None:
    before = db_snapshot()
    response = bob_client.post(PROFILE_EDIT, post)
    assert response.status_code < 500
    html = response.content.decode()
    # The page has no card fields, and the SetupIntent sent is not written back.
    assert not re.search(r'name="(card_number|cvc|card_expiry)"', html)
    for tag in re.findall(r'<input[^>]*name="setup_intent"[^>]*>', html):
        assert "value=" not in tag, tag
    typed = str(post.get("card_number", "")).strip()
    if re.fullmatch(r"[0-9 ]{12,}", typed):  # a card number: long, not there by chance
        assert typed not in html
    if response.status_code == 200:
        assert_refused_clearly(response, before)
        return
    assert response.status_code == 302 and response["Location"] == PROFILE_EDIT
    assert changed_tables(before, db_snapshot()) <= {"PaymentProfile", "StateLog", "Message"}
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.PENDING
    if profile.method == Method.INVOICE:
        # As the billing details show them: the country by its name, the tax ID
        # formatted (the address's other parts each as stored).
        stored = [
            profile.country.name if field == "country" else getattr(profile, field)
            for field in INVOICE_FIELDS
            if field != "tax_id"
        ] + [tax_id_display(profile.country, profile.tax_id)]
        for field in INVOICE_FIELDS:
            typed = str(post.get(field, "")).strip()
            if field == "postal_code":  # kept as the country spells it
                typed = normalise_postal_code(typed)
            elif field == "tax_id":  # kept compact
                typed = clean_tax_id(post["country"], typed)
            assert getattr(profile, field) == typed
    else:
        stored = [profile.cardholder_name]
        assert profile.cardholder_name == str(post["cardholder_name"]).strip()
    detail = reverse("billing:profile_detail", args=[bob.pk])
    assert_shown_escaped(page(alice_client, detail), *stored)
    assert_shown_escaped(page(alice_client, reverse("billing:profile_history", args=[bob.pk])))
    assert_shown_escaped(page(alice_client, reverse("billing:user_list")))
    assert_shown_escaped(page(bob_client, reverse("accounts:account")))
    assert_shown_escaped(page(bob_client, PROFILE_EDIT))


@HOSTILE_SETTINGS
@given(changes=st.dictionaries(st.sampled_from([*INVOICE_FIELDS, "method"]), hostile_text))
@example(changes={"company_name": "<script>alert(1)</script>", "city": '"><img src=x onerror>'})
@example(changes={"company_name": "Acme\x00 Corp"})
@example(changes={"address": "x" * HUGE})
@example(changes={"tax_id": "' OR '1'='1", "po_number": "'; DROP TABLE accounts_user; --"})
@example(changes={"method": "bitcoin"})
@example(changes={"method": "\x00"})
def test_the_invoice_form_never_fails_and_stores_only_what_it_shows_escaped(
    admins_and_bob, bob, changes
):
    with rolled_back():
        _submit_profile(*admins_and_bob, bob, {**INVOICE_POST, **changes})


@HOSTILE_SETTINGS
@given(
    cardholder=hostile_text,
    changes=st.dictionaries(
        st.sampled_from(["setup_intent", "card_number", "card_expiry", "cvc"]),
        digitish | hostile_text.map(lambda text: f"seti_{text}"),
    ),
)
@example(cardholder="<script>alert(1)</script>", changes={})
@example(cardholder="Bob", changes={"setup_intent": "seti_123"})  # Stripe does not answer
@example(cardholder="Bob", changes={"setup_intent": "seti_../../v1/customers"})
@example(cardholder="Bob", changes={"setup_intent": "seti_" + "x" * HUGE})
@example(cardholder="Bob", changes={"card_number": "4242 4242 4242 4242", "cvc": "123"})
@example(cardholder="Bob", changes={"card_number": "4" * HUGE, "cvc": "1" * HUGE})
def test_the_card_form_never_fails_and_never_echoes_what_was_sent(
    admins_and_bob, bob, cardholder, changes
):
    """Whatever is posted as the card (a SetupIntent id, or card fields this page does
    not have), it is refused in words or saved as Stripe confirmed it: never a 500,
    and nothing that was sent is written back into the page."""
    with rolled_back():
        post = {**card_post("seti_123"), "cardholder_name": cardholder, **changes}
        _submit_profile(*admins_and_bob, bob, post)


# --- The admin area (alice) ---------------------------------------------------


@pytest.fixture
def alice_client(alice, bob, betty, dora, charlie) -> Client:
    return client_with_second_factor(alice)  # the settings' sudo acts need it


@HOSTILE_SETTINGS
@given(
    name=hostile_text,
    email=st.one_of(
        hostile_text,
        st.emails(),
        hostile_text.map(lambda local: f"{local}@example.com"),
    ),
    plan=hostile_text,
    is_tenant_admin=hostile_text,
)
@example(name="<script>alert(1)</script>", email="new@acme.example", plan="", is_tenant_admin="")
@example(name='"><img src=x onerror=alert(1)>', email="x@a.example", plan="", is_tenant_admin="1")
@example(name="Nul\x00", email="nul@acme.example", plan="", is_tenant_admin="")
@example(name="Nul", email="n\x00ul@acme.example", plan="", is_tenant_admin="")
@example(name="x" * HUGE, email="x" * HUGE, plan="9" * HUGE, is_tenant_admin="x" * HUGE)
@example(name="Plan", email="p@acme.example", plan="1 OR 1=1", is_tenant_admin="")
@example(name="Plan", email="p@acme.example", plan="\x00", is_tenant_admin="")
def test_add_user(alice_client, paid_plan, name, email, plan, is_tenant_admin):
    data = {"name": name, "email": email, "plan": plan, "is_tenant_admin": is_tenant_admin}
    with rolled_back():
        before = db_snapshot()
        response = alice_client.post(reverse("accounts:user_create"), data)
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        # The tenant's row: its count of users (accounts.0009).
        changed = {"User", "PaymentProfile", "Message", "Tenant"}
        assert changed_tables(before, db_snapshot()) == changed
        user = User.objects.latest("pk")
        assert user.name == " ".join(name.split())
        html = page(alice_client, reverse("billing:user_list"), q=user.email[:100])
        assert_shown_escaped(html, user.name, user.email)
        client = client_for(user)
        assert_shown_escaped(page(client, reverse("accounts:terms")), user.name)


@HOSTILE_SETTINGS
@given(plan=hostile_text, next_url=hostile_text)
@example(plan="\x00", next_url="")
@example(plan="1\x00", next_url="\x00")
@example(plan="", next_url="javascript:alert(1)")
@example(plan="", next_url="//evil.example/")
@example(plan="", next_url='/admin/users/?q="><script>alert(1)</script>')
@example(plan="9" * 5_000, next_url="https://evil.example/")
def test_change_plan(alice_client, bob, paid_plan, bundle, charlie, plan, next_url):
    url = reverse("accounts:user_plan", args=[bob.pk])
    with rolled_back():
        assert_no_raw_html(page(alice_client, url, next=next_url))
        before = db_snapshot()
        response = alice_client.post(url, {"plan": plan, "next": next_url})
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        # and the profile's copy of its status (not set up or not required: the plan's)
        assert changed_tables(before, db_snapshot()) <= {"User", "PaymentProfile"}
        bob.refresh_from_db()
        assert bob.plan in (None, paid_plan, bundle)


@HOSTILE_SETTINGS
@given(name=hostile_text, kind=st.one_of(hostile_text, st.sampled_from(Plan.Kind.values)))
@example(name="<script>alert(1)</script>", kind="bundle")
@example(name='"><img src=x onerror=alert(1)>', kind="subscription")
@example(name="Pro\x00", kind="bundle")
@example(name="Pro", kind="bundle\x00")
@example(name="x" * HUGE, kind="x" * HUGE)
@example(name="'; DROP TABLE accounts_plan; --", kind="bundle")
def test_add_plan(alice_client, name, kind):
    with rolled_back():
        before = db_snapshot()
        response = alice_client.post(reverse("accounts:plan_create"), {"name": name, "kind": kind})
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        assert changed_tables(before, db_snapshot()) == {"Plan"}
        plan = Plan.objects.latest("pk")
        assert plan.name == " ".join(name.split())
        assert_shown_escaped(page(alice_client, reverse("accounts:plan_list")), plan.name)
        form_page = page(alice_client, reverse("accounts:user_create"))
        assert_shown_escaped(form_page, plan.name)


@HOSTILE_SETTINGS
@given(flag=hostile_text)
@example(flag="\x00")
@example(flag="x" * HUGE)
def test_tenant_settings(alice_client, acme, flag):
    with rolled_back():
        before = db_snapshot()
        response = alice_client.post(
            reverse("accounts:tenant_settings"), {"require_payment_profile": flag}
        )
        # A checkbox: anything sent but "" or "false" means ticked. Never refused.
        assert_local_redirect(response)
        # and the profiles' copies of their status (not set up or not required)
        assert changed_tables(before, db_snapshot()) <= {"Tenant", "PaymentProfile"}
        acme.refresh_from_db()
        assert acme.require_payment_profile == (flag.lower() not in ("", "false"))


@HOSTILE_SETTINGS
@given(reason=hostile_text, next_url=hostile_text)
@example(reason="<script>alert(1)</script>", next_url="")
@example(reason='"><img src=x onerror=alert(1)>', next_url="javascript:alert(1)")
@example(reason="Card\x00expired", next_url="")
@example(reason="x" * HUGE, next_url="x" * HUGE)
@example(reason="'; DELETE FROM billing_paymentprofile; --", next_url="//evil.example")
def test_deactivate_with_a_reason(alice_client, bob, make_profile, reason, next_url):
    make_profile(bob, State.ACTIVE)
    url = reverse("billing:profile_deactivate", args=[bob.pk])
    with rolled_back():
        assert_no_raw_html(page(alice_client, url, next=next_url))
        before = db_snapshot()
        response = alice_client.post(url, {"reason": reason, "next": next_url})
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        assert changed_tables(before, db_snapshot()) == {"PaymentProfile", "StateLog", "Message"}
        profile = PaymentProfile.objects.get(user=bob)
        assert profile.state == State.INACTIVE
        assert profile.deactivation_reason == reason.strip()
        shown = profile.deactivation_reason
        history = reverse("billing:profile_history", args=[bob.pk])
        assert_shown_escaped(page(alice_client, history), shown)
        detail = reverse("billing:profile_detail", args=[bob.pk])
        assert_shown_escaped(page(alice_client, detail), shown)
        assert_shown_escaped(page(alice_client, detail, next=next_url))
        # The e-mail is plain text: the reason goes in as typed, unescaped.
        assert shown in Message.objects.latest("pk").email.body


@HOSTILE_SETTINGS
@given(reason=hostile_text, next_url=hostile_text)
@example(reason="<script>alert(1)</script>", next_url="")
@example(reason="Wrong\x00company", next_url="javascript:alert(1)")
@example(reason="x" * HUGE, next_url="//evil.example")
@example(reason="   ", next_url="")
def test_decline_with_a_reason(alice_client, bob, make_profile, reason, next_url):
    make_profile(bob, State.PENDING)
    url = reverse("billing:profile_decline", args=[bob.pk])
    with rolled_back():
        assert_no_raw_html(page(alice_client, url, next=next_url))
        before = db_snapshot()
        response = alice_client.post(url, {"reason": reason, "next": next_url})
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        assert changed_tables(before, db_snapshot()) == {"PaymentProfile", "StateLog", "Message"}
        profile = PaymentProfile.objects.get(user=bob)
        assert profile.is_declined and profile.deactivation_reason == reason.strip()
        history = reverse("billing:profile_history", args=[bob.pk])
        assert_shown_escaped(page(alice_client, history), profile.deactivation_reason)
        assert_shown_escaped(page(client_for(bob), reverse("billing:gate")), reason.strip())


@HOSTILE_SETTINGS
@given(
    data=st.dictionaries(st.sampled_from(["decision", "reason", "change", "next"]), hostile_text)
)
@example(data={"decision": "approve", "change": "\x00"})
@example(data={"decision": "decline", "reason": "<script>alert(1)</script>"})
@example(data={"decision": "decline", "reason": "", "change": "-1"})
@example(data={"decision": "both", "change": "9" * HUGE})
@example(data={"decision": "approve", "next": "//evil.example"})
def test_review_change(alice_client, bob, make_profile, data):
    make_profile(bob, State.ACTIVE)
    details = {k: v for k, v in INVOICE_POST.items() if k != "method"}
    url = reverse("billing:profile_change_review", args=[bob.pk])
    with rolled_back():
        payment_profile_submit(user=bob, method="invoice", details={**details, "city": "Ogden"})
        assert_no_raw_html(page(alice_client, url, **data))
        before = db_snapshot()
        response = alice_client.post(url, data)
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        profile = PaymentProfile.objects.select_related("pending_change").get(user=bob)
        assert profile.state == State.ACTIVE
        # Either decided (one of the two outcomes) or refused with a message.
        assert profile.city in ("", "Ogden")  # kept (make_profile sets none) or approved
        assert (profile.pending_change is None) == (changed_tables(before, db_snapshot()) != set())
        assert_no_raw_html(alice_client.get(response["Location"]).content.decode())


@HOSTILE_SETTINGS
@given(data=st.dictionaries(st.sampled_from(["next", "reason", "note", "x"]), hostile_text))
@example(data={"next": "\x00"})
@example(data={"next": "javascript:alert(1)"})
@example(data={"next": "x" * HUGE})
def test_activate(alice_client, bob, make_profile, data):
    make_profile(bob, State.PENDING)
    url = reverse("billing:profile_activate", args=[bob.pk])
    with rolled_back():
        assert_no_raw_html(page(alice_client, url, **data))
        response = alice_client.post(url, data)
        assert_local_redirect(response)
        assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
        assert_no_raw_html(alice_client.get(response["Location"]).content.decode())


USERS_PAGE_PARAMS = ["q", "status", "plan", "sort", "page", "size"]


@HOSTILE_SETTINGS
@given(params=st.dictionaries(st.sampled_from(USERS_PAGE_PARAMS), hostile_text))
@example(params={"q": "\x00"})
@example(params={"q": "bob\x00"})
@example(params={"q": "<script>alert(1)</script>", "status": "pending"})
@example(params={"q": "' OR '1'='1", "sort": "-name; DROP TABLE accounts_user"})
@example(params={"q": "%", "status": "\x00", "sort": "\x00", "page": "\x00"})
@example(params={"q": "_", "page": "9" * 5_000})
@example(params={"q": "x" * HUGE, "page": "-1", "sort": "--name"})
@example(params={"plan": "9" * 5_000, "size": "9" * 5_000})
@example(params={"plan": "1 OR 1=1", "size": "-50"})
@example(params={"plan": "٤", "size": "²5"})
@example(params={"plan": "none\x00", "size": "100\x00"})
@example(params={"plan": "<script>alert(1)</script>", "size": "0"})
def test_the_users_page_search_filter_sort_and_page(alice_client, bob, make_profile, params):
    make_profile(bob, State.PENDING)
    with rolled_back():
        before = db_snapshot()
        response = alice_client.get(reverse("billing:user_list"), params)
        assert response.status_code == 200
        html = response.content.decode()
        assert_no_raw_html(html)
        if params.get("q", "").strip():
            assert escape(response.context["q"]) in html
        assert db_snapshot() == before
        # The search never matches more than a plain substring would.
        q = response.context["q"].casefold()
        for row in response.context["rows"]:  # the values each row shows
            assert q in row.user.name.casefold() or q in row.user.email.casefold()
        # The plan is one of alice's tenant's, "none", or nothing; the size one of three.
        plans = {
            str(pk) for pk in Plan.objects.filter(tenant=bob.tenant).values_list("pk", flat=True)
        }
        assert response.context["plan"] in {"", "none", *plans}
        assert response.context["size"] in (25, 50, 100)


@pytest.fixture
def other_tenants_plan(globex):
    return Plan.objects.create(tenant=globex, name="Globex Gold", kind=Plan.Kind.SUBSCRIPTION)


@HOSTILE_SETTINGS
@given(params=st.dictionaries(st.sampled_from(USERS_PAGE_PARAMS), hostile_text))
@example(params={"q": "\x00", "plan": "\x00"})
@example(params={"q": "=cmd|' /C calc'!A0", "status": "pending"})
@example(params={"plan": "9" * 5_000, "sort": "--name"})
@example(params={"q": "x" * HUGE})
def test_the_users_csv_export(alice_client, bob, make_profile, other_tenants_plan, params):
    make_profile(bob, State.PENDING)
    with rolled_back():
        before = db_snapshot()
        response = alice_client.get(reverse("billing:user_export"), params)
        assert response.status_code == 200
        text = b"".join(response.streaming_content).decode()
        assert text.startswith("\ufeffName,Email,")
        assert "globex" not in text.casefold()  # another tenant's users: never
        assert db_snapshot() == before
    # Another tenant's plan id is ignored: as if no plan were asked for.
    everyone = alice_client.get(reverse("billing:user_export"))
    foreign = alice_client.get(reverse("billing:user_export"), {"plan": other_tenants_plan.pk})
    assert b"".join(foreign.streaming_content) == b"".join(everyone.streaming_content)


BULK = reverse("billing:bulk_confirm")
BULK_KEY = "0123456789abcdef0123456789abcdef"
BULK_PARAMS = ["act", "ids", "all", "q", "status", "plan", "sort", "token", "reason", "next"]


@HOSTILE_SETTINGS
@given(data=st.dictionaries(st.sampled_from(BULK_PARAMS), hostile_text))
@example(data={"act": "decline", "ids": "BOB", "token": BULK_KEY, "reason": "<script>x</script>"})
@example(data={"act": "deactivate", "all": "1", "token": BULK_KEY, "reason": "Wrong\x00name"})
@example(data={"act": "activate", "ids": "BOB", "token": BULK_KEY, "next": "//evil.example"})
@example(data={"act": "activate", "all": "1", "q": "\x00", "status": "\x00", "token": BULK_KEY})
@example(data={"act": "activate", "ids": "9" * HUGE, "token": BULK_KEY})
@example(data={"act": "activate", "ids": "١٢", "token": BULK_KEY})
@example(data={"act": "decline\x00", "ids": "BOB", "token": "\x00"})
@example(data={"act": "decline", "ids": "BOB", "token": BULK_KEY, "reason": "x" * HUGE})
def test_bulk_actions(alice_client, bob, make_profile, data):
    """The bulk confirmation (GET) and its run (POST): a 200 or a 400 that says what
    is wrong and changes nothing, or a run that goes to its own page."""
    make_profile(bob, State.PENDING)
    data = {key: str(bob.pk) if value == "BOB" else value for key, value in data.items()}
    with rolled_back():
        before = db_snapshot()
        shown = alice_client.get(BULK, data)
        assert shown.status_code in (200, 400)
        assert_no_raw_html(shown.content.decode())
        assert db_snapshot() == before
        response = alice_client.post(BULK, data)
        assert response.status_code in (200, 302, 400), response.status_code
        if response.status_code in (200, 400):  # refused: the form again, or bad input
            html = response.content.decode()
            assert 'role="alert"' in html or "invalid-feedback" in html  # says what is wrong
            assert_no_raw_html(html)
            assert db_snapshot() == before
            return
        assert_local_redirect(response)
        assert changed_tables(before, db_snapshot()) <= {"PaymentProfile", "StateLog", "Message"}
        followed = alice_client.get(response["Location"])
        assert followed.status_code == 200
        assert_no_raw_html(followed.content.decode())
        if data.get("reason", "").strip() and "bulk" in response["Location"]:
            assert escape(data["reason"].strip()) in followed.content.decode()


ACTIVITY_PARAMS = ["act", "user", "since", "until", "before", "after"]


@HOSTILE_SETTINGS
@given(params=st.dictionaries(st.sampled_from(ACTIVITY_PARAMS), hostile_text))
@example(params={"user": "\x00", "since": "\x00", "before": "\x00"})
@example(params={"user": "<script>alert(1)</script>", "act": "activate"})
@example(params={"since": "2030-02-30", "until": "9999-12-31"})
@example(params={"since": "0001-01-01", "until": "0001-01-01"})
@example(params={"since": "2030-02-01", "until": "2030-01-01"})
@example(params={"before": "99999999999999999.9999999999999999999", "after": "-1.-1"})
@example(params={"before": "١٢٣.٤", "act": "' OR 1=1 --", "user": "%_"})
@example(params={"user": "x" * HUGE, "until": "2030-01-01" * 1000})
def test_the_activity_log_filters_and_pages(alice, alice_client, bob, make_profile, params):
    """The page and its export answer any parameters with the page (a form error that
    says what to fix, or the newest entries), never a 500, and change nothing."""
    make_profile(bob, State.PENDING)
    with rolled_back():
        payment_profile_activate(actor=alice, user=bob)
        before = db_snapshot()
        response = alice_client.get(reverse("billing:activity"), params)
        assert response.status_code == 200
        html = response.content.decode()
        assert_no_raw_html(html)
        form = response.context["form"]
        for messages in form.errors.values():
            for message in messages:
                assert not message.startswith(GENERIC_ERRORS), message
                assert escape(message) in html
        export = alice_client.get(reverse("billing:activity_export"), params)
        if form.is_valid():
            assert export.status_code == 200
            assert b"".join(export.streaming_content).startswith("\ufeffWhen,Act,".encode())
        else:
            assert export.status_code == 302
            assert export["Location"].startswith(reverse("billing:activity") + "?")
        assert db_snapshot() == before


@HOSTILE_SETTINGS
@given(params=st.dictionaries(st.sampled_from(["before", "after", "next"]), hostile_text))
@example(params={"before": "\x00", "after": "1.1"})
@example(params={"before": "1" * HUGE})
@example(params={"after": "0.0", "next": "javascript:alert(1)"})
def test_the_history_pages(alice_client, bob, make_profile, params):
    make_profile(bob, State.PENDING)
    response = alice_client.get(reverse("billing:profile_history", args=[bob.pk]), params)
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_raw_html(html)
    assert "javascript:" not in html


# --- Login and terms (anonymous, and a user who has not accepted yet) ----------


@HOSTILE_SETTINGS
@given(
    username=st.one_of(hostile_text, st.just("bob@acme.example")),
    password=st.one_of(hostile_text, st.just(PASSWORD)),
    next_url=hostile_text,
)
@example(username="bob@acme.example\x00", password=PASSWORD, next_url="")
@example(username="bob@acme.example", password="\x00", next_url="")
@example(username="' OR '1'='1' --@x.example", password="' OR '1'='1", next_url="")
@example(username="x" * HUGE, password="x" * HUGE, next_url="x" * HUGE)
@example(username="<script>alert(1)</script>", password="", next_url='"><img src=x onerror>')
@example(username="bob@acme.example", password=PASSWORD, next_url="javascript:alert(1)")
@example(username="bob@acme.example", password=PASSWORD, next_url="//evil.example/")
def test_login(bob, username, password, next_url):
    url = reverse("accounts:login")
    with rolled_back():
        client = Client()
        assert_no_raw_html(page(client, url, next=next_url))
        users = list(User.objects.order_by("pk").values("pk", "email", "password"))
        response = client.post(url, {"username": username, "password": password, "next": next_url})
        assert response.status_code in (200, 302, 429)
        if response.status_code == 302:
            # Django's own LoginView: `next` may be relative, but never another site.
            location = urlsplit(response["Location"])
            assert not location.scheme and not location.netloc, response["Location"]
            assert (username, password) == ("bob@acme.example", PASSWORD)
        elif response.status_code == 200:
            assert_no_raw_html(response.content.decode())
            assert response.context["form"].errors
        assert list(User.objects.order_by("pk").values("pk", "email", "password")) == users


@HOSTILE_SETTINGS
@given(accept=hostile_text)
@example(accept="\x00")
@example(accept="x" * HUGE)
@example(accept="false")
def test_terms(acme, accept):
    url = reverse("accounts:terms")
    with rolled_back():
        newcomer = make_user(
            "new@acme.example", acme, terms=False, name="<script>alert(1)</script>"
        )
        client = client_for(newcomer)
        before = db_snapshot()
        response = client.post(url, {"accept": accept})
        assert response.status_code < 500
        if response.status_code == 200:
            assert_refused_clearly(response, before)
            return
        assert_local_redirect(response)
        assert changed_tables(before, db_snapshot()) == {"User"}
        newcomer.refresh_from_db()
        assert newcomer.terms_accepted_at is not None
        assert_shown_escaped(page(client, reverse("accounts:account")), newcomer.name)
