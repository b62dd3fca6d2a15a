"""Mail over real SMTP: an aiosmtpd server on loopback and the documented worker.

The app queues each e-mail as a django-mailer row in the transaction of the act;
`manage.py mail_worker --once` retries what was deferred and sends the queue. On
PostgreSQL the worker runs as its own process against the test database (as in
production); SQLite's test database lives in memory, so there it runs in-process.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from mailer.models import (
    PRIORITY_DEFERRED,
    PRIORITY_MEDIUM,
    RESULT_FAILURE,
    RESULT_SUCCESS,
    Message,
    MessageLog,
)

from billing.models import Method
from billing.services import (
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, client_for, operator_env

BASE_DIR = Path(__file__).resolve().parent.parent
SITE_URL = "https://ccm.example.test"
INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class KeepMessages:
    """aiosmtpd handler: keeps every message it accepts, parsed."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on a fixed loopback port that can go down and come back."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.handler = KeepMessages()
        self.controller: Controller | None = None

    @property
    def received(self) -> list[tuple[list[str], EmailMessage]]:
        return self.handler.received

    def start(self) -> None:
        assert self.controller is None
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    settings.SITE_URL = SITE_URL
    settings.MAILER_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 5
    server.start()
    yield server
    server.stop()


def on_postgresql() -> bool:
    return connection.settings_dict["ENGINE"] == "django.db.backends.postgresql"


