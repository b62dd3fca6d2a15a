"""E-mail, in one place: queueing a message, the links in it, and what delivery does
when a message fails.

Queueing: ``queue_mail`` renders ``templates/emails/<template>_subject.txt`` and
``<template>.txt`` and sends the message through EMAIL_BACKEND, ``QueueBackend``:
django-mailer's queue, a row written in the caller's transaction, which commits or
rolls back with the change that caused it. The mail worker (``manage.py
mail_worker``, in accounts/management/commands/) delivers the queue later. Every
message gets its Message-ID as it is queued, so a message delivered twice (a worker
killed after the server took it, before it marked it sent) carries the same one.

Links: every absolute link in an e-mail is ``absolute_url(path)`` (templates use the
``{% absolute_url %}`` tag of ``mail_links``, which calls it), built from SITE_URL.

Which e-mails exist and who gets them is up to the callers: billing/notifications.py
(payment profiles), accounts/services.py (welcome), Django's PasswordResetView.
"""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.core.mail import EmailMessage, make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import DatabaseError
from django.template.loader import render_to_string
from mailer.backend import DbBackend
from mailer.models import RESULT_FAILURE, Message, MessageLog, get_message_id

logger = logging.getLogger(__name__)


def absolute_url(path: str) -> str:
    """The link to `path` (an absolute path, e.g. from ``reverse()``) for an e-mail."""
    return f"{settings.SITE_URL}{path}"


def queue_mail(*, to: str, template: str, context: dict) -> None:
    """Queue the e-mail ``emails/<template>`` to one address, in the caller's transaction."""
    subject = render_to_string(f"emails/{template}_subject.txt", context)
    body = render_to_string(f"emails/{template}.txt", context)
    EmailMessage(subject=" ".join(subject.split()), body=body, to=[to]).send()


class QueueBackend(DbBackend):
    """EMAIL_BACKEND: django-mailer's queue, with each message's Message-ID fixed as it
    is queued (queue_mail's messages, Django's password-reset mail, anything else).

    django-mailer would make up a Message-ID at each delivery attempt and store it
    only once the server has taken the message. A worker killed in between (or a
    failed attempt the server had in fact accepted) then sends it again under a new
    ID, and the receiver cannot tell it is a repeat. Delivery keeps a Message-ID that
    is there (``mailer.engine.ensure_message_id``), on the first try and on retries.
    """

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            if get_message_id(message) is None:
                message.extra_headers["Message-ID"] = make_msgid(domain=DNS_NAME)
        return super().send_messages(email_messages)


# --- Delivery -----------------------------------------------------------------


def defer_on_error(connection, message: Message, exc: Exception):
    """Delivery error handler (settings.MAILER_ERROR_HANDLER).

    django-mailer defers a message on SMTP and network errors but re-raises anything
    else, which ends the whole run; as the queue is sent oldest first, one message no
    server can take (say an address with a line break) would then hold back every
    message behind it on every run. So any error short of the database's own defers
    the message: it is kept, logged, and retried at most MAILER_EMAIL_MAX_RETRIES times.
    """
    if isinstance(exc, DatabaseError):
        raise exc
    if not isinstance(exc, OSError):  # smtplib's errors are OSErrors: those are routine
        logger.error("mail worker: message %s cannot be sent, deferred: %r", message.pk, exc)
    else:
        logger.info("mail worker: message %s deferred: %s", message.pk, exc)
    message.defer()
    MessageLog.objects.log(message, RESULT_FAILURE, log_message=str(exc))
    if connection is not None:
        # A broken connection may not even close; the next message opens a new one.
        with contextlib.suppress(Exception):
            connection.close()
    return None, "deferred"
