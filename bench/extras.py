"""The measurements besides page views: CSV exports (time and peak memory against
rows) and bulk activation against the same number of single activations.

Each reports "not available (feature missing)" in the size's notes when the app
does not have the feature yet (no such URL or module), instead of failing the run.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass

from django.test import Client
from django.urls import NoReverseMatch, reverse

from billing.models import PaymentProfile, State


@dataclass
class ExportResult:
    label: str
    rows: int  # data rows in the body (lines minus the header)
    seconds: float  # streaming the whole body, no tracing
    peak_kib: float  # tracemalloc peak while streaming it again
    bytes: int
    status: int
    problem: str = ""


def _client(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def _stream(client: Client, url: str) -> tuple[int, int, int, bool]:
    """(status, bytes, lines, streamed) of a GET, reading the body chunk by chunk."""
    response = client.get(url)
    streamed = getattr(response, "streaming", False)
    size = lines = 0
    chunks = response.streaming_content if streamed else [response.content]
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    return response.status_code, size, lines, streamed


def export(user, name: str, label: str, notes: list[str]) -> ExportResult | None:
    try:
        url = reverse(name)
    except NoReverseMatch:
        notes.append(f"{label}: not available (feature missing: no URL `{name}`)")
        return None
    client = _client(user)
    t0 = time.perf_counter()
    status, size, lines, streamed = _stream(client, url)
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _stream(client, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    problem = "" if status == 200 else f"HTTP {status}"
    if status == 200 and not streamed:
        problem = "not streamed (HttpResponse: the whole body in memory)"
    return ExportResult(label, max(0, lines - 1), seconds, peak / 1024, size, status, problem)


def exports(seeded, notes: list[str]) -> list[ExportResult]:
    out = []
    for name, label in (
        ("billing:user_export", "Users CSV export (every user)"),
        ("billing:activity_export", "Activity log CSV export (every entry)"),
    ):
        result = export(seeded.admin, name, label, notes)
        if result:
            out.append(result)
    return out


@dataclass
class BulkResult:
    profiles: int
    single_seconds: float  # `profiles` calls of payment_profile_activate
    bulk_seconds: float  # one bulk act over another `profiles` pending ones
    problem: str = ""

    @property
    def ratio(self) -> float:
        return self.bulk_seconds / self.single_seconds if self.single_seconds else float("nan")


def bulk(seeded, count: int, notes: list[str]) -> BulkResult | None:
    """Activate ``count`` pending profiles one service call at a time, then ``count``
    others with one bulk act run in-process (``billing.bulk.bulk_start`` and
    ``bulk_process``, as the Users page runs a small one); both read back from the
    database."""
    import uuid

    from billing.bulk import bulk_process, bulk_start
    from billing.services import payment_profile_activate

    admin = seeded.admin
    pending = list(
        PaymentProfile.objects.filter(user__tenant_id=admin.tenant_id, state=State.PENDING)
        .exclude(user=admin)
        .select_related("user__tenant", "user__plan")
        .order_by("pk")[: 2 * count]
    )
    if len(pending) < 2 * count:
        notes.append(
            f"Bulk activation: not measured ({len(pending)} pending profiles, {2 * count} needed)"
        )
        return None
    singles, bulks = [p.user for p in pending[:count]], [p.user.pk for p in pending[count:]]
    t0 = time.perf_counter()
    for user in singles:
        payment_profile_activate(actor=admin, user=user)
    t1 = time.perf_counter()
    worker = uuid.uuid4().hex
    job, _ = bulk_start(actor=admin, act="activate", user_ids=bulks, worker=worker)
    bulk_process(job, worker=worker)
    t2 = time.perf_counter()
    states = set(
        PaymentProfile.objects.filter(pk__in=[p.pk for p in pending]).values_list(
            "state", flat=True
        )
    )
    problem = "" if states == {State.ACTIVE} else f"states after: {sorted(states)}"
    return BulkResult(count, t1 - t0, t2 - t1, problem)
