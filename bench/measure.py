"""Server-side time and query count of GET requests, through the full middleware stack.

Django's test client runs the same handler, middleware and templates as a WSGI
server, in this process. The pages are timed round-robin (one request to each per
round) so background noise on the machine lands on all of them alike and the
ratios stay fair. Rendering is not instrumented (no setup_test_environment()),
so the test client adds nothing per template.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext


@dataclass
class Page:
    key: str  # e.g. "a_first"
    group: str  # "a" Users page, "s" its sorts, "b" Django admin, "c"/"d" floors,
    # "h" history pages, "p" the API
    label: str
    url: str
    client: Client
    check: Callable[[str], str] | None = None  # returns a problem, or ""
    db: object = None  # a DatabaseWrapper to serve it from, instead of the default one


@dataclass
class Timing:
    page: Page
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    sql: list[str] = field(default_factory=list)
    status: int = 0
    bytes: int = 0
    problem: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else math.nan

    @property
    def p95_ms(self) -> float:
        if not self.samples_ms:
            return math.nan
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank


@dataclass(frozen=True)
class Budget:
    min_rounds: int
    min_seconds: float
    max_rounds: int
    max_seconds: float
    warmup_rounds: int = 3


FULL = Budget(min_rounds=30, min_seconds=8, max_rounds=300, max_seconds=40)
# Bigger tenants: some views take seconds at a million users; fewer rounds, still
# round-robin, so the ratios stay fair.
LARGE = Budget(min_rounds=12, min_seconds=5, max_rounds=200, max_seconds=40)
HUGE = Budget(min_rounds=3, min_seconds=0, max_rounds=50, max_seconds=25, warmup_rounds=1)
MULTI = Budget(min_rounds=30, min_seconds=6, max_rounds=300, max_seconds=30)
QUICK = Budget(min_rounds=10, min_seconds=0.5, max_rounds=40, max_seconds=4, warmup_rounds=2)


def _get(page: Page):
    if page.db is not None:
        connections["default"] = page.db  # the views read `connection`: this one now
    return page.client.get(page.url)


def measure(pages: list[Page], budget: Budget) -> dict[str, Timing]:
    """Check each page once, count its queries, then time them all round-robin."""
    timings: dict[str, Timing] = {}
    live: list[Page] = []
    for page in pages:
        timing = timings[page.key] = Timing(page)
        response = _get(page)
        timing.status = response.status_code
        body = response.content.decode()
        timing.bytes = len(response.content)
        if response.status_code != 200:
            timing.problem = f"HTTP {response.status_code}"
            continue
        if page.check:
            timing.problem = page.check(body)
            if timing.problem:
                continue
        with CaptureQueriesContext(connection) as ctx:
            _get(page)
        timing.queries = len(ctx.captured_queries)
        timing.sql = [q["sql"] for q in ctx.captured_queries]
        live.append(page)

    for _ in range(budget.warmup_rounds):
        for page in live:
            _get(page)
    gc.collect()
    started = time.perf_counter()
    rounds = 0
    while True:
        for page in live:
            t0 = time.perf_counter()
            _get(page)
            timings[page.key].samples_ms.append((time.perf_counter() - t0) * 1000)
        rounds += 1
        elapsed = time.perf_counter() - started
        if rounds >= budget.max_rounds or elapsed >= budget.max_seconds:
            break
        if rounds >= budget.min_rounds and elapsed >= budget.min_seconds:
            break
    return timings


def emails_present(emails: list[str]) -> Callable[[str], str]:
    """A check that the page shows exactly these users (by e-mail address)."""

    def check(body: str) -> str:
        missing = [e for e in emails if e not in body]
        if missing:
            return f"{len(missing)} of {len(emails)} expected rows missing (e.g. {missing[0]})"
        return ""

    return check
