"""After a card is saved, its full number and its CVC appear nowhere of ours: they
never reach this server at all (Stripe.js sends them to Stripe). The one place for
that: the other test files check what is kept and shown (brand, last four, expiry),
not what is not.

This walks the whole life of a card profile with localstripe in the loop: the card
is sent to the processor the way the page's Stripe.js sends it (tests.processor.
Browser), a refused attempt, the save with the SetupIntent, the admin's pages, the
activation, Django's admin site, the API, the e-mails queued and sent by the worker,
the Users CSV, SQL as it was sent to the database (at DEBUG), and a new card while
the profile is active. Then it looks everywhere: every column of every table, the
decoded sessions and mail, the logs, and every page and API answer on the way.
(That no request of the browser's to our origin carries the card: the browser test,
tests/e2e/test_card_payment.py.)
"""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from mailer.models import Message, MessageLog

from accounts.models import User
from accounts.tokens import api_token_create
from billing.models import Method, PaymentProfile, State
from billing.processor import setup_intent_start
from tests.helpers import card_post, client_for, no_profile_saved

# Test cards localstripe takes (16 digits, a 3-digit CVC), with CVCs unlike anything
# else in a page; a CVC is still looked for only as a number of its own (not inside
# a longer run of letters and digits: tokens and hashes).
CARD_DIGITS = "4000056655665556"  # Visa (debit)
CARD_SPACED = "4000 0566 5566 5556"
CVC = "731"
DECLINED_DIGITS = "4000000000000002"
NEW_CARD_DIGITS = "5555555555554444"  # Mastercard
NEW_CARD_SPACED = "5555 5555 5555 4444"
NEW_CVC = "806"

_CVCS_ALONE = [
    (cvc, re.compile(rf"(?<![0-9A-Za-z]){cvc}(?![0-9A-Za-z])")) for cvc in (CVC, NEW_CVC)
]


def leaks(text: str) -> list[str]:
    """What of either card is in `text`: the number in any of its spellings (or all
    but its last four digits, which the app may show), or a CVC standing alone."""
    found = [
        spelling
        for spelling in (
            CARD_DIGITS,
            CARD_SPACED,
            CARD_DIGITS[:-4],
            DECLINED_DIGITS,
            NEW_CARD_DIGITS,
            NEW_CARD_SPACED,
            NEW_CARD_DIGITS[:-4],
        )
        if spelling in text
    ]
    found += [cvc for cvc, alone in _CVCS_ALONE if alone.search(text)]
    return found


def every_database_value() -> dict[str, str]:
    """Every row of every table, as text, by table: a raw SELECT, so nothing a
    model hides (or a table without a model) is skipped."""
    dump = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump[table] = "\n".join(" | ".join(map(str, row)) for row in cursor.fetchall())
    return dump


def sessions_decoded() -> str:
    return "\n".join(
        repr(SessionStore().decode(session.session_data)) for session in Session.objects.all()
    )


def mail_decoded() -> str:
    """The queued and the logged messages, decoded (the queue stores them encoded):
    subject, recipients and body, and the full text less Message-ID and Date (the
    Message-ID holds the process id, which could be any four digits)."""
    parts = []
    for row in [*Message.objects.all(), *MessageLog.objects.all()]:
        email = row.email
        if email is None:
            continue
        mime = email.message()
        del mime["Message-ID"], mime["Date"]
        parts += [email.subject, " ".join(email.to), email.body, mime.as_string()]
    return "\n".join(parts)


class Recorder:
    """Clients whose every response is kept, to look through every page at the end."""

    def __init__(self) -> None:
        self.pages: list[tuple[str, str]] = []

    def client(self, user: User | None) -> Client:
        client = client_for(user)
        for method in ("get", "post"):
            setattr(client, method, self._recording(getattr(client, method)))
        return client

    def _recording(self, send):
        def call(path, *args, **kwargs):
            response = send(path, *args, **kwargs)
            assert response.status_code < 500, path
            if response.streaming:  # a CSV export: read as it streams
                content = b"".join(response.streaming_content)
            else:
                content = response.content
            self.pages.append((path, content.decode()))
            return response

        return call


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("ops@ccm.example", "x" * 20, name="Olga Operator")


