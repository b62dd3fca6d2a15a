"""Under load: gunicorn (2 sync workers, 127.0.0.1, a free port) and wrk for a bounded time.

gunicorn runs the app as deployed (DEBUG off, collected static files) on the bench
database; wrk sends GETs with a logged-in session cookie over a few connections.
Everything started here is stopped here, by its process id.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from bench.db import BENCH_DIR

ROOT = BENCH_DIR.parent
LUA = BENCH_DIR / "wrk_report.lua"


@dataclass
class LoadResult:
    label: str
    url: str
    seconds: int
    connections: int
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: str = ""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _fetch(url: str, cookie: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@contextlib.contextmanager
def gunicorn(workers: int = 2):
    """Start gunicorn on a free port; yield its base URL; stop it by its PID."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ccm.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),  # DJANGO_SETTINGS_MODULE=bench.settings, the bench database
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start within 30 s") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()  # SIGTERM to the master: graceful stop of its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_wrk(
    base: str,
    path: str,
    *,
    label: str,
    cookie: str,
    expect: str,
    seconds: int,
    connections: int = 4,
    threads: int = 1,
) -> LoadResult:
    """wrk against one page, after checking the page answers 200 with ``expect`` in it."""
    url = base + path
    result = LoadResult(label=label, url=path, seconds=seconds, connections=connections)
    for _ in range(3):  # also warms both workers' caches a little
        status, body = _fetch(url, cookie)
    if status != 200 or expect not in body:
        result.errors = f"page check failed: HTTP {status}"
        return result
    command = [
        wrk_path() or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        "-H",
        f"Cookie: {cookie}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    if done.returncode != 0:
        result.errors = f"wrk exited with {done.returncode}: {done.stderr.strip()[:200]}"
        return result
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result.requests_per_s = float(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        result.requests = int(m.group(1))
    if m := re.search(r"bench: p50_ms=([\d.]+) p95_ms=([\d.]+) p99_ms=([\d.]+)", out):
        result.p50_ms, result.p95_ms, result.p99_ms = (float(x) for x in m.groups())
    problems = []
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        problems.append(f"{m.group(1)} non-2xx/3xx responses")
    if m := re.search(r"Socket errors: (.*)", out):
        problems.append(f"socket errors: {m.group(1).strip()}")
    result.errors = "; ".join(problems)
    return result
