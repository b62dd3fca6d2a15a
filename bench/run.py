"""`make bench`: seed, measure, load, report. See ``python -m bench --help``.

The environment is set before Django starts: the app's production settings
(DEBUG off) on the bench's own throwaway database (see bench/db.py), with the
floor view's URL added (bench/settings.py).
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.db import BENCH_DIR, BenchDatabase

FULL_SIZES = (1000, 10_000, 100_000)
QUICK_SIZES = (200, 1000)
PER_PAGE = 50


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the Users page and the payment-profile transitions at scale.",
    )
    parser.add_argument("--sizes", help="users in the tenant, comma-separated (1000,10000,100000)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, short timings and load (CI)"
    )
    parser.add_argument(
        "--transitions", type=int, help="profiles to deactivate and re-activate (1000; quick 100)"
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
    parser.add_argument("--keep", action="store_true", help="keep the last database at the end")
    args = parser.parse_args(argv)
    if args.sizes:
        args.sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    else:
        args.sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if min(args.sizes) < PER_PAGE * 2:
        parser.error(f"sizes must be at least {PER_PAGE * 2} (two pages)")
    if args.transitions is None:
        args.transitions = 100 if args.quick else 1000
    if args.load_seconds is None:
        args.load_seconds = 3 if args.quick else 20
    if args.load_size is None:
        below = [n for n in args.sizes if n <= 10_000]
        args.load_size = max(below) if below else min(args.sizes)
    if args.output is None and not args.quick:
        args.output = str(BENCH_DIR / "results.md")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    db = BenchDatabase.from_env()
    configure(db)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench import report

    started = time.perf_counter()
    log(f"database: {db.vendor} ({db.name}); sizes: {', '.join(map(str, args.sizes))}")
    call_command("collectstatic", interactive=False, verbosity=0)
    results: list[SizeResult] = []
    info: dict[str, str] = {}
    try:
        for n in args.sizes:
            connections.close_all()
            db.recreate()
            result = SizeResult(n=n)
            t0 = time.perf_counter()
            call_command("migrate", interactive=False, verbosity=0)
            result.migrate_seconds = time.perf_counter() - t0
            if not info:
                argv_used = argv if argv is not None else sys.argv[1:]
                info = report.machine_info(vendor=db.vendor, argv=argv_used)
            run_size(result, args, vendor=db.vendor)
            results.append(result)
            print(report.size_text(result), flush=True)
    finally:
        connections.close_all()
        if not args.keep:
            db.drop()
    info["wall"] = f"{time.perf_counter() - started:.0f} s"
    info["load_end"] = report.load_average()
    print(report.summary_text(results, info), flush=True)
    if args.output:
        written = report.write_markdown(Path(args.output), results, info, vendor=db.vendor)
        log(f"wrote {', '.join(map(str, written))}")
    return 0


def run_size(result: SizeResult, args: argparse.Namespace, *, vendor: str) -> None:
    from bench import measure, seed, transitions

    n = result.n
    log(f"{n} users: seeding")
    seeded = result.seeded = seed.seed(n)
    log(
        f"{n} users: seeded {seeded.n_users} users, {seeded.n_profiles} profiles, "
        f"{seeded.n_changes} pending changes, {seeded.n_logs} log rows in {seeded.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f}' for k, v in seeded.phases.items())})"
    )
    pages = build_pages(seeded)
    budget = measure.QUICK if args.quick else measure.FULL
    log(f"{n} users: timing {len(pages)} pages")
    result.timings = measure.measure(pages, budget)
    for key, timing in result.timings.items():
        if timing.problem:
            log(f"  {key}: {timing.problem}")

    if vendor == "postgresql":
        from bench import explain

        for key, timing in result.timings.items():
            if key.startswith(("a_", "s_")) and timing.sql:
                result.plans[key] = explain.explain(timing.sql)

    if args.load_seconds and n == args.load_size:
        run_load(result, seeded, args.load_seconds)

    if args.transitions:
        log(f"{n} users: transitions ({args.transitions} profiles)")
        result.throughput = [
            transitions.through_services(seeded.admin, args.transitions),
            transitions.through_views(seeded.admin, args.transitions),
        ]


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
                reverse("accounts:user_list"),
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


def build_pages(seeded) -> list:
    """The pages to time, each with a check that it shows the rows it should.

    Django's admin lists users by e-mail; the Users page by name. So besides the
    Users page's own default views, the bench also times it sorted by e-mail: those
    show exactly the rows the changelist shows, for a like-for-like ratio.
    """
    from django.contrib import admin
    from django.db.models import Q
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from bench import views
    from bench.measure import Page, emails_present
    from billing.models import State

    def client_for(user) -> Client:
        client = Client()
        client.force_login(user, backend="accounts.backends.EmailBackend")
        return client

    by_name = User.objects.filter(tenant=seeded.tenant).order_by("name", "email", "pk")
    by_email = by_name.order_by("email")
    n = by_name.count()
    last = math.ceil(n / PER_PAGE)
    first_rows = list(by_name.select_related("plan", "payment_profile")[:PER_PAGE])
    seeded.first_page_emails = [u.email for u in first_rows]
    last_emails = list(by_name.values_list("email", flat=True)[(last - 1) * PER_PAGE :])
    first_by_email = list(by_email.values_list("email", flat=True)[:PER_PAGE])
    last_by_email = list(by_email.values_list("email", flat=True)[(last - 1) * PER_PAGE :])
    pending = by_name.filter(payment_profile__state=State.PENDING)
    pending_emails = list(pending.values_list("email", flat=True)[:PER_PAGE])
    awaiting = by_name.filter(
        Q(payment_profile__state=State.PENDING) | Q(payment_profile__pending_change__isnull=False)
    )
    awaiting_emails = list(awaiting.values_list("email", flat=True)[:PER_PAGE])
    needle = by_name.order_by("pk")[n // 2]

    views.FLOOR_ROWS[:] = [_floor_row(user, seeded.admin) for user in first_rows]
    views.FLOOR_CONTEXT.clear()
    try:
        from accounts.selectors import awaiting_admin_badge
    except ImportError:  # an app without the Admin menu's count
        pass
    else:
        views.FLOOR_CONTEXT["awaiting_admin_badge"] = awaiting_admin_badge(seeded.tenant)

    a, b = client_for(seeded.admin), client_for(seeded.operator)
    users = reverse("accounts:user_list")
    pages = [
        Page(
            "a_first",
            "a",
            "Users page, first page",
            users,
            a,
            emails_present(seeded.first_page_emails),
        ),
        Page(
            "a_pending",
            "a",
            "Users page, Pending activation",
            f"{users}?status=pending",
            a,
            emails_present(pending_emails),
        ),
        Page(
            "a_awaiting",
            "a",
            "Users page, Awaiting an admin",
            f"{users}?status=awaiting",
            a,
            emails_present(awaiting_emails),
        ),
        Page(
            "a_search",
            "a",
            "Users page, search by e-mail",
            f"{users}?q={needle.email}",
            a,
            emails_present([needle.email]),
        ),
        Page(
            "a_last",
            "a",
            f"Users page, last page ({last})",
            f"{users}?page={last}",
            a,
            emails_present(last_emails),
        ),
        Page(
            "a_email",
            "a",
            "Users page by e-mail, first page",
            f"{users}?sort=email",
            a,
            emails_present(first_by_email),
        ),
        Page(
            "a_email_last",
            "a",
            "Users page by e-mail, last page",
            f"{users}?sort=email&page={last}",
            a,
            emails_present(last_by_email),
        ),
    ]
    for sort in ("plan", "method", "status", "-changed"):
        pages.append(Page(f"s_{sort}", "s", f"Users page, sort={sort}", f"{users}?sort={sort}", a))

    model_admin = admin.site._registry.get(User)
    if model_admin is not None:
        # The same 50 rows per page as the Users page (Django's default is 100).
        model_admin.list_per_page = PER_PAGE
        changelist = reverse("admin:accounts_user_changelist")
        pages.append(
            Page(
                "b_first",
                "b",
                "Django admin changelist, first page",
                changelist,
                b,
                emails_present(first_by_email),
            )
        )
        if model_admin.search_fields:
            pages.append(
                Page(
                    "b_search",
                    "b",
                    "Django admin, search by e-mail",
                    f"{changelist}?q={needle.email}",
                    b,
                    emails_present([needle.email]),
                )
            )
        pages.append(
            Page(
                "b_last",
                "b",
                f"Django admin, last page ({last})",
                f"{changelist}?p={last}",
                b,
                emails_present(last_by_email),
            )
        )
        status_param = _admin_state_filter(model_admin)
        if status_param:
            pages.append(
                Page(
                    "b_pending",
                    "b",
                    "Django admin, Pending activation",
                    f"{changelist}?{status_param}=pending",
                    b,
                )
            )

    pages += api_pages(seeded, pending_emails, by_email)

    pages.append(
        Page(
            "c_floor",
            "c",
            "Floor: same 50 rows from memory",
            reverse("bench_floor"),
            a,
            emails_present(seeded.first_page_emails),
        )
    )
    if views.FLOOR_CONTEXT:
        pages.append(
            Page(
                "c_menu",
                "c+",
                "Floor + the Admin menu's count query",
                f"{reverse('bench_floor')}?menu=1",
                a,
                emails_present(seeded.first_page_emails),
            )
        )
    return pages


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


def _floor_row(user, admin) -> dict:
    from billing.models import State

    profile = user.payment_profile
    state = profile.state
    actions = {t.name for t in profile.get_available_user_state_transitions(admin)}
    badges = {
        State.ACTIVE: "text-bg-success",
        State.PENDING: "text-bg-warning",
        State.INACTIVE: "text-bg-secondary",
    }
    return {
        "pk": user.pk,
        "admin": user.is_tenant_admin,
        "badge": badges.get(state, "text-bg-light border"),
        "name": user.name,
        "email": user.email,
        "plan": user.plan.name if user.plan else "Bundles only",
        "method": profile.get_method_display() or "Not set up",
        "status": state,
        "status_label": State(state).label,
        "changed": profile.state_changed_at,
        "activate": "activate" in actions,
        "deactivate": "deactivate" in actions,
    }
