"""The printed tables, bench/results.md and bench/results-detail.md.

results.md (committed) has what a reader wants: the summary, the targets and one
compact table a size. The EXPLAIN ANALYZE plans, hundreds of lines a run, go to
results-detail.md beside it (git-ignored; each run writes it again). Both keep one
generated section per database (between ``bench:<vendor>`` markers), so a run on
SQLite and a run on PostgreSQL sit side by side, and any hand-written notes outside
the markers survive the next run.
"""

from __future__ import annotations

import math
import os
import platform
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

TARGET_QUERIES = 6
TARGET_VS_ADMIN = 1.0
TARGET_VS_FLOOR = 2.0
TARGET_SEED_SECONDS = 60
RATIO_FROM = 10_000  # (a)/(b) is a target at 10,000 users and up

# (a) page -> the (b) page it is compared with. The e-mail-sorted ones show exactly
# the changelist's rows; the default ones are each page's own default view.
PAIRS = (
    ("a_first", "b_first"),
    ("a_email", "b_first"),
    ("a_pending", "b_pending"),
    ("a_search", "b_search"),
    ("a_last", "b_last"),
    ("a_email_last", "b_last"),
)
PAIRED = dict(PAIRS)
VENDOR_TITLE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


# --- machine -----------------------------------------------------------------


def machine_info(*, vendor: str, argv: list[str]) -> dict[str, str]:
    import django
    from django.db import connection

    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        names = re.findall(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        cpu = names[0].strip() if names else ""
    except OSError:
        pass
    if vendor == "postgresql":
        db_version = connection.cursor().connection.server_version  # e.g. 150008
        db_version = f"PostgreSQL {db_version // 10000}.{db_version % 10000}"
    else:
        db_version = f"SQLite {sqlite3.sqlite_version}"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), {memory} RAM, "
        f"{platform.system()} {platform.release()}",
        "versions": f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{db_version}",
        "command": "python -m bench " + " ".join(argv) if argv else "python -m bench",
        "load": load_average(),
    }