def worker_database_url() -> str:
    """The test database, for a process of its own (PostgreSQL only)."""
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def mail_worker(smtp, settings):
    """Run `manage.py mail_worker --once` against the test database and this server:
    as its own process where the database allows (``in_process=True`` to save the
    start-up time where the process boundary is not the point)."""

    def run(*, in_process: bool = False) -> None:
        if in_process or not on_postgresql():
            call_command("mail_worker", "--once")
            return
        env = operator_env(
            DEBUG="true",
            DATABASE_URL=worker_database_url(),
            EMAIL_HOST=smtp.host,
            EMAIL_PORT=str(smtp.port),
            EMAIL_TIMEOUT="5",
            MAILER_RETRY_INTERVAL=str(settings.MAILER_RETRY_INTERVAL),
        )
        done = subprocess.run(
            [sys.executable, "manage.py", "mail_worker", "--once"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    return run


def by_recipient(smtp: SmtpServer) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for recipients, message in smtp.received:
        for address in recipients:
            found.setdefault(address, []).append(message)
    return found


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_it_delivers_the_admins_and_the_users_mail_over_smtp(
    smtp, mail_worker, alice, dora, bob, betty
):
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    mail_worker()

    got = by_recipient(smtp)
    assert sorted(got) == ["alice@acme.example", "dora@acme.example"]
    for address, first_name in (("alice@acme.example", "Alice"), ("dora@acme.example", "Dora")):
        [message] = got[address]
        assert message["To"] == address
        assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
        assert message["Subject"] == "[Acme] Payment profile of Bob User awaits activation"
        body = body_of(message)
        assert f"Hello {first_name}," in body
        assert "Bob User <bob@acme.example> has set up a payment profile." in body
        assert "Payment Method: Invoice" in body
        assert f"{SITE_URL}/admin/users/?q=bob%40acme.example" in body.split()
        html = message.get_body(preferencelist=("html",)).get_content()
        assert f'href="{SITE_URL}/admin/users/?q=bob%40acme.example"' in html
    assert Message.objects.count() == 0

    smtp.received.clear()
    payment_profile_activate(actor=alice, user=bob)
    mail_worker()
    [(recipients, message)] = smtp.received
    assert recipients == ["bob@acme.example"]
    assert message["Subject"] == "[Acme] Your payment profile is active"
    body = body_of(message)
    assert "Hello Bob," in body
    assert "Your payment profile (Invoice) has been activated." in body
    assert f"{SITE_URL}/" in body.split()

    smtp.received.clear()
    payment_profile_deactivate(actor=alice, user=bob, reason="Invoice overdue <90 days>")
    mail_worker()
    [(recipients, message)] = smtp.received
    assert recipients == ["bob@acme.example"]
    assert message["Subject"] == "[Acme] Your payment profile has been deactivated"
    body = body_of(message)
    assert "Your payment profile (Invoice) has been deactivated by your admin." in body
    # Plain text mail: the reason as typed, not HTML-escaped.
    assert "Reason: Invoice overdue <90 days>" in body
    assert f"{SITE_URL}/account/" in body.split()
    assert Message.objects.count() == 0
    assert MessageLog.objects.filter(result=RESULT_SUCCESS).count() == 4


def test_it_keeps_mail_while_smtp_is_down_and_delivers_it_once_when_back(
    smtp, mail_worker, settings, alice, dora, bob
):
    settings.MAILER_RETRY_INTERVAL = 0  # no backoff: each run retries
    smtp.stop()
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    payment_profile_activate(actor=alice, user=bob)

    for _ in range(3):
        mail_worker()
    assert smtp.received == []
    kept = Message.objects.order_by("pk")
    assert kept.count() == 3
    assert all(m.priority == 4 for m in kept)  # deferred, not lost
    # The first try and two retries, for each of the three messages.
    assert MessageLog.objects.filter(result=RESULT_FAILURE).count() == 9

    smtp.start()
    mail_worker()
    mail_worker()  # nothing left: a second run must not send anything again

    got = by_recipient(smtp)
    assert {address: len(messages) for address, messages in got.items()} == {
        "alice@acme.example": 1,
        "dora@acme.example": 1,
        "bob@acme.example": 1,
    }
    assert got["bob@acme.example"][0]["Subject"] == "[Acme] Your payment profile is active"
    assert len({m["Message-ID"] for _, m in smtp.received}) == 3
    assert Message.objects.count() == 0
    assert MessageLog.objects.filter(result=RESULT_SUCCESS).count() == 3


def test_it_retries_through_an_outage_longer_than_any_retry_limit_and_reports_it_once(
    smtp, mail_worker, alice, bob, caplog, time_machine
):
    """Ten hours without SMTP, a worker run every minute (`--once` from cron, say):
    the message is tried with backoff (1, 2, 4... minutes, at most an hour apart),
    never given up on, reported as stuck once, and delivered when the server is back."""
    caplog.set_level(logging.INFO)
    time_machine.move_to(datetime(2030, 1, 7, 9, 0, tzinfo=UTC), tick=False)
    smtp.stop()
    payment_profile_activate_ready(alice, bob)

    stuck_reports = []
    for minute in range(10 * 60):
        mail_worker(in_process=True)
        stuck_reports += [
            (minute, r.getMessage()) for r in caplog.records if "still not delivered" in r.message
        ]
        caplog.clear()
        time_machine.shift(timedelta(minutes=1))

    message = Message.objects.get()
    assert message.priority == 4  # deferred, kept
    tried_at = [
        round((log.when_attempted - message.when_added).total_seconds() / 60)
        for log in MessageLog.objects.filter(result=RESULT_FAILURE).order_by("when_attempted")
    ]
    # Backoff from MAILER_RETRY_INTERVAL (60 s), one extra try when it became stuck
    # (MAILER_STUCK_AFTER, an hour), then hourly (MAILER_RETRY_MAX_INTERVAL).
    assert tried_at == [0, 1, 3, 7, 15, 31, 60, 120, 180, 240, 300, 360, 420, 480, 540]
    [(minute, report)] = stuck_reports
    assert minute == 60
    assert "'[Acme] Your payment profile is active' to bob@acme.example" in report
    assert "after 7 failed attempts" in report

    smtp.start()
    time_machine.shift(timedelta(hours=1))
    mail_worker(in_process=True)
    [(recipients, delivered)] = smtp.received
    assert recipients == ["bob@acme.example"]
    assert delivered["Subject"] == "[Acme] Your payment profile is active"
    assert not Message.objects.exists()
    assert MessageLog.objects.filter(result=RESULT_SUCCESS).count() == 1


def payment_profile_activate_ready(admin, user) -> None:
    """Submit and activate without admins to tell, so exactly one message (the
    user's) is queued."""
    payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE)
    Message.objects.all().delete()
    payment_profile_activate(actor=admin, user=user)
    assert Message.objects.count() == 1


def test_it_delivers_a_message_under_the_message_id_it_was_queued_with(
    smtp, mail_worker, settings, alice, bob
):
    settings.MAILER_RETRY_INTERVAL = 0  # no backoff: the next run retries
    smtp.stop()
    payment_profile_activate_ready(alice, bob)
    queued_id = Message.objects.get().email.extra_headers["Message-ID"]

    mail_worker()  # the server is down: deferred
    assert Message.objects.get().email.extra_headers["Message-ID"] == queued_id
    smtp.start()
    mail_worker()  # retried and delivered

    [(_, message)] = smtp.received
    assert message["Message-ID"] == queued_id
    assert {log.message_id for log in MessageLog.objects.all()} == {queued_id}


def test_it_delivers_the_rest_of_the_queue_when_one_message_cannot_be_sent(
    smtp, mail_worker, settings, bob
):
    settings.MAILER_RETRY_INTERVAL = 0  # no backoff: each run retries
    # No server could take this one (a line break in an address); it is queued first.
    mail.EmailMessage(subject="Broken", body="x", to=["bob@acme.example\nBcc: x@x.test"]).send()
    mail.EmailMessage(subject="Fine", body="y", to=["bob@acme.example"]).send()

    mail_worker()
    mail_worker(in_process=True)
    mail_worker(in_process=True)

    assert [m["Subject"] for _, m in smtp.received] == ["Fine"]
    broken = Message.objects.get()
    assert broken.subject == "Broken"
    assert broken.priority == 4 and broken.retry_count == 2  # kept and retried


class HoldTheFirstAnswer(KeepMessages):
    """Takes the first message's DATA, then does not answer it until released: the
    server has the message, the sender does not know yet."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if not self.holding.is_set():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return answer


@pytest.fixture
def shared_database_url(tmp_path) -> str:
    """A database this test and the worker processes it starts both see: the test
    database on PostgreSQL; on SQLite (whose test database lives in this process's
    memory) a file of its own, migrated by `manage.py migrate`."""
    if on_postgresql():
        return worker_database_url()
    url = f"sqlite:///{tmp_path / 'mail.sqlite3'}"
    manage("migrate", "--noinput", database_url=url)
    return url


def manage(*args: str, database_url: str, smtp: SmtpServer | None = None, wait=True):
    env = operator_env(DEBUG="true", DATABASE_URL=database_url, EMAIL_TIMEOUT="30")
    if smtp is not None:
        env.update(EMAIL_HOST=smtp.host, EMAIL_PORT=str(smtp.port))
    command = [sys.executable, "manage.py", *args]
    if not wait:
        return subprocess.Popen(command, cwd=BASE_DIR, env=env, stderr=subprocess.PIPE)
    done = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_message_sent_again_after_a_worker_was_killed_has_the_same_message_id(
    smtp, shared_database_url
):
    smtp.handler = HoldTheFirstAnswer()
    smtp.stop()
    smtp.start()
    queue = (
        "from django.core.mail import EmailMessage; "
        "EmailMessage('Set your password', 'The link', to=['bob@acme.example']).send()"
    )
    manage("shell", "-c", queue, database_url=shared_database_url)

    worker = manage(
        "mail_worker", "--once", database_url=shared_database_url, smtp=smtp, wait=False
    )
    try:
        assert smtp.handler.holding.wait(timeout=60), "the worker never sent the message"
        # The server has the message; the worker dies before it hears so and marks it sent.
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()
    smtp.handler.release.set()

    manage("mail_worker", "--once", database_url=shared_database_url, smtp=smtp)
    manage("mail_worker", "--once", database_url=shared_database_url, smtp=smtp)

    # Delivered at least once: here twice, and the receiver can tell it is one message.
    first, again = (message for _, message in smtp.received)
    assert first["Subject"] == again["Subject"] == "Set your password"
    assert first["Message-ID"] and first["Message-ID"] == again["Message-ID"]


def test_the_history_page_follows_an_email_from_queued_to_deferred_to_delivered(
    smtp, mail_worker, settings, alice, bob
):
    """The delivery status the user's history page shows is django-mailer's: queued
    (not tried), deferred (failed attempts, retried), delivered (the server took it)."""
    settings.MAILER_RETRY_INTERVAL = 0  # no backoff: the next run retries
    payment_profile_activate_ready(alice, bob)
    page = reverse("billing:profile_history", args=[bob.pk])
    client = client_for(alice)

    def status() -> str:
        html = client.get(page).content.decode()
        table = html.split("E-mails about this profile")[2].split("</table>")[0]
        [row] = [r for r in table.split("<tr>") if "Your payment profile is active" in r]
        return " ".join(re.sub(r"<[^>]+>", "", row.split("<td>")[4]).split())

    assert status() == "Queued"
    smtp.stop()
    mail_worker()  # the server is down: deferred
    assert re.fullmatch(
        r"Deferred 1 failed attempt, the latest \S+ \S+ \S+; it is retried until delivered",
        status(),
    )
    smtp.start()
    mail_worker()  # retried and delivered
    assert re.fullmatch(r"Delivered \S+ \S+ \S+", status())
    assert [m["Subject"] for _, m in smtp.received] == ["[Acme] Your payment profile is active"]


# --- Two workers in an outage: each due retry is made once (issue 21's soak) ----------

needs_postgresql = pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="two workers racing need PostgreSQL's row locks; set DATABASE_URL=postgres://…",
)


def attempts() -> int:
    return MessageLog.objects.filter(result=RESULT_FAILURE).count()


@pytest.fixture
def deferred_once(smtp, settings, alice, bob, time_machine):
    """SMTP down, one message queued and tried once (deferred), the clock frozen; a
    retry is due every 60 s (no backoff, so every round is due)."""
    settings.MAILER_RETRY_INTERVAL = settings.MAILER_RETRY_MAX_INTERVAL = 60
    time_machine.move_to(datetime(2030, 1, 7, 9, 0, tzinfo=UTC), tick=False)
    smtp.stop()
    payment_profile_activate_ready(alice, bob)
    call_command("mail_worker", "--once", "--no-jobs")
    assert attempts() == 1 and Message.objects.get().priority == PRIORITY_DEFERRED
    return time_machine


@pytest.mark.postgres
@needs_postgresql
def test_two_workers_in_an_outage_make_each_due_retry_once(deferred_once):
    """Both workers run every round at the same moment (`mail_worker --once`, as two
    hosts' cron lines would): the due message is tried once per round, not twice."""
    from tests.test_concurrency import run_in_threads

    for round_ in range(1, 6):
        deferred_once.shift(timedelta(seconds=61))
        start = threading.Barrier(2)

        def worker(start=start):
            start.wait()
            call_command("mail_worker", "--once", "--no-jobs")

        assert run_in_threads([worker, worker]) == []
        assert attempts() == 1 + round_, f"round {round_}"
    assert Message.objects.get().priority == PRIORITY_DEFERRED  # kept, not lost


@pytest.mark.postgres
@needs_postgresql
def test_a_retry_is_claimed_before_its_failures_are_read(deferred_once, monkeypatch):
    """The interleaving the soak met, made certain: worker B has read the message's
    failures (it is due) when worker A retries it, tries it, and defers it again. B
    holds the message's lock while it reads, so A skips it, and B's retry is the only
    one; before, B then put it back and tried it a second time at once."""
    from accounts import mail as mail_module
    from tests.test_concurrency import run_in_threads

    deferred_once.shift(timedelta(seconds=61))
    b_has_read, a_is_done = threading.Event(), threading.Event()
    real_failures_of = mail_module.failures_of

    def failures_of(messages):
        found = real_failures_of(messages)
        if threading.current_thread().name == "B" and not b_has_read.is_set():
            b_has_read.set()
            assert a_is_done.wait(30)
        return found

    monkeypatch.setattr(mail_module, "failures_of", failures_of)

    def worker_a():
        assert b_has_read.wait(30)
        call_command("mail_worker", "--once", "--no-jobs")
        a_is_done.set()

    def worker_b():
        threading.current_thread().name = "B"
        call_command("mail_worker", "--once", "--no-jobs")

    assert run_in_threads([worker_a, worker_b]) == []
    assert attempts() == 2  # the first try and one retry


def test_a_message_deferred_after_the_queue_was_listed_is_not_sent_again(
    deferred_once, smtp, monkeypatch
):
    """A worker lists the queue, another sends one of its messages and defers it
    again meanwhile: the first one, reaching it, leaves it (it is no longer queued)."""
    from accounts import mail as mail_module

    message = Message.objects.get()
    stale = Message.objects.filter(pk=message.pk)  # listed while it was queued
    Message.objects.filter(pk=message.pk).update(priority=PRIORITY_MEDIUM)
    listed = list(stale)
    Message.objects.filter(pk=message.pk).update(priority=PRIORITY_DEFERRED)  # tried meanwhile
    monkeypatch.setattr(mail_module, "_queued", lambda: listed)
    smtp.start()
    assert mail_module.send_queue() == 0
    assert smtp.received == [] and attempts() == 1
    Message.objects.filter(pk=message.pk).update(priority=PRIORITY_MEDIUM)
    monkeypatch.undo()
    assert mail_module.send_queue() == 1
    assert len(smtp.received) == 1