def test_it_shows_the_card_number_and_cvc_nowhere(
    card_payments, localstripe, alice, bob, betty, operator, caplog, mailoutbox
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    pages = Recorder()
    as_bob, as_alice, as_operator = pages.client(bob), pages.client(alice), pages.client(operator)
    api = pages.client(None)
    token = api_token_create(admin=alice, name="sweep", expires_at=None).plaintext
    api_headers = {"headers": {"Authorization": f"Bearer {token}"}}
    edit = reverse("billing:profile_edit")
    setup = reverse("billing:profile_card_setup")

    def enter_card(number: str, cvc: str, exp: str = "04/39") -> str:
        """Bob's page: a SetupIntent from our server, the card to Stripe, the form to us."""
        secret = as_bob.post(setup).json()["client_secret"]
        answer = card_payments.confirm(secret, number, cvc=cvc, exp=exp)
        return secret.split("_secret_")[0] if answer.get("status") == "succeeded" else ""

    with CaptureQueriesContext(connection) as queries:  # logs every SQL with its params
        as_bob.get(edit)

        # A declined card: Stripe.js says so in the page; nothing reaches us but a
        # SetupIntent that did not succeed, if the page were made to post it.
        secret = as_bob.post(setup).json()["client_secret"]
        declined = card_payments.confirm(secret, DECLINED_DIGITS, cvc=CVC)
        assert declined["error"]["code"] == "card_declined"
        refused = as_bob.post(edit, card_post(secret.split("_secret_")[0]))
        assert "not confirmed" in " ".join(refused.context["form"].errors["setup_intent"])
        assert no_profile_saved()

        saved = as_bob.post(edit, card_post(enter_card(CARD_DIGITS, CVC)), follow=True)
        assert saved.redirect_chain == [(edit, 302)]
        profile = PaymentProfile.objects.get(user=bob)
        assert (profile.state, profile.method) == (State.PENDING, Method.CREDIT_CARD)
        assert (profile.card_brand, profile.card_last4) == ("Visa", "5556")
        for url in (edit, reverse("accounts:account"), reverse("billing:gate")):
            as_bob.get(url, follow=True)

        users = reverse("billing:user_list")
        detail = reverse("billing:profile_detail", args=[bob.pk])
        history = reverse("billing:profile_history", args=[bob.pk])
        activate = reverse("billing:profile_activate", args=[bob.pk])
        popup = {"headers": {"X-Requested-With": "fetch"}}
        as_alice.get(reverse("accounts:home"))
        as_alice.get(users)
        as_alice.get(users, {"status": "pending"})
        as_alice.get(detail)
        as_alice.get(detail, **popup)
        as_alice.get(activate)
        as_alice.get(activate, **popup)
        as_alice.post(activate, {"next": users}, follow=True)
        assert PaymentProfile.objects.get(user=bob).state == State.ACTIVE
        for url in (users, detail, history, reverse("billing:profile_deactivate", args=[bob.pk])):
            as_alice.get(url)
        page = as_alice.get(detail).content.decode()
        assert "Visa ending in 5556" in page and "04/39" in page
        # The Users page's CSV: the card as brand, last four and expiry, no more.
        export = reverse("billing:user_export")
        as_alice.get(export)
        as_alice.get(export, {"status": "active"})
        exported = pages.pages[-1][1]
        assert "Bob User,bob@acme.example,Cloud Pro,Credit Card,Active," in exported
        assert ",Visa ending in 5556,4,2039," in exported
        # The API: the same.
        answer = api.get(f"/api/v1/users/{bob.pk}/profile", **api_headers).json()
        assert answer["card"] == {
            "brand": "Visa",
            "last4": "5556",
            "expiry": "04/39",
            "cardholder": "Bob User",
        }
        api.get("/api/v1/users", **api_headers)
        api.get(f"/api/v1/users/{bob.pk}/history", **api_headers)

        as_bob.get(reverse("accounts:home"))
        as_bob.get(edit)

        # A new card while the profile is active: it waits as a pending change.
        as_bob.post(edit, card_post(enter_card(NEW_CARD_DIGITS, NEW_CVC, "11/38")), follow=True)
        change = PaymentProfile.objects.get(user=bob).pending_change
        assert change.card_last4 == "4444"
        review = reverse("billing:profile_change_review", args=[bob.pk])
        as_alice.get(users, {"status": "change_pending"})
        as_alice.get(export, {"status": "change_pending"})
        as_alice.get(review)
        page = as_alice.get(review, **popup).content.decode()
        assert "Visa ending in 4444" in page and "Visa ending in 5556" in page
        api.get(f"/api/v1/users/{bob.pk}/profile", **api_headers)
        as_alice.post(review, {"decision": "approve", "change": change.pk, "next": users})
        assert PaymentProfile.objects.get(user=bob).card_last4 == "4444"
        as_bob.get(edit)
        as_alice.get(history)
        as_alice.get(reverse("billing:user_export"))

        as_operator.get(reverse("admin:billing_paymentprofile_changelist"))
        as_operator.get(reverse("admin:billing_paymentprofile_change", args=[profile.pk]))

        # alice's "awaits activation", bob's "activated", alice's "change awaits
        # approval", bob's "change approved"
        assert Message.objects.count() == 4
        queued = mail_decoded()
        call_command("mail_worker", "--once")
        assert len(mailoutbox) == 4 and not Message.objects.exists()

    # What the processor knows of the card stays with the processor: the page's
    # SetupIntent client secret is never kept, and the PaymentMethod's id is shown to
    # the operator in Django's admin only (to look it up in Stripe's dashboard).
    payment_method = PaymentProfile.objects.get(user=bob).stripe_payment_method_id
    assert payment_method.startswith("pm_")
    assert len(pages.pages) > 25
    for path, html in pages.pages:
        assert not leaks(html), path
        assert "_secret_" not in html or path == setup, path
        if not path.startswith("/django-admin/"):
            assert payment_method not in html, path
    for table, values in every_database_value().items():
        assert not leaks(values), table
        assert "_secret_" not in values, table
    assert not leaks(sessions_decoded()) and payment_method not in sessions_decoded()
    assert not leaks(queued) and not leaks(mail_decoded())
    assert payment_method not in queued + mail_decoded()
    for sent in mailoutbox:
        assert not leaks(sent.subject + sent.body + " ".join(sent.to)), sent.subject
    assert "django.db.backends" in {record.name for record in caplog.records}
    assert not leaks(caplog.text) and "_secret_" not in caplog.text
    for record in caplog.records:  # the raw arguments too, not only the formatted text
        assert not leaks(repr(record.args)), record.getMessage()
    assert not leaks("\n".join(query["sql"] for query in queries.captured_queries))
    # localstripe plays the processor and keeps the cards it was sent in its memory,
    # not in a file anyone else reads (its log carries no card data either).
    assert not leaks(localstripe.log.read_text())


def test_it_writes_no_setup_intent_back_into_a_refused_form(card_payments, alice, bob):
    started = setup_intent_start(user=bob)
    response = client_for(bob).post(
        reverse("billing:profile_edit"), {**card_post(started.setup_intent), "cardholder_name": ""}
    )
    assert response.status_code == 200 and response.context["form"].errors
    html = response.content.decode()
    (tag,) = re.findall(r'<input[^>]*name="setup_intent"[^>]*>', html)
    assert "value=" not in tag, tag
    assert started.client_secret not in html
    assert no_profile_saved()
