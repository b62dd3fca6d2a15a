"""E-mail, in one place: queueing a message, the links in it, and what delivery does
when a message fails.

Queueing: ``queue_mail`` renders ``templates/emails/<template>_subject.txt``,
``<template>.txt`` and ``<template>.html`` (the same content: plain text, and HTML
beside it) and sends the message through EMAIL_BACKEND, ``QueueBackend``:
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection, make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Max, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string
from mailer.backend import DbBackend
from mailer.engine import ensure_message_id
from mailer.models import (
    PRIORITY_DEFERRED,
    PRIORITY_MEDIUM,
    RESULT_FAILURE,
    RESULT_SUCCESS,
    Message,
    MessageLog,
    get_message_id,
)

logger = logging.getLogger(__name__)


def absolute_url(path: str) -> str:
    """The link to `path` (an absolute path, e.g. from ``reverse()``) for an e-mail."""
    return f"{settings.SITE_URL}{path}"


def queue_mail(*, to: str, template: str, context: dict) -> Message | None:
    """Queue the e-mail ``emails/<template>`` to one address, in the caller's transaction:
    its plain text, and its HTML as an alternative. Subjects name the user's tenant
    (``emails/_subject_tenant.txt``). Returns the queue row (its id, Message-ID and
    time queued: what MessageLog names it by), or None under another EMAIL_BACKEND."""
    subject = render_to_string(f"emails/{template}_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string(f"emails/{template}.txt", context),
        to=[to],
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()
    return getattr(message, "queued_as", None)


class QueueBackend(DbBackend):
    """EMAIL_BACKEND: django-mailer's queue, with each message's Message-ID fixed as it
    is queued (queue_mail's messages, Django's password-reset mail, anything else).

    django-mailer would make up a Message-ID at each delivery attempt and store it
    only once the server has taken the message. A worker killed in between (or a
    failed attempt the server had in fact accepted) then sends it again under a new
    ID, and the receiver cannot tell it is a repeat. Delivery keeps a Message-ID that
    is there (``mailer.engine.ensure_message_id``), on the first try and on retries.

    Each e-mail message is given its queue row as ``queued_as`` (``queue_mail``
    returns it), which DbBackend does not tell.
    """

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            if get_message_id(message) is None:
                message.extra_headers["Message-ID"] = make_msgid(domain=DNS_NAME)
        # DbBackend's own three lines, keeping the rows it makes.
        rows = Message.objects.bulk_create(
            [Message(email=message) for message in email_messages],
            getattr(settings, "MAILER_MESSAGES_BATCH_SIZE", None),
        )
        for message, row in zip(email_messages, rows, strict=True):
            message.queued_as = row
        return len(rows)


# --- Delivery -----------------------------------------------------------------
#
# A message that fails is deferred and retried, with backoff, until it is delivered
# or an operator deletes it: there is no last try after which mail is dropped. One
# that has not been delivered MAILER_STUCK_AFTER seconds after it was queued is
# logged as an ERROR, once. /django-admin/ (Mailer > Messages) shows the queue with
# each message's failed attempts and can retry one now.
#
# What we know of past attempts is django-mailer's log (MessageLog), whose entries
# name a message by its Message-ID and the time it was queued.


@dataclass(frozen=True)
class Failures:
    count: int
    last_at: datetime
    last_error: str


def retry_delay(failures: int) -> timedelta:
    """How long after its latest failed attempt a message is tried again:
    MAILER_RETRY_INTERVAL after the first failure, doubled after each further one,
    at most MAILER_RETRY_MAX_INTERVAL."""
    doublings = min(max(failures - 1, 0), 32)
    seconds = settings.MAILER_RETRY_INTERVAL * 2**doublings
    return timedelta(seconds=min(seconds, settings.MAILER_RETRY_MAX_INTERVAL))


def _stuck_at(message: Message) -> datetime:
    return message.when_added + timedelta(seconds=settings.MAILER_STUCK_AFTER)


def _log_key(message: Message) -> tuple[datetime, str | None]:
    email = message.email
    return message.when_added, email and get_message_id(email)


def failures_of(messages: Iterable[Message]) -> dict[int, Failures]:
    """The failed delivery attempts of each message that has any, by the message's pk."""
    pks = {_log_key(message): message.pk for message in messages}
    if not pks:
        return {}
    logs = MessageLog.objects.filter(
        result=RESULT_FAILURE, when_added__in={when for when, _ in pks}
    )
    counts = logs.values_list("when_added", "message_id").annotate(
        count=Count("pk"), last_at=Max("when_attempted")
    )
    found = {(when, mid): (count, last_at) for when, mid, count, last_at in counts}
    last_errors = {
        (when, mid, at): text
        for when, mid, at, text in logs.filter(
            when_attempted__in={last_at for _, last_at in found.values()}
        ).values_list("when_added", "message_id", "when_attempted", "log_message")
    }
    result = {}
    for key, pk in pks.items():
        if key in found:
            count, last_at = found[key]
            result[pk] = Failures(count, last_at, last_errors.get((*key, last_at), ""))
    return result


def next_try_at(message: Message, failures: Failures | None) -> datetime:
    """When a deferred message is due to be tried again."""
    if failures is None:  # deferred, but no failure logged: nothing to wait for
        return message.when_added
    due = failures.last_at + retry_delay(failures.count)
    if failures.last_at < _stuck_at(message):
        # Try once more as it becomes stuck, so that is reported on time.
        due = min(due, _stuck_at(message))
    return due


