"""Real identity providers for the tests, each its own process on a free port of
127.0.0.1, stopped by its pid: oidc-provider (npm, tests/identity/oidc_provider/) and
the pysaml2 IdP (tests/identity/saml_idp.py). And the steps of signing in at them
without a browser, as a browser would (for the tests that use Django's test client).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import requests

from tests.helpers import operator_env

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "oidc_provider"
NODE_MISSING = (
    "node or tests/identity/oidc_provider/node_modules is missing (`make test` installs it)"
)
XMLSEC_MISSING = "xmlsec1 is not installed: `apt-get install -y xmlsec1` (.ci/run does)"
CLIENT_ID, CLIENT_SECRET = "ccm-tests", "ccm-tests-secret"


@dataclass
class Idp:
    process: subprocess.Popen
    base: str
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _started(command: list[str], env: dict, cwd: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := re.match(r"listening (\d+)", line or ""):
            return process, int(match[1])
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"{command[:2]} did not start")


def start_oidc(sp_bases: list[str], slugs: list[str]) -> Idp:
    if shutil.which("node") is None or not (OIDC_DIR / "node_modules").exists():
        pytest.skip(NODE_MISSING)
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [
                f"{base}/sso/oidc/{slug}/login/callback/" for base in sp_bases for slug in slugs
            ],
            "post_logout_redirect_uris": [f"{base}/login/" for base in sp_bases],
        }
    ]
    process, port = _started(
        ["node", "server.js"], operator_env(CLIENTS=json.dumps(clients)), OIDC_DIR
    )
    return Idp(process, f"http://127.0.0.1:{port}")


def start_saml(folder: Path, sp_bases: list[str], slugs: list[str]) -> Idp:
    if shutil.which("xmlsec1") is None:
        pytest.skip(XMLSEC_MISSING)
    sps = [arg for base in sp_bases for slug in slugs for arg in ("--sp", f"{base},{slug}")]
    process, port = _started(
        [sys.executable, "-W", "ignore", str(HERE / "saml_idp.py"), "--dir", str(folder), *sps],
        operator_env(),
        HERE,
    )
    return Idp(process, f"http://127.0.0.1:{port}")


# --- Signing in at the providers without a browser ---------------------------------


def sso_start(client, email: str) -> str:
    """Our login page with the address and no password: the page that sends the
    browser on to the tenant's identity provider. Returns where it sends it."""
    response = client.post("/login/", {"username": email, "password": ""})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="sso-continue"' in html, html[:2000]
    return unescape(re.search(r'id="sso-continue" href="([^"]+)"', html)[1])


def oidc_sign_in(authorize_url: str, email: str, *, session: requests.Session | None = None) -> str:
    """What the browser does at oidc-provider: its login form, then back to us. Returns
    the URL it sends the browser back to (our callback with code and state)."""
    session = session or requests.Session()
    url = authorize_url
    for _ in range(10):
        response = session.get(url, allow_redirects=False, timeout=10)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["Location"])
            if not url.startswith("http://127.0.0.1"):
                return url
            continue
        form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        assert form, response.text[:500]
        response = session.post(
            urljoin(url, unescape(form[1])),
            data={"prompt": "login", "login": email, "password": "any"},
            allow_redirects=False,
            timeout=10,
        )
        url = urljoin(url, response.headers["Location"])
        if not url.startswith("http://127.0.0.1"):
            return url
    raise AssertionError("oidc-provider never sent the browser back")


def saml_sign_in(sso_url: str, email: str, *, mode: str = "") -> dict:
    """What the browser does at the SAML IdP: its login form, whose answer is a form
    posting SAMLResponse and RelayState to our ACS. Returns that form's fields and
    its action as "action"."""
    page = requests.get(sso_url, timeout=10).text
    fields = dict(re.findall(r'name="(SAMLRequest|RelayState)" value="([^"]*)"', page))
    fields = {k: unescape(v) for k, v in fields.items()}
    base = f"{urlparse(sso_url).scheme}://{urlparse(sso_url).netloc}"
    answer = requests.post(
        f"{base}/login", data={**fields, "email": email, "mode": mode}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    action = re.search(r'<form method="post" action="([^"]+)"', answer.text)[1]
    posted = dict(re.findall(r'name="(SAMLResponse|RelayState)" value="([^"]*)"', answer.text))
    return {"action": unescape(action), **{k: unescape(v) for k, v in posted.items()}}
