"""Production serving: gunicorn with ccm/gunicorn.conf.py on loopback, DEBUG off,
static files collected and served by whitenoise, as `make serve` runs it; and
`make serve` itself, from its refusal to start half-configured to stopping both of
its processes.

The server is another process, so it cannot use the test database (in memory on
SQLite, and inside a test's transaction anyway). It gets its own: a database of its
own on the PostgreSQL server when the suite runs on one (DATABASE_URL), created,
migrated and dropped here, so CI serves from PostgreSQL as production does; a
migrated SQLite file in a temporary folder otherwise.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import dj_database_url
import pytest

from tests.helpers import operator_env

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "ccm.example.com"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 60
PASSWORD = "a long passphrase for serving"
LOGIN_USERS = (
    "proxied@acme.example",
    "direct@acme.example",
    "charset@acme.example",
    "unproxied@acme.example",
)
CREATE_USERS = (
    "from accounts.models import User\n"
    f"for email in {LOGIN_USERS!r}:\n"
    f"    User.objects.create_user(email, {PASSWORD!r}, name=email)\n"
)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class Server:
    port: int
    static_root: Path
    log: Path

    def get(
        self,
        path: str,
        *,
        host: str = HOST,
        https: bool = True,
        source: str | None = None,
        **headers: str,
    ) -> Response:
        """GET as the TLS-terminating proxy in front would pass it on (``https=False``:
        a request that came in over plain HTTP)."""
        return self.request("GET", path, host=host, https=https, source=source, **headers)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        host: str = HOST,
        https: bool = True,
        source: str | None = None,
        **headers: str,
    ) -> Response:
        """``source``: the loopback address to connect from (127.0.0.2 …: another
        client, as the server sees it)."""
        sent = {"Host": host, **{k.replace("_", "-"): v for k, v in headers.items()}}
        if https:
            sent["X-Forwarded-Proto"] = "https"
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(source, 0) if source else None
        )
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def log_in(
        self,
        email: str,
        password: str,
        *,
        charset: str = "",
        source: str | None = None,
        **headers: str,
    ) -> Response:
        """Log in as a browser does, behind the proxy: fetch the form (its CSRF cookie
        and token), then post it, with ``headers`` on both requests."""
        page = self.get("/login/", source=source, **headers)
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)[1]
        form = urlencode(
            {"csrfmiddlewaretoken": token.decode(), "username": email, "password": password}
        )
        content_type = "application/x-www-form-urlencoded"
        return self.request(
            "POST",
            "/login/",
            form.encode(),
            Cookie=cookie,
            Origin=f"https://{HOST}",
            Referer=f"https://{HOST}/login/",
            Content_Type=f"{content_type}; charset={charset}" if charset else content_type,
            source=source,
            **headers,
        )


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}{done.stderr}"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a server in a process group of its own, so everything it starts can be
    stopped by that group, with stdout and stderr in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for(process: subprocess.Popen, log: Path, *patterns: re.Pattern) -> list[re.Match]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = [pattern.search(text) for pattern in patterns]
        if all(found):
            return found
        if process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')}", pytrace=False)


def _group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _stop(process: subprocess.Popen) -> None:
    """TERM to the whole group (what a process manager does), then KILL if need be."""
    for sig, grace in ((signal.SIGTERM, 40), (signal.SIGKILL, 10)):
        if _group_is_gone(process.pid):
            break
        os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace
        while not _group_is_gone(process.pid) and time.monotonic() < deadline:
            process.poll()  # reap the leader, or the group never looks empty
            time.sleep(0.1)
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database for the server alone (see the module's docstring)."""
    suite_url = os.environ.get("DATABASE_URL", "")
    if not suite_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path_factory.mktemp('serving-db') / 'db.sqlite3'}"
        return

    import psycopg2

    db = dj_database_url.parse(suite_url)
    name = f"test_serving_{secrets.token_hex(4)}"
    admin = psycopg2.connect(
        dbname="postgres",
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield urlsplit(suite_url)._replace(path=f"/{name}").geturl()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def production_env(database_url: str, static_root: Path, **extra: str) -> dict[str, str]:
    """An operator's settings behind a TLS-terminating proxy: DEBUG off, everything
    else at its production default."""
    return operator_env(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        DATABASE_URL=database_url,
        STATIC_ROOT=str(static_root),
        BEHIND_TLS_PROXY="true",
        **extra,
    )


def _gunicorn(env: dict[str, str], static_root: Path, log: Path) -> Iterator[Server]:
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "ccm/gunicorn.conf.py"]
    process = _start([*gunicorn, "--bind", "127.0.0.1:0"], env, log)
    try:
        (listening,) = _wait_for(process, log, LISTENING)
        yield Server(int(listening[1]), static_root, log)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Server]:
    """As `make serve` with no proxy count set: gunicorn reached straight, or through a
    proxy whose X-Forwarded-For must then be ignored."""
    folder = tmp_path_factory.mktemp("serving")
    static_root = folder / "static"
    env = production_env(database_url, static_root, WEB_CONCURRENCY="2")
    _run([sys.executable, "manage.py", "migrate", "--noinput"], env)
    _run([sys.executable, "manage.py", "collectstatic", "--noinput"], env)
    # Someone to log in as, for each test that does (each its own, so that the
    # lockouts they cause stay apart), on every server of this module.
    _run([sys.executable, "manage.py", "shell", "-c", CREATE_USERS], env)
    yield from _gunicorn(env, static_root, folder / "gunicorn.log")


