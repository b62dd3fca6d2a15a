"""Every e-mail the app sends (accounts/mail.py queues them all): a plain-text part
and an HTML part with the same links, a subject that names the tenant, the product
called CloudCenter, and a Message-ID fixed in the queue row."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from mailer.models import Message

from accounts import services
from billing.models import Method
from billing.services import (
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, client_for

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def queued_mail() -> list[EmailMultiAlternatives]:
    return [message.email for message in Message.objects.order_by("pk")]


def submitted(alice, bob, acme):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)


def activated(alice, bob, acme):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    Message.objects.all().delete()
    payment_profile_activate(actor=alice, user=bob)


def deactivated(alice, bob, acme):
    activated(alice, bob, acme)
    Message.objects.all().delete()
    payment_profile_deactivate(actor=alice, user=bob, reason="Invoice overdue <90 days>")


def welcome(alice, bob, acme):
    services.user_create(
        actor=alice, tenant=acme, name="Nina New", email="nina@acme.example", plan=None
    )


def password_reset(alice, bob, acme):
    client_for(None).post(reverse("accounts:password_reset"), {"email": bob.email})


EVERY_EMAIL = [submitted, activated, deactivated, welcome, password_reset]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: set[str] = set()
        self.remote: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "href":
                self.hrefs.add(value)
            if name in ("src", "background") or tag in ("img", "link", "script"):
                self.remote.append(f"{tag} {name}={value}")


@pytest.mark.parametrize("send", EVERY_EMAIL, ids=lambda f: f.__name__)
def test_every_email_has_a_text_and_an_html_part_with_the_same_links(alice, bob, acme, send):
    send(alice, bob, acme)
    mails = queued_mail()
    assert mails
    for mail in mails:
        [(html, mimetype)] = mail.alternatives
        assert mimetype == "text/html"
        text_links = set(re.findall(r"https?://\S+", mail.body))
        parser = Links()
        parser.feed(html)
        assert text_links, mail.body
        assert parser.hrefs == text_links
        assert parser.remote == []  # no images, stylesheets or scripts to fetch
        assert "url(" not in html


@pytest.mark.parametrize("send", EVERY_EMAIL, ids=lambda f: f.__name__)
def test_every_subject_names_the_tenant_and_the_product_is_cloudcenter(alice, bob, acme, send):
    send(alice, bob, acme)
    for mail in queued_mail():
        assert mail.subject.startswith("[Acme] "), mail.subject
        assert mail.from_email == settings.DEFAULT_FROM_EMAIL
        for part in (mail.subject, mail.body, mail.alternatives[0][0]):
            assert "CCM" not in part and "console" not in part
        assert "CloudCenter" in mail.body and "CloudCenter" in mail.alternatives[0][0]


def test_the_sender_is_cloudcenter():
    assert settings.DEFAULT_FROM_EMAIL.startswith("CloudCenter <")


@pytest.mark.parametrize("send", EVERY_EMAIL, ids=lambda f: f.__name__)
def test_every_email_has_its_message_id_in_the_queue_row(alice, bob, acme, send):
    send(alice, bob, acme)
    ids = [mail.extra_headers.get("Message-ID") for mail in queued_mail()]
    assert ids and all(ids) and len(set(ids)) == len(ids)


def test_the_html_part_escapes_what_users_typed(alice, bob, acme):
    deactivated(alice, bob, acme)
    [mail] = queued_mail()
    assert "Reason: Invoice overdue <90 days>" in mail.body
    assert "Invoice overdue &lt;90 days&gt;" in mail.alternatives[0][0]


def test_the_admins_link_opens_that_users_row_on_the_users_page(alice, dora, bob, betty, acme):
    submitted(alice, bob, acme)
    for mail in queued_mail():
        [link] = re.findall(r"https?://\S+", mail.body)
        assert link == f"{settings.SITE_URL}/admin/users/?q=bob%40acme.example"
        page = client_for(alice).get(link.removeprefix(settings.SITE_URL)).content.decode()
        assert "bob@acme.example" in page
        assert "betty@acme.example" not in page and "dora@acme.example" not in page