def load_average() -> str:
    """Other work on the machine shows up in the numbers: say how busy it was."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "?"
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


# --- numbers -----------------------------------------------------------------


def _ms(x: float) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.1f}"


def _ratio(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.2f}"


def ratio(result, a: str, b: str) -> float | None:
    ta, tb = result.timings.get(a), result.timings.get(b)
    if not ta or not tb or not ta.samples_ms or not tb.samples_ms:
        return None
    return ta.median_ms / tb.median_ms


def page_rows(result) -> list[list[str]]:
    rows = []
    for key, timing in result.timings.items():
        vs_admin = ratio(result, key, PAIRED[key]) if key in PAIRED else None
        vs_floor = ratio(result, key, "c_floor") if key.startswith(("a_", "s_", "p_")) else None
        rows.append(
            [
                f"({timing.page.group}) {timing.page.label}",
                _ms(timing.median_ms),
                _ms(timing.p95_ms),
                str(timing.queries) if not timing.problem else "—",
                _ratio(vs_admin),
                _ratio(vs_floor),
                str(len(timing.samples_ms)),
                timing.problem,
            ]
        )
    return rows


PAGE_HEADERS = ["page", "median ms", "p95 ms", "queries", "(a)/(b)", "(a)/(c)", "runs", "problem"]


def throughput_rows(result) -> list[list[str]]:
    return [
        [
            t.path,
            str(t.profiles),
            f"{t.deactivate_per_s:.0f}",
            f"{t.activate_per_s:.0f}",
            f"{t.per_s:.0f}",
            t.problem,
        ]
        for t in result.throughput
    ]


THROUGHPUT_HEADERS = [
    "through",
    "profiles",
    "deactivate/s",
    "activate/s",
    "transitions/s",
    "problem",
]


def load_rows(result) -> list[list[str]]:
    return [
        [
            f"{x.label} `{x.url}`",
            f"{x.requests_per_s:.1f}",
            _ms(x.p50_ms),
            _ms(x.p95_ms),
            _ms(x.p99_ms),
            str(x.requests),
            x.errors,
        ]
        for x in result.load
    ]


LOAD_HEADERS = ["page", "requests/s", "p50 ms", "p95 ms", "p99 ms", "requests", "errors"]


def summary_rows(results) -> list[list[str]]:
    rows = []
    for r in results:
        t = r.timings

        def med(key: str, t=t) -> str:
            return _ms(t[key].median_ms) if key in t else "—"

        pair_ratios = [x for a, b in PAIRS if (x := ratio(r, a, b)) is not None]
        queries = [x.queries for k, x in t.items() if k.startswith(("a_", "s_")) and not x.problem]
        rows.append(
            [
                f"{r.n:,}",
                f"{r.seeded.seconds:.1f}",
                med("a_first"),
                med("b_first"),
                med("c_floor"),
                _ratio(ratio(r, "a_first", "b_first")),
                _ratio(max(pair_ratios)) if pair_ratios else "—",
                _ratio(ratio(r, "a_first", "c_floor")),
                str(max(queries)) if queries else "—",
                _ms(menu_ms(r)),
            ]
        )
    return rows


def menu_ms(result) -> float | None:
    """What the Admin menu's count query adds to every admin page: the floor with it
    minus the floor without it (None when the app has no such count)."""
    with_it, without = result.timings.get("c_menu"), result.timings.get("c_floor")
    if not with_it or not without or not with_it.samples_ms or not without.samples_ms:
        return None
    return with_it.median_ms - without.median_ms


SUMMARY_HEADERS = [
    "users",
    "seed s",
    "(a) first ms",
    "(b) first ms",
    "(c) floor ms",
    "(a)/(b) first",
    "(a)/(b) worst",
    "(a)/(c)",
    "max queries (a)",
    "menu count ms",
]


def targets(results) -> list[tuple[bool, str]]:
    """Each target, met or not, with by how much."""
    out: list[tuple[bool, str]] = []
    for r in results:
        users_pages = [t for k, t in r.timings.items() if k.startswith(("a_", "s_"))]
        for t in users_pages:
            if t.problem:
                out.append((False, f"{r.n:,} users, {t.page.label}: {t.problem}"))
            elif t.queries > TARGET_QUERIES:
                out.append((False, f"{r.n:,} users, {t.page.label}: {t.queries} queries"))
        counted = [t.queries for t in users_pages if not t.problem]
        if counted and max(counted) <= TARGET_QUERIES:
            out.append((True, f"{r.n:,} users: Users page, at most {max(counted)} queries (≤ 6)"))
        if r.n >= RATIO_FROM:
            for a, b in PAIRS:
                x = ratio(r, a, b)
                if x is None:
                    continue
                what = f"{r.n:,} users, {r.timings[a].page.label}: (a)/(b) = {x:.2f}"
                if x <= TARGET_VS_ADMIN:
                    out.append((True, f"{what} (≤ 1.0)"))
                else:
                    out.append((False, f"{what}, {x - 1:.0%} slower than Django's admin"))
        x = ratio(r, "a_first", "c_floor")
        if x is not None:
            what = f"{r.n:,} users, first page: (a)/(c) = {x:.2f}"
            ok = x <= TARGET_VS_FLOOR
            out.append((ok, f"{what} (≤ 2.0)" if ok else f"{what}, {x / 2 - 1:.0%} over 2.0"))
        if r.n >= 100_000 and r.seeded:
            secs = r.seeded.seconds
            what = f"seeding {r.n:,} users: {secs:.1f} s"
            ok = secs < TARGET_SEED_SECONDS
            out.append((ok, f"{what} (< 60 s)" if ok else f"{what}, {secs - 60:.1f} s over 60 s"))
    return out


def beyond_targets(results) -> list[str]:
    """Users page views over 2x the floor. The floor target is the first page: the
    floor renders exactly its rows. The other views show other rows (a filter, a
    search, a deep page, another order), so their ratio is not like-for-like, but
    a slow one is still worth saying."""
    out = []
    for r in results:
        for key, t in r.timings.items():
            if key == "a_first" or not key.startswith(("a_", "s_")):
                continue
            x = ratio(r, key, "c_floor")
            if x is not None and x > TARGET_VS_FLOOR:
                out.append(
                    f"{r.n:,} users, {t.page.label}: {x:.2f}x the floor ({t.median_ms:.1f} ms)"
                )
    return out


# --- text --------------------------------------------------------------------


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    rows = [[c or "" for c in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(
                cell.ljust(widths[i]) if i == 0 or i == len(cells) - 1 else cell.rjust(widths[i])
            )
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(headers) - 2) + ["---"]
    return "\n".join([line(headers), "|" + "|".join(align) + "|", *map(line, rows)])


def _seed_line(r) -> str:
    s = r.seeded
    return (
        f"seeded {s.n_users:,} users, {s.n_profiles:,} profiles, "
        f"{getattr(s, 'n_changes', 0):,} pending changes, {s.n_logs:,} log rows "
        f"in {s.seconds:.1f} s (migrations {r.migrate_seconds:.1f} s; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in s.phases.items())
        + ")"
    )


def size_text(r) -> str:
    parts = [f"\n== {r.n:,} users: {_seed_line(r)}", text_table(PAGE_HEADERS, page_rows(r))]
    if r.throughput:
        parts += ["", text_table(THROUGHPUT_HEADERS, throughput_rows(r))]
    if r.load or r.load_note:
        parts += ["", text_table(LOAD_HEADERS, load_rows(r)) if r.load else f"load: {r.load_note}"]
    if r.plans:
        flagged = {
            k: sorted({s for p in plans for s in p.seq_scans}) for k, plans in r.plans.items()
        }
        flagged = {k: v for k, v in flagged.items() if v}
        parts.append(
            "EXPLAIN: "
            + (
                "; ".join(f"{k}: Seq Scan on {', '.join(v)}" for k, v in flagged.items())
                or "index scans only"
            )
        )
    return "\n".join(parts)


def summary_text(results, info: dict[str, str]) -> str:
    lines = [
        "",
        f"== Summary ({info['versions']}; {info['machine']}; "
        f"load average {info['load']} at the start, {info.get('load_end', '?')} at the end)",
        text_table(SUMMARY_HEADERS, summary_rows(results)),
        "",
        "Targets:",
    ]
    lines += [f"  {'ok  ' if ok else 'MISS'} {text}" for ok, text in targets(results)]
    lines += [f"Load test at {r.n:,} users: {r.load_note}" for r in results if r.load_note]
    beyond = beyond_targets(results)
    if beyond:
        lines += ["", "Other Users page views over 2x the floor (other rows than the floor's):"]
        lines += [f"  {text}" for text in beyond]
    return "\n".join(lines)


# --- markdown ----------------------------------------------------------------

HEADER = """# Benchmark results