@pytest.fixture(scope="module")
def proxied_server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, server: Server
) -> Iterator[Server]:
    """The same app and database (`server` migrated it), told that one proxy is in
    front (PROXY_COUNT=1), as README's nginx example is."""
    folder = tmp_path_factory.mktemp("serving-proxied")
    env = production_env(database_url, server.static_root, WEB_CONCURRENCY="2", PROXY_COUNT="1")
    yield from _gunicorn(env, server.static_root, folder / "gunicorn.log")


def test_it_serves_the_login_page_with_the_security_headers(server: Server):
    response = server.get("/login/")
    assert response.status == 200, response.body[:2000]
    assert b"Log in" in response.body
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Secure" in headers["Set-Cookie"]
    # The access log goes to the server's output, for the process manager.
    time.sleep(0.2)
    assert '"GET /login/ HTTP/1.1" 200' in server.log.read_text()


def test_it_serves_static_files_hashed_compressed_and_cached_for_ever(server: Server):
    manifest = json.loads((server.static_root / "staticfiles.json").read_text())["paths"]
    for name, content_type in [
        ("css/app.css", "text/css"),
        ("vendor/bootstrap/bootstrap.min.css", "text/css"),
        ("js/app.js", "text/javascript"),
    ]:
        hashed = f"/static/{manifest[name]}"
        assert hashed != f"/static/{name}"
        response = server.get(hashed, Accept_Encoding="gzip")
        assert response.status == 200, hashed
        assert response.headers["Content-Type"].startswith(content_type), hashed
        cache = response.headers["Cache-Control"]
        assert "immutable" in cache, cache
        assert int(re.search(r"max-age=(\d+)", cache)[1]) >= 365 * 24 * 3600, cache
        assert response.headers["Content-Encoding"] == "gzip", hashed
        assert gzip.decompress(response.body) == (server.static_root / manifest[name]).read_bytes()

    # Pages link to the hashed names, so a new version is never served from a stale cache.
    page = server.get("/login/").body.decode()
    assert f'href="/static/{manifest["css/app.css"]}"' in page


def test_it_refuses_a_host_not_in_allowed_hosts(server: Server):
    assert server.get("/login/", host="evil.example").status == 400
    assert server.get("/login/").status == 200


def test_it_sends_plain_http_to_https(server: Server):
    response = server.get("/login/", https=False)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/login/"


# --- make serve ------------------------------------------------------------------

needs_make = pytest.mark.skipif(
    shutil.which("make") is None or Path(sys.prefix).resolve() != BASE_DIR / ".venv",
    reason="runs `make serve`, which uses the project's .venv (`make test` and CI do)",
)


