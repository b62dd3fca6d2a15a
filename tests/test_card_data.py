"""After a card is saved, its full number and its CVC appear nowhere, and the
gateway's token never leaves the database. The one place for that: the other test
files check what is kept and shown (brand, last four, expiry), not what is not.

This walks the whole life of a card profile: a refused attempt, the save, the
admin's pages, the activation, Django's admin site, the e-mails queued and sent by
the worker, SQL as it was sent to the database (at DEBUG), and an error report
raised while the card is in hand. Then it looks everywhere: every column of every
table, the decoded sessions and mail, the logs, and every page rendered on the way.
A refused form writes neither back, whichever field was at fault.
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
from django.views.debug import ExceptionReporter
from mailer.models import Message, MessageLog

from accounts.models import User
from billing import gateway
from billing.models import Method, PaymentProfile, State
from billing.services import CardInput
from tests.helpers import client_for, no_profile_saved

# An American Express test number: 15 digits, a 4-digit CVC. The CVC is short enough
# to turn up by chance inside random tokens and hashes, so it is looked for only as
# a number of its own (not inside a longer run of letters and digits).
CARD_DIGITS = "371449635398431"
CARD_SPACED = "3714 496353 98431"  # as printed on an Amex card
CARD_GROUPED = "3714 4963 5398 431"
CVC = "9731"
CARD = {
    "method": "credit_card",
    "cardholder_name": "Bob User",
    "card_number": CARD_SPACED,
    "card_expiry": "04/39",
    "cvc": CVC,
}

# The card Bob saves later to replace it, while his profile is active: it waits as a
# pending change, which keeps no more of it than a profile does.
NEW_CARD_DIGITS = "6011000990139424"  # Discover
NEW_CARD_SPACED = "6011 0009 9013 9424"
NEW_CVC = "806"
NEW_CARD = {**CARD, "card_number": NEW_CARD_SPACED, "card_expiry": "11/38", "cvc": NEW_CVC}

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
            CARD_GROUPED,
            CARD_DIGITS[:-4],
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


def test_it_shows_the_card_number_and_cvc_nowhere(alice, bob, betty, operator, caplog, mailoutbox):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    pages = Recorder()
    as_bob, as_alice, as_operator = pages.client(bob), pages.client(alice), pages.client(operator)
    edit = reverse("billing:profile_edit")

    with CaptureQueriesContext(connection) as queries:  # logs every SQL with its params
        as_bob.get(edit)

        # A refused attempt: the page comes back with the error (looked through below).
        refused = as_bob.post(edit, {**CARD, "card_expiry": "13/39"})
        assert "MM/YY" in " ".join(refused.context["form"].errors["card_expiry"])
        assert no_profile_saved()

        saved = as_bob.post(edit, CARD, follow=True)
        assert saved.redirect_chain == [(edit, 302)]
        profile = PaymentProfile.objects.get(user=bob)
        assert (profile.state, profile.method) == (State.PENDING, Method.CREDIT_CARD)
        assert (profile.card_brand, profile.card_last4) == ("American Express", "8431")
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
        assert "American Express ending in 8431" in page and "04/39" in page
        # The Users page's CSV: the card as brand, last four and expiry, no more.
        export = reverse("billing:user_export")
        as_alice.get(export)
        as_alice.get(export, {"status": "active"})
        exported = pages.pages[-1][1]
        assert "Bob User,bob@acme.example,Cloud Pro,Credit Card,Active," in exported
        assert ",American Express ending in 8431,04/39," in exported

        as_bob.get(reverse("accounts:home"))
        as_bob.get(edit)

        # A new card while the profile is active: it waits as a pending change.
        refused = as_bob.post(edit, {**NEW_CARD, "cvc": "1"})
        assert refused.status_code == 200
        as_bob.post(edit, NEW_CARD, follow=True)
        change = PaymentProfile.objects.get(user=bob).pending_change
        assert (change.card_brand, change.card_last4) == ("Discover", "9424")
        review = reverse("billing:profile_change_review", args=[bob.pk])
        as_alice.get(users, {"status": "change_pending"})
        as_alice.get(export, {"status": "change_pending"})
        as_alice.get(review)
        page = as_alice.get(review, **popup).content.decode()
        assert "Discover ending in 9424" in page and "American Express ending in 8431" in page
        as_alice.post(review, {"decision": "approve", "change": change.pk, "next": users})
        assert PaymentProfile.objects.get(user=bob).card_last4 == "9424"
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

    token = PaymentProfile.objects.get(user=bob).card_token
    assert token.startswith("tok_local_")
    assert len(pages.pages) > 20
    for path, html in pages.pages:
        assert not leaks(html), path
        assert token not in html, path  # not even to the operator in Django's admin
    for table, values in every_database_value().items():
        assert not leaks(values), table
    assert not leaks(sessions_decoded()) and token not in sessions_decoded()
    assert not leaks(queued) and not leaks(mail_decoded())
    assert token not in queued + mail_decoded()
    for sent in mailoutbox:
        assert not leaks(sent.subject + sent.body + " ".join(sent.to)), sent.subject
    assert "django.db.backends" in {record.name for record in caplog.records}
    assert not leaks(caplog.text)
    for record in caplog.records:  # the raw arguments too, not only the formatted text
        assert not leaks(repr(record.args)), record.getMessage()
    assert not leaks("\n".join(query["sql"] for query in queries.captured_queries))


def test_it_keeps_the_card_out_of_an_error_report(alice, bob, caplog, monkeypatch):
    """The gateway fails after it was handed the card: the 500 is logged with the
    request, and the error report built from that log record (what Django's
    AdminEmailHandler mails, text and HTML with each frame's local variables)
    shows the POST and the frames without the card number or the CVC."""

    def gateway_down(*args, **kwargs):
        raise ConnectionError("payment gateway unreachable")

    monkeypatch.setattr(gateway.secrets, "token_urlsafe", gateway_down)
    caplog.set_level(logging.DEBUG)
    client = client_for(bob)
    client.raise_request_exception = False

    response = client.post(reverse("billing:profile_edit"), CARD)

    assert response.status_code == 500
    assert not leaks(response.content.decode())
    assert no_profile_saved()
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info and record.request.method == "POST"
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "payment gateway unreachable" in text and "card_number" in text
    assert "tokenize" in html  # the gateway's frame is in the report, its card is not
    assert not leaks(text)
    assert not leaks(html)
    assert not leaks(caplog.text)


@pytest.mark.parametrize(
    "changes",
    [
        {"card_number": CARD_SPACED[:-1] + "2"},
        {"card_number": "4000 0000 0000 0002", "cvc": "123"},
        {"card_expiry": "01/20"},
        {"cvc": CVC[:3]},
        {"cardholder_name": ""},
    ],
    ids=["check-digit", "declined", "expired", "short-cvc", "no-cardholder"],
)
def test_it_writes_neither_back_into_a_refused_card_form(alice, bob, changes):
    typed = {**CARD, **changes}
    response = client_for(bob).post(reverse("billing:profile_edit"), typed)

    assert response.status_code == 200 and response.context["form"].errors
    html = response.content.decode()
    for name in ("card_number", "cvc"):
        (tag,) = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert "value=" not in tag, tag
    assert not leaks(html)
    assert typed["card_number"] not in html
    if typed["cardholder_name"]:
        assert f'value="{typed["cardholder_name"]}"' in html  # what may come back, does
    assert no_profile_saved()


def test_it_shows_only_the_last_four_of_a_card_in_hand():
    card = CardInput(cardholder="Bob User", number=CARD_DIGITS, exp_month=4, exp_year=2039, cvc=CVC)
    assert not leaks(repr(card)) and not leaks(str(card))
    assert "8431" in repr(card)