Generated by `make bench` (see README, "Performance"). Each database has its own
section below, rewritten by the next run on that database; text outside the
generated sections is kept.

- (a) Admin > Users, as a tenant admin; (b) Django's admin user changelist
  (`/django-admin/accounts/user/`, 50 per page), as a superuser; (c) the floor: the
  same 50 rows rendered in the same base template from data already in memory.
- (c+) the floor again, with the Admin menu's count of what waits for an admin
  left in (one query on every admin page): "menu count ms" is (c+) minus (c).
- Times are server-side: the request through the full middleware stack (Django's
  test client, production settings with DEBUG off), in one process, pages timed
  round-robin. Queries include the session and user lookups.
- The EXPLAIN ANALYZE plans (PostgreSQL) go to results-detail.md beside this file,
  which is not committed: run the bench to see them.
"""


DETAIL_HEADER = """# Benchmark results: detail

Written by `make bench` beside results.md, not committed: the EXPLAIN ANALYZE plan
of each query the Users page runs (PostgreSQL only), for the run described in the
section of the same database in results.md.
"""


def _run_lines(info: dict[str, str]) -> list[str]:
    return [
        f"- Date: {info['date']}; wall time {info.get('wall', '?')}",
        f"- Load average (1/5/15 min): {info['load']} at the start, "
        f"{info.get('load_end', '?')} at the end",
        f"- Machine: {info['machine']}",
        f"- Versions: {info['versions']}",
        f"- Command: `{info['command']}`",
    ]


def markdown_section(results, info: dict[str, str], *, vendor: str, detail: str) -> str:
    """The section of results.md; `detail` names the file with the plans."""
    title = VENDOR_TITLE.get(vendor, vendor)
    out = [
        f"## {title}",
        "",
        *_run_lines(info),
        "",
        "### Summary",
        "",
        md_table(SUMMARY_HEADERS, summary_rows(results)),
        "",
        "### Targets",
        "",
    ]
    out += [f"- {'✅' if ok else '❌'} {text}" for ok, text in targets(results)]
    beyond = beyond_targets(results)
    if beyond:
        out += [
            "",
            "Other Users page views over 2x the floor. The floor target is the first page, "
            "whose rows the floor renders; these show other rows, so the ratio is not "
            "like-for-like, but here they are:",
            "",
        ]
        out += [f"- {text}" for text in beyond]
    for r in results:
        out += [
            "",
            f"### {r.n:,} users",
            "",
            _seed_line(r) + ".",
            "",
            md_table(PAGE_HEADERS, page_rows(r)),
        ]
        if r.throughput:
            out += ["", "Transitions (deactivate, then activate again, the same profiles):", ""]
            out.append(md_table(THROUGHPUT_HEADERS, throughput_rows(r)))
        if r.load:
            secs = r.load[0].seconds
            conns = r.load[0].connections
            out += [
                "",
                f"Under load: gunicorn (2 workers), wrk ({conns} connections, {secs} s a page):",
                "",
            ]
            out.append(md_table(LOAD_HEADERS, load_rows(r)))
        elif r.load_note:
            out += ["", f"Under load: {r.load_note}."]
        if r.plans:
            out += ["", f"{_plans_verdict(r)} The plans: {detail}."]
    return "\n".join(out) + "\n"


def _plans_verdict(r) -> str:
    """One line: which tables some query read by a sequential scan, on which views."""
    views_by_table: dict[str, list[str]] = {}
    for key, plans in r.plans.items():
        for p in plans:
            for table in p.seq_scans:
                views = views_by_table.setdefault(table, [])
                if key not in views:
                    views.append(key)
    return "EXPLAIN ANALYZE of the Users page's queries: " + (
        "sequential scans of "
        + "; ".join(f"{t} ({', '.join(v)})" for t, v in views_by_table.items())
        + "."
        if views_by_table
        else "no sequential scan of the user or profile tables."
    )


def detail_section(results, info: dict[str, str], *, vendor: str) -> str | None:
    """The section of results-detail.md: every plan, by size (None: no plans taken)."""
    sized = [r for r in results if r.plans]
    if not sized:
        return None
    out = [f"## {VENDOR_TITLE.get(vendor, vendor)}", "", *_run_lines(info)]
    for r in sized:
        out += ["", f"### {r.n:,} users", "", _plans_verdict(r), "", _plans_markdown(r)]
    return "\n".join(out) + "\n"


def _plans_markdown(r) -> str:
    out = []
    for key, plans in r.plans.items():
        label = r.timings[key].page.label
        for p in plans:
            if "django_session" in p.sql or re.search(r'WHERE "accounts_user"\."id" = \d+', p.sql):
                continue  # the session and the logged-in user, by primary key
            sql = re.sub(r"^SELECT (?!COUNT).{200,}? FROM ", "SELECT … FROM ", p.sql)
            out += [f"**{label}**", "", "```sql", sql, "```", "```", p.plan, "```", ""]
    return "\n".join(out).rstrip("\n")


def detail_path(path: Path) -> Path:
    """results.md → results-detail.md (git-ignored), next to it."""
    return path.with_name(f"{path.stem}-detail{path.suffix}")


def write_markdown(path: Path, results, info: dict[str, str], *, vendor: str) -> list[Path]:
    """Write this database's section of `path` and, when there are plans, of its
    detail file; return the files written."""
    detail = detail_path(path)
    summary = markdown_section(results, info, vendor=vendor, detail=detail.name)
    _write_section(path, HEADER, summary, vendor=vendor)
    written = [path]
    plans = detail_section(results, info, vendor=vendor)
    if plans:
        _write_section(detail, DETAIL_HEADER, plans, vendor=vendor)
        written.append(detail)
    return written


def _write_section(path: Path, header: str, body: str, *, vendor: str) -> None:
    begin, end = f"<!-- bench:{vendor}:begin -->", f"<!-- bench:{vendor}:end -->"
    section = f"{begin}\n{body}{end}"
    text = path.read_text() if path.exists() else header
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
