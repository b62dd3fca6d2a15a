"""`make bench`: seed, measure, load, report. See ``python -m bench --help``.

One invocation runs every database asked for (``--databases sqlite,postgresql``):
each in a child process of its own (``python -m bench --child-out FILE ...``), since
Django's settings are read once a process, and the parent writes one results.md
with a section per database, and the charts. Each child sets the environment
before Django starts: the app's production settings (DEBUG off) on the bench's own
throwaway database (see bench/db.py), with the floor views' URLs added
(bench/settings.py).
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.db import BENCH_DIR, BenchDatabase

FULL_SIZES = (1000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (200, 1000)
PER_PAGE = 50
MULTI_TENANT = 1000  # the small tenant's users in the multi-tenant case
FULL_OTHERS = 1_000_000  # users of other tenants around it
QUICK_OTHERS = 5000
BULK = 1000  # profiles activated in bulk, and one by one


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the Users page and the payment-profile transitions at scale.",
    )
    parser.add_argument(
        "--sizes", help="users in the tenant, comma-separated (1000,10000,100000,1000000)"
    )
    parser.add_argument(
        "--databases",
        help="comma-separated: sqlite, postgresql (default both; PostgreSQL from "
        "BENCH_DATABASE_URL, DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres, "
        "skipped with a note if none answers)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, short timings and load (CI)"
    )
    parser.add_argument(
        "--transitions",
        type=int,
        help="profiles to deactivate and re-activate, at the load-test size (1000; quick 100)",
    )
    parser.add_argument(
        "--others",
        type=int,
        help="multi-tenant case: users of other tenants around a 1,000-user tenant "
        "(1000000; quick 5000; 0: skip)",
    )
    parser.add_argument("--load-seconds", type=int, help="wrk time per page (20; quick 3; 0: skip)")
    parser.add_argument(
        "--load-size", type=int, help="the size to load-test (10000, or the nearest below)"
    )
    parser.add_argument(
        "--output",
        help="Markdown report (default bench/results.md; quick runs write none unless given);"
        " the EXPLAIN plans go to a -detail.md beside it",
    )
    parser.add_argument(
        "--chart-dir",
        help="where the PNG charts go (default docs/bench when writing bench/results.md)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the last database at the end")
    parser.add_argument("--child-out", help=argparse.SUPPRESS)  # internal: one database
    parser.add_argument(
        "--report-from",
        help="write results.md and the charts from saved runs (comma-separated "
        "bench/last-<database>.pickle files, which every run keeps), measuring nothing",
    )
    args = parser.parse_args(argv)
    if args.sizes:
        args.sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    else:
        args.sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if min(args.sizes) < PER_PAGE * 2:
        parser.error(f"sizes must be at least {PER_PAGE * 2} (two pages)")
    if args.databases:
        args.databases = tuple(d.strip() for d in args.databases.split(",") if d.strip())
        unknown = set(args.databases) - {"sqlite", "postgresql"}
        if unknown:
            parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    else:
        args.databases = ("sqlite", "postgresql")
    if args.transitions is None:
        args.transitions = 100 if args.quick else 1000
    if args.others is None:
        args.others = QUICK_OTHERS if args.quick else FULL_OTHERS
    if args.load_seconds is None:
        args.load_seconds = 3 if args.quick else 20
    if args.load_size is None:
        below = [n for n in args.sizes if n <= 10_000]
        args.load_size = max(below) if below else min(args.sizes)
    if args.output is None and not args.quick:
        args.output = str(BENCH_DIR / "results.md")
    if args.chart_dir is None and args.output:
        args.chart_dir = str(BENCH_DIR.parent / "docs" / "bench")
    return args


def configure(db: BenchDatabase) -> None:
    """Production-like settings for this process and the gunicorn it starts."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": db.url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1
            "SECURE_COOKIES": "false",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "WARNING",  # the services log every transition at INFO
            "STATIC_ROOT": tempfile.mkdtemp(prefix="ccm-bench-static-"),
        }
    )


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class SizeResult:
    n: int
    migrate_seconds: float = 0.0
    seeded: object = None
    timings: dict = field(default_factory=dict)
    throughput: list = field(default_factory=list)
    load: list = field(default_factory=list)
    load_note: str = ""
    plans: dict = field(default_factory=dict)
    bulk: object = None  # bench.extras.BulkResult
    exports: list = field(default_factory=list)  # bench.extras.ExportResult
    notes: list = field(default_factory=list)  # what could not be measured, and why


