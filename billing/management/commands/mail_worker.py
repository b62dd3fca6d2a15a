"""`manage.py mail_worker`: delivers every e-mail the app queues (see accounts/mail.py,
where a failed message is handled: settings.MAILER_ERROR_HANDLER), and runs the
app's scheduled jobs (billing/jobs.py) every JOBS_INTERVAL seconds, and every round
the bulk actions too large to run in a request (billing/bulk.py), so an operator runs
one process for all."""

from __future__ import annotations

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from mailer.models import Message

from accounts.mail import retry_due_messages, send_queue
from billing.bulk import run_bulk_actions
from billing.jobs import run_jobs

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Deliver queued e-mail: sends the queue every MAILER_WORKER_INTERVAL seconds; every "
        "MAILER_RETRY_INTERVAL seconds puts back in the queue the failed messages whose next "
        "try has come (backoff: MAILER_RETRY_INTERVAL doubling up to MAILER_RETRY_MAX_INTERVAL, "
        "until delivered). Every JOBS_INTERVAL seconds (0: never) runs the scheduled jobs "
        "(digests, reminders, expiring cards) first; every round, runs the bulk actions too "
        "large for a request. Several workers may run against one database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Put back failed mail that is due, run the scheduled jobs, send the queue "
            "once, exit.",
        )
        parser.add_argument(
            "--no-jobs", action="store_true", help="Deliver mail only: never run the jobs."
        )

    def handle(self, *args, once: bool = False, no_jobs: bool = False, **options):
        jobs_every = 0 if no_jobs else settings.JOBS_INTERVAL
        if once:
            self.run_once(retry=True, jobs=bool(jobs_every))
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
        last_retry = last_jobs = float("-inf")
        while not stop:
            now = time.monotonic()
            retry = now - last_retry >= settings.MAILER_RETRY_INTERVAL
            if retry:
                last_retry = now
            jobs = bool(jobs_every) and now - last_jobs >= jobs_every
            if jobs:
                last_jobs = now
            try:
                self.run_once(retry=retry, jobs=jobs)
            except Exception:  # keep the worker alive through a database hiccup
                logger.exception("mail worker: sending failed; trying again shortly")
            for _ in range(settings.MAILER_WORKER_INTERVAL * 10):
                if stop:
                    break
                time.sleep(0.1)
        self.stdout.write("Mail worker stopped.")
        self.stdout.flush()

    def run_once(self, *, retry: bool, jobs: bool = False) -> None:
        # Bulk actions too large for a request (billing/bulk.py), every round: an
        # admin watches their progress. A slice at a time, so their mail goes out.
        rows = run_bulk_actions()
        if rows:
            logger.info("mail worker: bulk actions: %s rows done", rows)
        if jobs:
            # Before sending, so what a job queues goes out in the same round.
            done = run_jobs()
            if any(done.values()):
                logger.info("mail worker: scheduled jobs: %s", done)
        if retry:
            retried = retry_due_messages()
            if retried:
                logger.info("mail worker: %s deferred message(s) queued again", retried)
        if Message.objects.non_deferred().exists():
            send_queue()  # each message by one worker, once per try
