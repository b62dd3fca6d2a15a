from __future__ import annotations

import contextlib
import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError
from mailer import engine
from mailer.models import RESULT_FAILURE, Message, MessageLog

logger = logging.getLogger(__name__)


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


class Command(BaseCommand):
    help = (
        "Deliver queued e-mail: sends the queue every MAILER_WORKER_INTERVAL seconds and "
        "puts failed messages back in the queue every MAILER_RETRY_INTERVAL seconds, at most "
        "MAILER_EMAIL_MAX_RETRIES times. Several workers may run against one database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Retry deferred mail, send the queue once, exit."
        )

    def handle(self, *args, once: bool = False, **options):
        if once:
            self.run_once(retry=True)
            return
        stop = False

        def _stop(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.stdout.write(
            f"Mail worker started: delivering through {settings.MAILER_EMAIL_BACKEND}."
        )
        self.stdout.flush()  # a process manager reads it through a pipe: say it now
        last_retry = 0.0
        while not stop:
            now = time.monotonic()
            retry = now - last_retry >= settings.MAILER_RETRY_INTERVAL
            if retry:
                last_retry = now
            try:
                self.run_once(retry=retry)
            except Exception:  # keep the worker alive through a database hiccup
                logger.exception("mail worker: sending failed; trying again shortly")
            for _ in range(settings.MAILER_WORKER_INTERVAL * 10):
                if stop:
                    break
                time.sleep(0.1)
        self.stdout.write("Mail worker stopped.")
        self.stdout.flush()

    def run_once(self, *, retry: bool) -> None:
        if retry:
            retried = Message.objects.retry_deferred()
            if retried:
                logger.info("mail worker: %s deferred message(s) queued again", retried)
        if Message.objects.non_deferred().exists():
            engine.send_all()