def requeue(messages: QuerySet[Message]) -> int:
    """Put the deferred ones of `messages` back in the queue; the worker sends them
    on its next round. Returns how many."""
    return messages.filter(priority=PRIORITY_DEFERRED).update(
        priority=PRIORITY_MEDIUM, retry_count=F("retry_count") + 1
    )


def retry_due_messages() -> int:
    """Put back in the queue every deferred message whose next try has come.

    Each due retry is claimed by one worker: a chunk's messages are locked first
    (rows another worker holds are skipped), and only then are their failures read
    and the due ones put back, in the same transaction. A worker that read a
    message's failures before another retried it, and put it back after that retry
    failed, made each attempt twice during an SMTP outage (the soak of issue 21)."""
    now = timezone.now()
    deferred = iter(Message.objects.deferred().order_by("pk").values_list("pk", flat=True))
    retried = 0
    while pks := list(islice(deferred, 500)):
        with transaction.atomic():
            chunk = list(
                Message.objects.deferred()
                .filter(pk__in=pks)
                .select_for_update(skip_locked=True)
                .order_by("pk")
            )
            failures = failures_of(chunk)  # read under the locks: the latest attempt
            due = [m.pk for m in chunk if next_try_at(m, failures.get(m.pk)) <= now]
            if due:
                retried += requeue(Message.objects.filter(pk__in=due))
    return retried


def _queued() -> list[Message]:
    """The queue as it is now, in the order it is sent (the engine's)."""
    return list(Message.objects.non_deferred().order_by("priority", "when_added", "pk"))


def send_queue() -> int:
    """Deliver the queue, oldest first: django-mailer's ``engine.send_all`` with one
    difference, so that a message is sent by one worker once per try. The engine
    lists the queue, then locks each listed message and sends it whatever became of
    it meanwhile: a retry that another worker had already tried and deferred again
    was sent a second time at once. Here a message is locked only while it is still
    queued (not deferred, not sent), and one another worker holds is skipped. Each
    message is sent in its own transaction, under its lock, as the engine does; a
    failure goes to MAILER_ERROR_HANDLER (``defer_on_error``). Returns how many were
    sent."""
    backend = settings.MAILER_EMAIL_BACKEND
    handle_error = import_string(settings.MAILER_ERROR_HANDLER)
    connection = None
    sent = 0
    for listed in _queued():
        with transaction.atomic():
            message = (
                Message.objects.non_deferred()
                .filter(pk=listed.pk)
                .select_for_update(skip_locked=True)
                .first()
            )
            if message is None:  # sent, deferred or being sent by another worker
                continue
            try:
                if connection is None:
                    connection = get_connection(backend=backend)
                email = message.email
                if email is not None:
                    email.connection = connection
                    ensure_message_id(email)
                    email.send()
                    email.connection = None  # a connection cannot go into the log
                    message.email = email
                    MessageLog.objects.log(message, RESULT_SUCCESS)
                    sent += 1
                else:
                    logger.warning("mail worker: message %s cannot be read, dropped", message.pk)
                message.delete()
            except Exception as error:
                connection, _ = handle_error(connection, message, error)
    return sent


def defer_on_error(connection, message: Message, exc: Exception):
    """Delivery error handler (settings.MAILER_ERROR_HANDLER).

    django-mailer defers a message on SMTP and network errors but re-raises anything
    else, which ends the whole run; as the queue is sent oldest first, one message no
    server can take (say an address with a line break) would then hold back every
    message behind it on every run. So any error short of the database's own defers
    the message: it is kept, logged, and retried with backoff (retry_due_messages).
    """
    if isinstance(exc, DatabaseError):
        raise exc
    email = message.email
    if email is not None and get_message_id(email) is None:
        # Queued without one (before QueueBackend): fix it now, for the log and retries.
        email.extra_headers["Message-ID"] = make_msgid(domain=DNS_NAME)
        message.email = email
    before = failures_of([message]).get(message.pk)
    if before is None and not isinstance(exc, OSError):
        # smtplib's errors are OSErrors, and routine; anything else is worth a look.
        logger.error("mail worker: message %s cannot be sent, deferred: %r", message.pk, exc)
    else:
        logger.info("mail worker: message %s deferred: %s", message.pk, exc)
    message.defer()
    MessageLog.objects.log(message, RESULT_FAILURE, log_message=str(exc))
    if timezone.now() >= _stuck_at(message) and (
        before is None or before.last_at < _stuck_at(message)
    ):
        # The first failure since it became stuck: report it, once.
        logger.error(
            "mail worker: message %s (%r to %s), queued at %s, is still not delivered "
            "after %s failed attempts; latest error: %s. It is retried until it is "
            "delivered: see /django-admin/ > Mailer > Messages.",
            message.pk,
            message.subject,
            ", ".join(message.to_addresses),
            message.when_added.isoformat(timespec="seconds"),
            (before.count if before else 0) + 1,
            exc,
        )
    if connection is not None:
        # A broken connection may not even close; the next message opens a new one.
        with contextlib.suppress(Exception):
            connection.close()
    return None, "deferred"
