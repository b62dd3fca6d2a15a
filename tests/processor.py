"""A real localstripe for the tests, and what the tests do with it.

``start_localstripe()`` runs tools/run_localstripe.py on 127.0.0.1 on a free port
(its store in memory: no /tmp file), and the ``localstripe`` fixture in conftest.py
stops it by its pid. ``Browser`` does what Stripe.js does in the page, for tests
that do not drive a browser: it sends a card to localstripe to confirm a
SetupIntent (the card goes there, never to our server). ``signed_event`` builds a
Stripe event of the documented shape and signs it as Stripe does, for the events
localstripe does not send (``setup_intent.*``, ``payment_method.*``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.helpers import operator_env

ROOT = Path(__file__).resolve().parent.parent
PUBLISHABLE_KEY = "pk_test_ccm_tests"
SECRET_KEY = "sk_test_ccm_tests"
WEBHOOK_SECRET = "whsec_ccm_tests"

# Stripe's test cards (localstripe knows the same ones).
VISA = "4242424242424242"
NEEDS_AUTHENTICATION = "4000002760003184"
DECLINED = "4000000000000002"


@dataclass
class Localstripe:
    process: subprocess.Popen
    url: str
    log: Path

    @property
    def js_url(self) -> str:
        return f"{self.url}/js.stripe.com/v3/"

    def stop(self) -> None:
        self.process.terminate()  # by its pid: the one process the fixture started
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_localstripe(log: Path, *, webhook_url: str = "") -> Localstripe:
    args = [sys.executable, str(ROOT / "tools" / "run_localstripe.py"), "--port", "0"]
    if webhook_url:
        args += ["--webhook-url", webhook_url, "--webhook-secret", WEBHOOK_SECRET]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env=operator_env(PYTHONUNBUFFERED="1"),
        cwd=ROOT,
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()))
    reader.start()
    reader.join(timeout=20)
    if not first or not first[0].startswith("localstripe on "):
        process.kill()
        raise RuntimeError(f"localstripe did not start: {log.read_text()[-2000:]}")
    url = first[0].split(" on ", 1)[1].strip()
    return Localstripe(process=process, url=url, log=log)


class Browser:
    """What Stripe.js (localstripe's stand-in) sends when the page confirms a card:
    the card goes to the processor with the publishable key and the client secret."""

    def __init__(self, localstripe: Localstripe) -> None:
        self.base = localstripe.url

    def _post(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.base}{path}", data=json.dumps(body), timeout=10)
        answer = response.json()
        if response.status_code != 200:
            return {"error": answer.get("error", {}), "status": response.status_code}
        return answer

    def confirm(
        self, client_secret: str, number: str = VISA, *, exp="04/39", cvc="123", name="Bob User"
    ) -> dict:
        """confirmCardSetup(client_secret, {payment_method: {card, billing_details}})."""
        intent = client_secret.split("_secret_")[0]
        month, year = exp.split("/")
        return self._post(
            f"/v1/setup_intents/{intent}/confirm",
            {
                "key": PUBLISHABLE_KEY,
                "use_stripe_sdk": True,
                "client_secret": client_secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {
                        "number": number,
                        "exp_month": month,
                        "exp_year": "20" + year,
                        "cvc": cvc,
                    },
                    "billing_details": {"name": name},
                },
            },
        )

    def authenticate(self, client_secret: str, *, complete: bool) -> dict:
        """The bank's check (3-D Secure): Complete authentication, or Fail authentication."""
        intent = client_secret.split("_secret_")[0]
        action = "confirm" if complete else "cancel"
        return self._post(
            f"/v1/setup_intents/{intent}/{action}",
            {"key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret},
        )


def signature(payload: bytes, *, at: int | None = None, secret: str = WEBHOOK_SECRET) -> str:
    """A Stripe-Signature header for `payload`, as Stripe (and localstripe) make it."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def event(kind: str, obj: dict, *, created: int | None = None, previous: dict | None = None):
    """A Stripe event of the documented shape (https://docs.stripe.com/api/events/object)."""
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def payment_method(pm: str, *, customer: str | None, last4="4242", exp_month=4, exp_year=2031):
    """A PaymentMethod of type card, as Stripe's events carry it."""
    return {
        "id": pm,
        "object": "payment_method",
        "billing_details": {"name": "Bob User", "address": {}, "email": None, "phone": None},
        "card": {
            "brand": "visa",
            "checks": {"cvc_check": "pass"},
            "country": "US",
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "last4": last4,
            "networks": {"available": ["visa"], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": int(time.time()),
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def confirmed_setup(user, browser: Browser, number: str = VISA, **card) -> str:
    """A SetupIntent of `user`'s, made by the app and confirmed with `number` the way
    the page would: its id, as the form posts it."""
    from billing.processor import setup_intent_start

    started = setup_intent_start(user=user)
    answer = browser.confirm(started.client_secret, number, **card)
    assert answer.get("status") == "succeeded", answer
    return started.setup_intent


def confirmed_card(user, browser: Browser, number: str = VISA, **card):
    """The card as the server reads it back from Stripe (billing.processor.ConfirmedCard)."""
    from billing.processor import confirmed_card as read

    return read(user=user, setup_intent_id=confirmed_setup(user, browser, number, **card))