@needs_make
@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_make_serve_refuses_to_start_without_its_settings(missing: str, tmp_path: Path):
    env = production_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "static")
    del env[missing]
    done = subprocess.run(
        ["make", "--no-print-directory", "serve"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"{missing} is not set" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists()  # stopped before migrating


@needs_make
def test_make_serve_runs_the_app_and_the_mail_worker_and_stops_both(tmp_path: Path):
    # SQLite, whatever the suite runs on: this is about the processes, not the database.
    env = production_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "static", PORT="0")
    log = tmp_path / "serve.log"
    make = _start(["make", "--no-print-directory", "serve"], env, log)
    try:
        listening, _ = _wait_for(make, log, LISTENING, re.compile("Mail worker started"))
        served = Server(int(listening[1]), tmp_path / "static", log)
        assert served.get("/login/").status == 200
        assert (tmp_path / "static" / "staticfiles.json").exists()

        # TERM to make alone, as when its parent stops it: make passes it on to the
        # recipe, which stops gunicorn and the worker, and nothing is left running.
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=45)
        deadline = time.monotonic() + 10
        while not _group_is_gone(make.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group_is_gone(make.pid), log.read_text()
        output = log.read_text()
        assert "Shutting down: Master" in output
        assert "Mail worker stopped." in output
    finally:
        _stop(make)


# --- Login throttling behind the proxy -----------------------------------------
#
# Documentation addresses stand for two people on the internet; the test is the
# proxy, which appends the address it received the request from to X-Forwarded-For
# (nginx's $proxy_add_x_forwarded_for), after whatever the client sent.
MALLORY, ALICE = "203.0.113.5", "198.51.100.7"
LIMIT = 5  # AXES_FAILURE_LIMIT's default, which the servers run with


def _lock_out(server: Server, email: str, forwarded_for: str) -> None:
    for _ in range(LIMIT):
        response = server.log_in(email, "wrong password", X_Forwarded_For=forwarded_for)
    assert response.status == 429, response.body[:500]


def test_behind_one_proxy_clients_are_counted_apart(proxied_server: Server):
    """Mallory locking out an address from hers does not lock it out for Alice, even
    when Mallory says she is Alice; and Mallory cannot unlock herself by claiming to
    be someone else."""
    email = "proxied@acme.example"
    _lock_out(proxied_server, email, MALLORY)
    assert proxied_server.log_in(email, PASSWORD, X_Forwarded_For=MALLORY).status == 429
    assert (
        proxied_server.log_in(email, PASSWORD, X_Forwarded_For=f"{ALICE}, {MALLORY}").status == 429
    )
    assert proxied_server.log_in(email, PASSWORD, X_Forwarded_For=ALICE).status == 302


def test_behind_a_proxy_a_request_without_its_header_counts_by_its_connection(
    proxied_server: Server,
):
    """A client that reached gunicorn without the proxy (no X-Forwarded-For, or one
    that is not an address) is counted by the address it connects from: two such
    clients (127.0.0.2 and 127.0.0.3 on the loopback) are apart, where both were
    counted as "None", one counter for everyone."""
    email = "unproxied@acme.example"
    for _ in range(LIMIT):
        response = proxied_server.log_in(email, "wrong password", source="127.0.0.2")
    assert response.status == 429, response.body[:500]
    assert proxied_server.log_in(email, PASSWORD, source="127.0.0.2").status == 429
    # The same client with a header that is not an address: still its connection's.
    assert (
        proxied_server.log_in(email, PASSWORD, source="127.0.0.2", X_Forwarded_For="junk").status
        == 429
    )
    # Another client without the header, and one with junk in it: not locked out.
    assert proxied_server.log_in(email, PASSWORD, source="127.0.0.3").status == 302
    assert (
        proxied_server.log_in(email, PASSWORD, source="127.0.0.4", X_Forwarded_For="unknown").status
        == 302
    )


def test_with_no_proxy_x_forwarded_for_is_ignored(server: Server):
    """No proxy configured: the address is the connection's, whatever the client puts
    in X-Forwarded-For, so it cannot pick a fresh address for each guess."""
    email = "direct@acme.example"
    _lock_out(server, email, MALLORY)
    assert server.log_in(email, PASSWORD, X_Forwarded_For=ALICE).status == 429
    assert server.log_in(email, PASSWORD).status == 429


# --- Requests in a charset Django cannot read --------------------------------------


@pytest.mark.parametrize("charset", ["rot13", "hex", "utf-16", "nope", "latin-1"])
def test_a_login_in_an_unreadable_charset_gets_a_400_and_one_log_line(server: Server, charset):
    before = server.log.read_text()
    response = server.log_in("charset@acme.example", PASSWORD, charset=charset)
    assert response.status == 400
    assert b"could not read" in response.body
    assert "no-store" not in response.headers.get("Cache-Control", "")
    # The query string is read with the declared charset too (whatever the body):
    # for "rot13" or "hex" Django would fail building the request, before any
    # middleware. Latin-1 reads ASCII as ASCII: only a form body must be UTF-8.
    readable = charset == "latin-1"
    query = server.request(
        "GET", "/login/?next=%2Faccount%2F", Content_Type=f"text/plain; charset={charset}"
    )
    assert query.status == (200 if readable else 400)
    time.sleep(0.2)
    logged = server.log.read_text()[len(before) :]
    assert "Traceback" not in logged
    refusals = [line for line in logged.splitlines() if "unreadable charset" in line]
    assert len(refusals) == (1 if readable else 2), logged
    assert all(" WARNING django.request Bad Request" in line for line in refusals), refusals
    # The same log-in in UTF-8 goes through.
    assert server.log_in("charset@acme.example", PASSWORD, charset="utf-8").status == 302