@dataclass
class MultiTenantResult:
    n: int
    others: int
    others_seconds: float = 0.0
    alone: dict = field(default_factory=dict)  # key -> Timing
    among: dict = field(default_factory=dict)


@dataclass
class DatabaseRun:
    vendor: str
    results: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    multi: MultiTenantResult | None = None
    note: str = ""  # why it did not run


# --- the parent: one child a database --------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_out:
        return run_database(args, argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    argv_used = list(argv if argv is not None else sys.argv[1:])
    env = os.environ.copy()
    env["BENCH_COMMAND"] = " ".join(["python -m bench", *argv_used])
    postgres = BenchDatabase.postgres_source() if "postgresql" in args.databases else ""
    configure(BenchDatabase.sqlite())  # Django, to unpickle the results' model instances
    import django

    django.setup()
    from bench import chart, report

    runs: list[DatabaseRun] = []
    if args.report_from:
        by_vendor: dict[str, DatabaseRun] = {}
        for name in args.report_from.split(","):
            with open(name.strip(), "rb") as f:
                run = pickle.load(f)
            if run.vendor not in by_vendor:
                by_vendor[run.vendor] = run
                runs.append(run)
                continue
            # A second run of the same database (e.g. a size measured after the main
            # run): its sizes join the first's, each size from its own run.
            first = by_vendor[run.vendor]
            first.results = sorted([*first.results, *run.results], key=lambda r: r.n)
            first.multi = first.multi or run.multi
            first.info["also"] = f"{run.info.get('command', '?')} ({run.info.get('date', '?')})"
        walls = [float(r.info.get("wall", "0 s").split()[0]) for r in runs if r.info]
        started -= sum(walls)  # the wall time of the runs, not of this report
    else:
        for vendor in args.databases:
            runs.append(_run_child(vendor, argv_used, env, postgres))

    wall = time.perf_counter() - started
    print(report.overall_text(runs, wall), flush=True)
    if args.output:
        written = report.write_markdown(
            Path(args.output), runs, wall=wall, combined=bool(args.report_from)
        )
        if args.chart_dir:
            written += chart.draw(runs, Path(args.chart_dir))
        log(f"wrote {', '.join(map(str, written))}")
    return 0 if all(r.results or r.note for r in runs) else 1


def _strip_db_args(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--databases", "--output", "--chart-dir"):
            skip = True
            continue
        if a.startswith(("--databases=", "--output=", "--chart-dir=")):
            continue
        out.append(a)
    return out


def _run_child(vendor: str, argv: list[str], env: dict, postgres: str) -> DatabaseRun:
    env = dict(env)
    if vendor == "sqlite":
        env.pop("DATABASE_URL", None)
    else:
        url = postgres
        if not url:
            note = (
                "skipped: no PostgreSQL answers (BENCH_DATABASE_URL, DATABASE_URL, 127.0.0.1:5432)"
            )
            log(f"postgresql: {note}")
            return DatabaseRun(vendor=vendor, note=note)
        env["DATABASE_URL"] = url
    with tempfile.NamedTemporaryFile(prefix=f"ccm-bench-{vendor}-", suffix=".pickle") as out:
        command = [
            sys.executable,
            "-m",
            "bench",
            *_strip_db_args(argv),
            "--databases",
            vendor,
            "--child-out",
            out.name,
        ]
        log(f"{vendor}: {' '.join(command[2:])}")
        done = subprocess.run(command, env=env, cwd=BENCH_DIR.parent)
        if done.returncode != 0 and not Path(out.name).stat().st_size:
            return DatabaseRun(vendor=vendor, note=f"failed: the run exited with {done.returncode}")
        saved = BENCH_DIR / f"last-{vendor}.pickle"  # for --report-from (git-ignored)
        saved.write_bytes(Path(out.name).read_bytes())
        with open(saved, "rb") as f:
            return pickle.load(f)


# --- a child: one database -------------------------------------------------------


def run_database(args: argparse.Namespace, argv: list[str]) -> int:
    vendor = args.databases[0]
    db = BenchDatabase.sqlite() if vendor == "sqlite" else BenchDatabase.from_env()
    configure(db)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench import report

    started = time.perf_counter()
    log(f"database: {db.vendor} ({db.name}); sizes: {', '.join(map(str, args.sizes))}")
    call_command("collectstatic", interactive=False, verbosity=0)
    run = DatabaseRun(vendor=db.vendor)
    try:
        for n in args.sizes:
            result = SizeResult(n=n)
            result.migrate_seconds = _fresh(db)
            if not run.info:
                run.info = report.machine_info(vendor=db.vendor, argv=argv)
            run_size(result, args, vendor=db.vendor)
            run.results.append(result)
            print(report.size_text(result), flush=True)
            _save(run, args.child_out, started, incomplete=True)  # what is done so far
        if args.others:
            _fresh(db)
            run.multi = run_multi_tenant(args, db)
            print(report.multi_text(run.multi), flush=True)
    finally:
        connections.close_all()
        if not args.keep:
            db.drop()
    _save(run, args.child_out, started)
    print(report.summary_text(run.results, run.info), flush=True)
    return 0


def _save(run: DatabaseRun, path: str, started: float, *, incomplete: bool = False) -> None:
    """Pickle the run for the parent (after each size too, so a run stopped part way
    still reports what it measured)."""
    from bench import report

    run.info["wall"] = f"{time.perf_counter() - started:.0f} s"
    run.info["load_end"] = report.load_average()
    run.note = (
        "stopped before it finished: the sizes below are those it completed" if (incomplete) else ""
    )
    for r in run.results:
        for t in r.timings.values():
            t.page.client = t.page.check = t.page.db = None  # none pickles; the report needs none
    if run.multi:
        for t in [*run.multi.alone.values(), *run.multi.among.values()]:
            t.page.client = t.page.check = t.page.db = None
    with open(path, "wb") as f:
        pickle.dump(run, f)


def _fresh(db: BenchDatabase) -> float:
    """An empty, migrated database; the seconds the migrations took."""
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    db.recreate()
    t0 = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    return time.perf_counter() - t0


def budget_for(n: int, quick: bool):
    from bench import measure

    if quick:
        return measure.QUICK
    if n >= 1_000_000:
        return measure.HUGE
    if n >= 100_000:
        return measure.LARGE
    return measure.FULL


def run_size(result: SizeResult, args: argparse.Namespace, *, vendor: str) -> None:
    from bench import extras, measure, seed, transitions

    n = result.n
    log(f"{n} users: seeding")
    # Quick runs: a 1,000-entry history (the 10,000-entry page takes seconds until paged).
    seeded = result.seeded = seed.seed(n, long_history=1000 if args.quick else seed.LONG_HISTORY)
    log(
        f"{n} users: seeded {seeded.n_users} users, {seeded.n_profiles} profiles, "
        f"{seeded.n_changes} pending changes, {seeded.n_logs} log rows in {seeded.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f}' for k, v in seeded.phases.items())})"
    )
    pages = build_pages(seeded, result.notes)
    log(f"{n} users: timing {len(pages)} pages")
    # The history pages on their own: an unpaged 10,000-entry page takes seconds, which
    # would leave the other pages a handful of rounds in their time budget.
    history = [p for p in pages if p.group == "h"]
    rest = [p for p in pages if p.group != "h"]
    result.timings = measure.measure(rest, budget_for(n, args.quick))
    if history:
        result.timings.update(measure.measure(history, measure.QUICK))
    for key, timing in result.timings.items():
        if timing.problem:
            log(f"  {key}: {timing.problem}")

    from bench import explain

    floor = result.timings.get("c_floor")
    for key, timing in result.timings.items():
        if not key.startswith(("a_", "s_")) or not timing.sql or not floor:
            continue
        slow = floor.samples_ms and timing.median_ms > 2 * floor.median_ms
        searched = key.startswith("a_search")  # issue 12: served by an index on PostgreSQL
        if slow or (vendor == "postgresql" and (key == "a_first" or searched)):
            result.plans[key] = explain.explain(timing.sql)

    if args.load_seconds and n == args.load_size:
        run_load(result, seeded, args.load_seconds)

    log(f"{n} users: CSV exports")
    result.exports = extras.exports(seeded, result.notes)
    if n <= 100_000 or args.quick:
        log(f"{n} users: bulk activate vs single activations")
        result.bulk = extras.bulk(seeded, BULK if not args.quick else 50, result.notes)
    if args.transitions and n == args.load_size:
        log(f"{n} users: transitions ({args.transitions} profiles)")
        result.throughput = [
            transitions.through_services(seeded.admin, args.transitions),
            transitions.through_views(seeded.admin, args.transitions),
        ]


def run_multi_tenant(args: argparse.Namespace, db: BenchDatabase) -> MultiTenantResult:
    """The same 1,000-user tenant served from two databases: one with it alone, one
    with ``args.others`` users of 10 other tenants besides (seeded after it, so its
    rows and ids are the same in both). The pages of both are timed round-robin in
    one measurement, each request on its own database's connection, so the load
    of the machine lands on both alike."""
    from django.core.management import call_command
    from django.db import connections
    from django.db.utils import load_backend

    from bench import measure, seed

    n = MULTI_TENANT if not args.quick else 500
    result = MultiTenantResult(n=n, others=args.others)
    main = connections["default"]
    other_db = db.sibling("multi")
    other_db.recreate()
    settings = dict(main.settings_dict, NAME=_db_name(other_db))
    other = load_backend(settings["ENGINE"]).DatabaseWrapper(settings, "default")
    pages = []
    try:
        for label, wrapper in (("alone", main), ("among", other)):
            connections["default"] = wrapper
            if wrapper is other:
                call_command("migrate", interactive=False, verbosity=0)
            log(f"multi-tenant ({label}): a {n}-user tenant")
            seeded = seed.seed(n, history=False)
            if wrapper is other:
                log(f"multi-tenant ({label}): adding {args.others} users of 10 other tenants")
                result.others_seconds, _ = seed.seed_others(args.others)
                log(f"multi-tenant: others seeded in {result.others_seconds:.1f} s")
            for page in build_pages(seeded, []):
                if page.group in ("a", "s"):
                    page.key, page.db = f"{label}:{page.key}", wrapper
                    pages.append(page)
        log(f"multi-tenant: timing {len(pages)} pages")
        timings = measure.measure(pages, measure.QUICK if args.quick else measure.MULTI)
    finally:
        connections["default"] = main
        other.close()
        other_db.drop()
    for key, timing in timings.items():
        label, _, page_key = key.partition(":")
        getattr(result, label)[page_key] = timing
    return result


def _db_name(db: BenchDatabase) -> str:
    return db.name


def run_load(result: SizeResult, seeded, seconds: int) -> None:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from bench import load

    if not load.wrk_path():
        result.load_note = "skipped, wrk is not installed (Debian: apt-get install -y wrk)"
        log(f"{result.n} users: load test {result.load_note}")
        return
    log(f"{result.n} users: gunicorn (2 workers) + wrk, {seconds} s per page")

    def cookie_for(user) -> str:
        client = Client()
        client.force_login(user, backend="accounts.backends.EmailBackend")
        return (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

    first_email = seeded.first_page_emails[0]
    with load.gunicorn(workers=2) as base:
        result.load = [
            load.run_wrk(
                base,
                reverse("billing:user_list"),
                label="Users page, first page (tenant admin)",
                cookie=cookie_for(seeded.admin),
                expect=first_email,
                seconds=seconds,
            ),
            load.run_wrk(
                base,
                reverse("accounts:account"),
                label="Account page (user with an active profile)",
                cookie=cookie_for(seeded.member),
                expect=seeded.member.email,
                seconds=seconds,
            ),
        ]
    for item in result.load:
        if item.errors:
            log(f"  {item.label}: {item.errors}")


def build_pages(seeded, notes: list[str]) -> list:
    """The pages to time, each with a check that it shows the rows it should.

    Every view of the Users page: first and last page, every sort both ways, every
    status filter, a plan filter and page sizes (when the page has those
    parameters), a common and a rare search term. Django's admin lists users by
    e-mail; the Users page by name: the e-mail-sorted views show exactly the rows
    the changelist shows, for a like-for-like ratio. Then the history pages, the
    floors (c) and (d), and the API.
    """
    from django.contrib import admin
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from bench import seed, views
    from bench.measure import Page, emails_present
    from billing.forms import UserFilterForm
    from billing.standing import STATUS_FILTERS
    from billing.user_list import USER_SORTS, user_list_for_admin

    def client_for(user) -> Client:
        client = Client()
        client.force_login(user, backend="accounts.backends.EmailBackend")
        return client

    tenant = seeded.tenant
    params = set(UserFilterForm.base_fields)

    def expected(count: int = PER_PAGE, page: int = 1, **kw) -> list[str]:
        users = user_list_for_admin(tenant=tenant, **kw)
        start = (page - 1) * count
        return list(users.values_list("email", flat=True)[start : start + count])

    by_name = User.objects.filter(tenant=tenant).order_by("name", "email", "pk")
    by_email = by_name.order_by("email")
    n = by_name.count()
    last = math.ceil(n / PER_PAGE)
    seeded.first_page_emails = list(by_name.values_list("email", flat=True)[:PER_PAGE])
    first_by_email = list(by_email.values_list("email", flat=True)[:PER_PAGE])
    last_by_email = list(by_email.values_list("email", flat=True)[(last - 1) * PER_PAGE :])
    needle = by_name.order_by("pk")[n // 2]
    common = seed.COMMON_TERM

    views.floor_prepare(tenant)

    a, b = client_for(seeded.admin), client_for(seeded.operator)
    users = reverse("billing:user_list")
    views.FLOOR_BYTES[0] = a.get(users).content

    def users_page(key, label, query="", check=None):
        url = f"{users}?{query}" if query else users
        return Page(key, "a" if key.startswith("a_") else "s", label, url, a, check)

    pages = [
        users_page(
            "a_first", "Users page, first page", "", emails_present(seeded.first_page_emails)
        ),
        users_page(
            "a_last", f"Users page, last page ({last})", f"page={last}",
            emails_present(expected(page=last)),
        ),
        users_page(
            "a_search_rare", "Users page, search (rare: one e-mail)", f"q={needle.email}",
            emails_present([needle.email]),
        ),
        users_page(
            "a_search_common", f"Users page, search (common: '{common}')", f"q={common}",
            emails_present(expected(q=common)),
        ),
        users_page(
            "a_email_last", "Users page by e-mail, last page", f"sort=email&page={last}",
            emails_present(last_by_email),
        ),
    ]  # fmt: skip
    for sort in USER_SORTS:
        for key in (sort, f"-{sort}"):
            if key == "name":
                continue  # the first page
            pages.append(
                users_page(
                    f"s_{key}", f"Users page, sort={key}", f"sort={key}",
                    emails_present(expected(sort=key)),
                )
            )  # fmt: skip
    for status, label in STATUS_FILTERS.items():
        pages.append(
            users_page(
                f"a_status_{status}", f"Users page, status: {label}", f"status={status}",
                emails_present(expected(status=status)),
            )
        )  # fmt: skip
    if "plan" in params:
        plan = tenant.plans.order_by("name").first()
        pages.append(users_page("a_plan", f"Users page, plan: {plan.name}", f"plan={plan.pk}"))
        pages.append(users_page("a_plan_none", "Users page, plan: none", "plan=none"))
    else:
        notes.append(
            "Users page, plan filter: not available (feature missing: no `plan` parameter)"
        )
    if "size" in params:
        for size in (25, 100):
            pages.append(
                users_page(
                    f"a_size_{size}", f"Users page, {size} a page", f"size={size}",
                    emails_present(expected(count=size)),
                )
            )  # fmt: skip
    else:
        notes.append(
            "Users page, page sizes 25/100: not available (feature missing: no `size` parameter)"
        )

    model_admin = admin.site._registry.get(User)
    if model_admin is not None:
        # The same 50 rows per page as the Users page (Django's default is 100).
        model_admin.list_per_page = PER_PAGE
        changelist = reverse("admin:accounts_user_changelist")
        pages.append(
            Page("b_first", "b", "Django admin changelist, first page", changelist, b,
                 emails_present(first_by_email))
        )  # fmt: skip
        if model_admin.search_fields:
            pages.append(
                Page("b_search_rare", "b", "Django admin, search (rare)",
                     f"{changelist}?q={needle.email}", b, emails_present([needle.email]))
            )  # fmt: skip
            pages.append(
                Page("b_search_common", "b", f"Django admin, search (common: '{common}')",
                     f"{changelist}?q={common}", b)
            )  # fmt: skip
        pages.append(
            Page("b_last", "b", f"Django admin, last page ({last})", f"{changelist}?p={last}", b,
                 emails_present(last_by_email))
        )  # fmt: skip
        for field_name in ("name", "email"):
            idx = _admin_column(model_admin, field_name)
            for desc in (False, True):
                if idx is None:
                    continue
                o = f"-{idx}" if desc else f"{idx}"
                key = f"b_sort_{'-' if desc else ''}{field_name}"
                pages.append(
                    Page(key, "b", f"Django admin, sort={'-' if desc else ''}{field_name}",
                         f"{changelist}?o={o}", b)
                )  # fmt: skip
        status_param = _admin_state_filter(model_admin)
        if status_param:
            pages.append(
                Page("b_pending", "b", "Django admin, Pending activation",
                     f"{changelist}?{status_param}=pending", b)
            )  # fmt: skip

    if seeded.long_history and seeded.short_history:
        for key, user, count in (
            ("h_long", seeded.long_history, seeded.long_history_entries),
            ("h_short", seeded.short_history, seed.SHORT_HISTORY),
        ):
            pages.append(
                Page(key, "h", f"History page, {count:,} entries, first page",
                     reverse("billing:profile_history", args=[user.pk]), a,
                     emails_present([user.email]))
            )  # fmt: skip

    pages += api_pages(seeded, expected(status="pending"), by_email)

    pages.append(
        Page("c_floor", "c", "Floor (c): same 50 rows from memory", reverse("bench_floor"), a,
             emails_present(seeded.first_page_emails))
    )  # fmt: skip
    pages.append(
        Page("d_floor", "d", "Floor (d): the first page's bytes, no template",
             reverse("floor_bytes"), a, emails_present(seeded.first_page_emails))
    )  # fmt: skip
    pages.append(
        Page("c_menu", "c+", "Floor + the Admin menu's count query",
             f"{reverse('bench_floor')}?menu=1", a, emails_present(seeded.first_page_emails))
    )  # fmt: skip
    return pages


def _admin_column(model_admin, name: str) -> int | None:
    """The changelist's ``?o=`` index of a column (1-based; the action checkbox is not one)."""
    for i, column in enumerate(model_admin.list_display, start=1):
        if column == name:
            return i
    return None


def api_pages(seeded, pending_emails: list[str], by_email) -> list:
    """The API's user list (billing/api.py) beside the Users page: the same first 50
    rows, the pending ones, and a page deep in the e-mail order reached by its cursor
    (keyed: as fast as the first, where the page's OFFSET walks the index)."""
    from django.test import Client

    from accounts.tokens import api_token_create
    from bench.measure import Page, emails_present
    from billing.api import _encode_cursor

    token = api_token_create(admin=seeded.admin, name="bench", expires_at=None).plaintext
    client = Client(headers={"Authorization": f"Bearer {token}"})
    n = by_email.count()
    before_deep = by_email.select_related("plan", "payment_profile")[max(0, n - PER_PAGE - 1)]
    deep_emails = list(by_email.values_list("email", flat=True)[n - PER_PAGE :])
    cursor = _encode_cursor("email", before_deep)
    return [
        Page(
            "p_first",
            "p",
            "API user list, first 50",
            f"/api/v1/users?limit={PER_PAGE}",
            client,
            emails_present(seeded.first_page_emails),
        ),
        Page(
            "p_pending",
            "p",
            "API user list, Pending activation",
            f"/api/v1/users?status=pending&limit={PER_PAGE}",
            client,
            emails_present(pending_emails),
        ),
        Page(
            "p_email_last",
            "p",
            "API user list by e-mail, last 50 (by cursor)",
            f"/api/v1/users?sort=email&limit={PER_PAGE}&cursor={cursor}",
            client,
            emails_present(deep_emails),
        ),
    ]


def _admin_state_filter(model_admin) -> str:
    """The changelist's query parameter for the profile status, if it has a filter on it."""
    for entry in model_admin.list_filter:
        name = entry[0] if isinstance(entry, tuple) else entry
        if isinstance(name, str) and name.endswith("state"):
            return f"{name}__exact"
    return ""
