"""The bench's own pieces that are cheap to test: the seed (a small tenant, on the
test database), the options, and the targets the report judges."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django_fsm_log.models import StateLog

from accounts.models import User
from bench import report, seed
from bench.extras import BulkResult, ExportResult
from bench.run import parse_args
from billing.models import PaymentProfile, State
from billing.standing import user_is_held


@pytest.mark.django_db(transaction=True)
def test_it_seeds_a_tenant_with_the_mix_and_the_histories():
    seeded = seed.seed(400, long_history=30)

    users = User.objects.filter(tenant=seeded.tenant)
    assert users.count() == seeded.n_users == 400
    # Every user has a profile row; the mix has every state.
    assert PaymentProfile.objects.filter(user__tenant=seeded.tenant).count() == 400
    states = set(PaymentProfile.objects.values_list("state", flat=True))
    assert states == {State.NONE, State.PENDING, State.ACTIVE, State.INACTIVE}
    assert seeded.admin.is_tenant_admin and seeded.operator.is_superuser
    assert seeded.member.payment_profile.state == State.ACTIVE
    long = StateLog.objects.filter(object_id=seeded.long_history.payment_profile.pk)
    short = StateLog.objects.filter(object_id=seeded.short_history.payment_profile.pk)
    assert long.count() == 31 and short.count() == seed.SHORT_HISTORY + 1
    assert StateLog.objects.count() == seeded.n_logs
    # The sequences moved past the ids given: the ORM can add rows after the seed.
    extra = User.objects.create(email="after@bench.example", name="After", tenant=seeded.tenant)
    assert extra.payment_profile.pk > max(p.pk for p in PaymentProfile.objects.exclude(user=extra))


@pytest.mark.django_db(transaction=True)
def test_it_seeds_other_tenants_beside_it():
    seeded = seed.seed(150, history=False)
    seed.seed_others(300, tenants=3)

    assert User.objects.filter(tenant=seeded.tenant).count() == 150
    assert User.objects.exclude(tenant=seeded.tenant).count() == 300
    assert PaymentProfile.objects.count() == 450


def test_it_reads_sizes_and_databases():
    args = parse_args(["--sizes", "1000,1_000_000", "--databases", "postgresql"])
    assert args.sizes == (1000, 1_000_000)
    assert args.databases == ("postgresql",)
    assert parse_args([]).databases == ("sqlite", "postgresql")
    with pytest.raises(SystemExit):
        parse_args(["--databases", "mysql"])


def test_it_writes_postgres_copy_text():
    assert seed._copy_text(None) == "\\N"
    assert seed._copy_text(True) == "t"
    assert seed._copy_text("a\tb\\c\nd") == "a\\tb\\\\c\\nd"


def _timing(label: str, ms: float, queries: int = 5):
    page = SimpleNamespace(label=label, group="a")
    return SimpleNamespace(page=page, samples_ms=[ms], median_ms=ms, queries=queries, problem="")


def _result(n: int, **timings_ms):
    return SimpleNamespace(
        n=n,
        timings={k: _timing(k, ms) for k, ms in timings_ms.items()},
        seeded=SimpleNamespace(seconds=10.0, long_history_entries=10_000),
        bulk=None,
        exports=[],
    )


def test_it_judges_every_view_against_the_floors():
    r = _result(100_000, a_first=30, s_status=90, c_floor=20, d_floor=5)

    met = report.targets([r])

    assert (False, "100,000 users, s_status: (a)/(c) = 4.50 (90.0 ms; target ≤ 2.0)") in met
    assert any(ok is False and "(a)/(d) = 6.00" in text for ok, text in met)


def test_it_judges_the_history_page_and_the_bulk_act(settings):
    settings.BULK_INLINE_MAX = 2000  # the request would run all 1,000
    r = _result(100_000, h_long=30, h_short=20, c_floor=20)
    r.bulk = BulkResult(profiles=1000, single_seconds=10, bulk_seconds=40)

    met = dict((text.split(":")[1], ok) for ok, text in report.targets([r]))

    assert met[" history page, 10,000 entries vs 10"] is True
    assert met[" bulk activation of 1,000 vs as many single calls"] is False
    assert met[" one bulk act of 1,000 profiles"] is False


def test_it_counts_a_bulk_act_left_to_the_worker_as_no_timeout(settings):
    settings.BULK_INLINE_MAX = 200
    r = _result(100_000)
    r.bulk = BulkResult(profiles=1000, single_seconds=40, bulk_seconds=45)

    met = [(ok, text) for ok, text in report.targets([r]) if "one bulk act" in text]

    assert met[0][0] is True and "hands larger selections to the worker" in met[0][1]


def test_it_calls_export_memory_flat_only_when_it_is():
    def sized(n, peak):
        r = _result(n)
        r.exports = [ExportResult("Users CSV", n, 1.0, peak, 100, 200)]
        return r

    flat = report.export_targets([sized(10_000, 300), sized(1_000_000, 400)])
    grows = report.export_targets([sized(10_000, 300), sized(1_000_000, 30_000)])

    assert [ok for ok, _ in flat] == [True]
    assert [ok for ok, _ in grows] == [False]


@pytest.mark.django_db(transaction=True)
def test_it_seeds_what_save_would_keep_for_the_users_page():
    seeded = seed.seed(300, history=False)
    profiles = list(
        PaymentProfile.objects.filter(user__tenant=seeded.tenant).select_related(
            "user__plan", "user__tenant"
        )
    )
    fields = {f.attname for f in PaymentProfile._meta.concrete_fields}
    if "status_rank" not in fields:
        pytest.skip("the model keeps no sort keys")
    from billing.models import STATUS_RANK

    assert {p.tenant_id for p in profiles} == {seeded.tenant.pk}
    assert all(p.status_rank == STATUS_RANK[p.status] for p in profiles)
    users = [p.user for p in profiles]
    assert all(u.plan_name == (u.plan.name if u.plan else "") for u in users)
    assert any(u.plan_name for u in users) and not all(u.plan_name for u in users)
    if "held" in fields:
        assert all(p.held == user_is_held(p.user) for p in profiles)
        assert any(p.held for p in profiles) and not all(p.held for p in profiles)


@pytest.mark.django_db(transaction=True)
def test_the_seed_gives_the_connection_its_journal_back():
    """Without a journal a ROLLBACK does nothing: every later test's rows would stay
    (an in-memory SQLite database keeps OFF when asked for DELETE)."""
    from django.db import connection

    def settings_now():
        with connection.cursor() as cursor:
            if connection.vendor != "sqlite":
                cursor.execute("SHOW synchronous_commit")
                return cursor.fetchone()
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()
            cursor.execute("PRAGMA synchronous")
            return journal, cursor.fetchone()

    before = settings_now()
    seed.seed(120, long_history=5)
    assert settings_now() == before


@pytest.mark.django_db(transaction=True)
def test_the_floor_renders_the_users_pages_rows_with_no_query_of_its_own(
    client, settings, monkeypatch, django_assert_num_queries
):
    """Floor (c) is the Users page's first page as the page renders it, from memory:
    the same rows in the same order, and only login_required's session and user."""
    import re

    from django.urls import reverse

    from bench import views

    settings.ROOT_URLCONF = "bench.urls"
    monkeypatch.setattr(views, "FLOOR_PAGE", [])
    seeded = seed.seed(120, history=False)
    views.floor_prepare(seeded.tenant)
    client.force_login(seeded.admin, backend="accounts.backends.EmailBackend")

    def rows(url: str) -> list[str]:
        body = client.get(url).content.decode()
        return re.findall(r'<tr data-user="([^"]+)"', body)

    with django_assert_num_queries(2):
        floor = rows(reverse("bench_floor"))
    assert len(floor) == 50 and floor == rows(reverse("billing:user_list"))
