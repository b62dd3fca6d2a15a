"""Seed tenants of N users with a realistic mix, fast enough for 1,000,000 users.

The rows are built in Python as plain tuples (the mix below, drawn from one seeded
``random.Random``, so every run seeds the same tenant) and loaded the fastest way
each database has: PostgreSQL ``COPY … FROM STDIN``, SQLite ``executemany`` in big
batches with the journal off (the bench's own throwaway file). Model instances and
``bulk_create`` cost about 4x more per row; at a million users that is minutes.

Ids are given explicitly (after the largest one in the table), so profiles, changes
and log rows can point at users without reading them back; PostgreSQL's identity
sequences are moved past them at the end. Columns the seed does not set take their
model default, so a field added to a model later does not break the bench.

Nobody logs in with a password here (the bench uses sessions), so every user gets
the same precomputed hash: hashing a million passwords would take hours.
"""

from __future__ import annotations

import io
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django_fsm_log.models import StateLog

from accounts.models import Plan, Tenant, User
from billing.models import Method, PaymentProfile, PendingChange, State

BATCH = 20_000

FIRST = [
    "Ada", "Alan", "Anna", "Ben", "Carla", "Chen", "Dan", "Eva", "Farah", "Frank",
    "Grace", "Hana", "Ivan", "Jade", "Jon", "Kai", "Lena", "Liam", "Maya", "Mei",
    "Nina", "Noah", "Olga", "Omar", "Paula", "Priya", "Quinn", "Raj", "Rosa", "Sam",
    "Sara", "Tariq", "Tom", "Uma", "Vera", "Wei", "Xena", "Yara", "Yusuf", "Zoe",
]  # fmt: skip
LAST = [
    "Abbott", "Baker", "Chen", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad",
    "Ito", "Jensen", "Kim", "Kowalski", "Lopez", "Martin", "Meyer", "Nakamura", "Novak",
    "Okafor", "Olsen", "Patel", "Petrov", "Quist", "Rossi", "Santos", "Schmidt", "Silva",
    "Singh", "Smith", "Tanaka", "Torres", "Ueda", "Varga", "Wagner", "Walsh", "Weber",
    "Xu", "Young", "Zhang", "Zimmer",
]  # fmt: skip

# A search term that many users match (a surname: about 1 in 40) and one that one
# user matches (the rare one is an e-mail address, picked by bench.run).
COMMON_TERM = "smith"

# (name, kind, share of users)
PLANS = (
    ("Cloud Pro", Plan.Kind.SUBSCRIPTION, 0.40),
    ("Cloud Team", Plan.Kind.SUBSCRIPTION, 0.20),
    ("Cloud Enterprise", Plan.Kind.SUBSCRIPTION, 0.10),
    ("Starter Bundle", Plan.Kind.BUNDLE, 0.15),
    ("Compute Bundle", Plan.Kind.BUNDLE, 0.05),
)  # the remaining 10 %: no plan

# Users on a paid plan: which state their profile is in. None = never saved one.
PAID_STATES = (
    (None, 0.12),
    (State.PENDING, 0.10),
    (State.ACTIVE, 0.68),
    (State.INACTIVE, 0.10),
)
# Inactive profiles that an admin declined (rather than deactivated).
DECLINED_SHARE = 0.2

# Active profiles whose owner saved new details that wait for an admin's review.
PENDING_CHANGE_SHARE = 0.02

# Two profiles whose history pages the bench compares (issue 12: within 2x).
LONG_HISTORY = 10_000
SHORT_HISTORY = 10

ADMIN_EMAIL = "admin@bench.example"
OPERATOR_EMAIL = "operator@bench.example"
MEMBER_EMAIL = "member@bench.example"
LONG_HISTORY_EMAIL = "long.history@bench.example"
SHORT_HISTORY_EMAIL = "short.history@bench.example"

EPOCH = datetime(1970, 1, 1)


@dataclass
class Seeded:
    n_users: int
    n_profiles: int
    n_logs: int
    seconds: float
    n_changes: int
    tenant: Tenant
    admin: User  # tenant admin on a bundle: sees the Users page, never held at the gate
    operator: User  # superuser for Django's admin; same tenant, so it lists the same users
    member: User  # user on a paid plan with an active profile, for the Account page
    long_history: User | None = None  # a profile with LONG_HISTORY log rows
    short_history: User | None = None  # one with SHORT_HISTORY
    long_history_entries: int = 0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step
    first_page_emails: list[str] = field(default_factory=list)  # filled by bench.run


def _pick(rng: random.Random, weighted: tuple) -> object:
    x = rng.random()
    for value, *_, share in weighted:
        x -= share
        if x < 0:
            return value
    return None


class _Laps:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        spent = time.perf_counter() - self.started - sum(self.phases.values())
        self.phases[name] = self.phases.get(name, 0.0) + spent


def seed(
    n: int,
    *,
    rng_seed: int = 5,
    slug: str = "bench",
    history: bool = True,
    long_history: int = LONG_HISTORY,
) -> Seeded:
    """One tenant with ``n`` users (the named ones included), every user with a
    profile row, a log row for every saved profile, and (``history``) two profiles
    with long and short histories for the history page."""
    laps = _Laps()
    with _fast_writes(), transaction.atomic():
        tenant = Tenant.objects.create(
            name=f"{slug.title()} Corp", slug=slug, require_payment_profile=True
        )
        counts = _seed_users(
            tenant, n, random.Random(rng_seed), laps, named=True, history=history,
            long_history=long_history,
        )  # fmt: skip
    _analyze()
    laps("analyze")
    users = {
        u.email: u
        for u in User.objects.filter(
            email__in=[
                ADMIN_EMAIL,
                OPERATOR_EMAIL,
                MEMBER_EMAIL,
                LONG_HISTORY_EMAIL,
                SHORT_HISTORY_EMAIL,
            ]
        ).select_related("tenant", "plan", "payment_profile")
    }
    return Seeded(
        n_users=counts["users"],
        n_profiles=counts["profiles"],
        n_logs=counts["logs"],
        n_changes=counts["changes"],
        seconds=time.perf_counter() - laps.started,
        tenant=tenant,
        admin=users[ADMIN_EMAIL],
        operator=users[OPERATOR_EMAIL],
        member=users[MEMBER_EMAIL],
        long_history=users.get(LONG_HISTORY_EMAIL),
        long_history_entries=long_history if history else 0,
        short_history=users.get(SHORT_HISTORY_EMAIL),
        phases=laps.phases,
    )


def seed_others(total: int, *, tenants: int = 10, rng_seed: int = 11) -> tuple[float, dict]:
    """``total`` users spread over ``tenants`` other tenants, same mix; (seconds, phases)."""
    laps = _Laps()
    rng = random.Random(rng_seed)
    with _fast_writes(), transaction.atomic():
        for i in range(tenants):
            tenant = Tenant.objects.create(
                name=f"Other {i}", slug=f"other-{i}", require_payment_profile=True
            )
            share = total // tenants + (1 if i < total % tenants else 0)
            _seed_users(tenant, share, rng, laps, named=False, history=False)
    _analyze()
    laps("analyze")
    return time.perf_counter() - laps.started, laps.phases


def _seed_users(
    tenant: Tenant,
    n: int,
    rng: random.Random,
    laps: _Laps,
    *,
    named: bool,
    history: bool,
    long_history: int = LONG_HISTORY,
) -> dict[str, int]:
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, formatted per database below
    ts = _timestamp_formatter()
    password = make_password("bench-not-a-login-password")
    plans = Plan.objects.bulk_create(
        Plan(tenant=tenant, name=name, kind=kind) for name, kind, _ in PLANS
    )
    plan_mix = tuple((plan, share) for plan, (*_, share) in zip(plans, PLANS, strict=True))
    paid = {plan.pk for plan in plans if plan.is_paid_subscription}
    bundle = plans[3]
    laps("plans")

    # --- users ---
    user_cols = (
        "id", "email", "name", "tenant_id", "password", "terms_accepted_at", "date_joined",
        "plan_id", "is_tenant_admin", "is_staff", "is_superuser", "is_active",
    )  # fmt: skip
    next_user = _next_id(User)
    users: list[tuple] = []
    special: dict[str, int] = {}

    def add_user(email: str, name: str, plan: Plan | None, admin=False, staff=False) -> int:
        uid = next_user + len(users)
        users.append(
            (
                uid, email, name, tenant.pk, password,
                ts(now - timedelta(days=rng.randint(1, 900))),
                ts(now - timedelta(days=rng.randint(1, 1000))),
                plan.pk if plan else None, admin, staff, staff, True,
            )
        )  # fmt: skip
        return uid

    if named:
        special[ADMIN_EMAIL] = add_user(ADMIN_EMAIL, "Bench Admin", bundle, admin=True)
        special[OPERATOR_EMAIL] = add_user(OPERATOR_EMAIL, "Bench Operator", None, staff=True)
        special[MEMBER_EMAIL] = add_user(MEMBER_EMAIL, "Bench Member", plans[0])
        if history:
            special[LONG_HISTORY_EMAIL] = add_user(LONG_HISTORY_EMAIL, "Long History", plans[0])
            special[SHORT_HISTORY_EMAIL] = add_user(SHORT_HISTORY_EMAIL, "Short History", plans[0])
    prefix = "" if named else f"{tenant.slug}."
    for i in range(1, n - len(users) + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        add_user(
            f"{prefix}{first}.{last}.{i}@bench.example".lower(),
            f"{first} {last}",
            _pick(rng, plan_mix),
            admin=(i % 997 == 0),  # a few more tenant admins, as a big tenant would have
        )
    laps("build users")
    _load(User, *_with_plan_names(user_cols, users, plans))
    laps("insert users")

    # --- profiles (every user has one), pending changes, log rows ---
    profile_cols = (
        "id", "user_id", "state", "submitted_at", "state_changed_at", "activated_at",
        "deactivated_at", "declined_at", "state_changed_by_id", "pending_change_id",
        "method", "cardholder_name", "card_brand", "card_last4", "card_exp_month",
        "card_exp_year", "stripe_payment_method_id", "company_name", "billing_contact",
        "billing_email", "address", "city", "region", "postal_code", "country", "created_at",
        "updated_at",
    )  # fmt: skip
    change_cols = (
        "id", "submitted_at", "method", "cardholder_name", "card_brand", "card_last4",
        "card_exp_month", "card_exp_year", "stripe_payment_method_id",
    )  # fmt: skip
    log_cols = (
        "id", "timestamp", "by_id", "source_state", "state", "transition",
        "content_type_id", "object_id", "description",
    )  # fmt: skip
    next_profile, next_change, next_log = (
        _next_id(PaymentProfile),
        _next_id(PendingChange),
        _next_id(StateLog),
    )
    ct = ContentType.objects.get_for_model(PaymentProfile).pk
    admin_id = special.get(ADMIN_EMAIL) or users[0][0]
    profiles, changes, logs = [], [], []
    created = ts(now - timedelta(days=1000))
    for u in users:
        uid, email, name, plan_id = u[0], u[1], u[2], u[7]
        pid = next_profile + len(profiles)
        if email in (MEMBER_EMAIL, LONG_HISTORY_EMAIL, SHORT_HISTORY_EMAIL):
            state = State.ACTIVE
        elif plan_id in paid:
            state = _pick(rng, PAID_STATES)
        elif plan_id is not None and rng.random() < 0.05:
            state = State.PENDING  # a bundle user who saved details anyway
        else:
            state = None
        if state is None:
            profiles.append(
                (pid, uid, State.NONE, None, None, None, None, None, None, None)
                + ("",) * 4 + (None, None) + ("",) * 9 + (created, created)
            )  # fmt: skip
            continue
        changed_dt = now - timedelta(minutes=rng.randint(1, 60 * 24 * 400))
        changed = ts(changed_dt)
        declined = state == State.INACTIVE and rng.random() < DECLINED_SHARE
        by = uid if state == State.PENDING else admin_id
        change_id = None
        if state == State.ACTIVE and email not in special and rng.random() < PENDING_CHANGE_SHARE:
            change_id = next_change + len(changes)
            changes.append(
                (
                    change_id,
                    ts(now - timedelta(minutes=rng.randint(1, 60 * 24 * 14))),
                    Method.CREDIT_CARD, name,
                    rng.choice(("Visa", "Mastercard", "American Express")),
                    f"{rng.randint(0, 9999):04d}", rng.randint(1, 12), rng.randint(2027, 2033),
                    f"pm_bench_change_{change_id}",
                )
            )  # fmt: skip
        if rng.random() < 0.6:
            details = (
                Method.CREDIT_CARD, name,
                rng.choice(("Visa", "Mastercard", "American Express")),
                f"{rng.randint(0, 9999):04d}", rng.randint(1, 12), rng.randint(2026, 2032),
                f"pm_bench_{uid}",
            ) + ("",) * 8  # fmt: skip
        else:
            details = ((Method.INVOICE,) + ("",) * 3 + (None, None, "") + (
                f"{name.split()[-1]} Holdings", name, f"ap+{uid}@bench.example",
                f"{rng.randint(1, 999)} Main Street", "Springfield", "IL",
                f"{rng.randint(10000, 99999)}", "US",
            ))  # fmt: skip
        profiles.append(
            (
                pid, uid, state, changed, changed,
                changed if state == State.ACTIVE else None,
                changed if state == State.INACTIVE and not declined else None,
                changed if declined else None,
                by, change_id, *details, created, changed,
            )
        )  # fmt: skip
        transition = {
            State.PENDING: "submit",
            State.ACTIVE: "activate",
            State.INACTIVE: "decline" if declined else "deactivate",
        }[state]
        logs.append(
            (
                next_log + len(logs), changed, by,
                State.NONE if state == State.PENDING else State.PENDING,
                state, transition, ct, pid, "Seeded by the bench",
            )
        )  # fmt: skip
        if email in (LONG_HISTORY_EMAIL, SHORT_HISTORY_EMAIL):
            count = long_history if email == LONG_HISTORY_EMAIL else SHORT_HISTORY
            logs += _history(next_log + len(logs), count, pid, uid, admin_id, ct, changed_dt, ts)
    laps("build profiles")
    profile_cols, profiles = _with_sort_keys(profile_cols, profiles, tenant.pk, users, paid)
    _load(PendingChange, change_cols, changes)
    _load(PaymentProfile, profile_cols, profiles)
    laps("insert profiles")
    _load(StateLog, log_cols, logs)
    laps("insert logs")
    return {
        "users": len(users),
        "profiles": len(profiles),
        "changes": len(changes),
        "logs": len(logs),
    }


def _with_plan_names(cols: tuple, rows: list[tuple], plans) -> tuple[tuple, list[tuple]]:
    """The copy of the plan's name ``User.save()`` keeps for the Users page's sort by
    plan, when the model has it (bulk loading skips ``save()``)."""
    if "plan_name" not in {f.attname for f in User._meta.concrete_fields}:
        return cols, rows
    names = {plan.pk: plan.name for plan in plans}
    i_plan = cols.index("plan_id")
    return (*cols, "plan_name"), [(*r, names.get(r[i_plan], "")) for r in rows]


def _with_sort_keys(cols: tuple, rows: list[tuple], tenant_id: int, users, paid: set):
    """The copies ``PaymentProfile.save()`` keeps for the Users page (the owner's
    tenant, the rank of its status, whether its owner is held at the gate), when
    the model has them; bulk loading skips ``save()``, so the seed writes them as
    it would."""
    names = {f.attname for f in PaymentProfile._meta.concrete_fields}
    if not {"tenant_id", "status_rank"} <= names:
        return cols, rows
    from billing.models import STATUS_RANK, Status

    needs = {u[0]: u[7] in paid for u in users}  # the tenant requires profiles
    i_state, i_declined, i_change = (
        cols.index("state"),
        cols.index("declined_at"),
        cols.index("pending_change_id"),
    )

    def rank(row: tuple) -> int:
        state = row[i_state]
        if state == State.NONE:
            status = Status.NONE if needs[row[1]] else Status.NOT_REQUIRED
        elif state == State.PENDING:
            status = Status.PENDING
        elif state == State.ACTIVE:
            status = Status.CHANGE_PENDING if row[i_change] else Status.ACTIVE
        else:
            status = Status.DECLINED if row[i_declined] else Status.INACTIVE
        return STATUS_RANK[status]

    if "held" not in names:
        return (*cols, "tenant_id", "status_rank"), [(*r, tenant_id, rank(r)) for r in rows]

    def held(row: tuple) -> bool:
        return needs[row[1]] and row[i_state] != State.ACTIVE

    return (*cols, "tenant_id", "status_rank", "held"), [
        (*r, tenant_id, rank(r), held(r)) for r in rows
    ]


def _history(first_id, count, pid, uid, admin_id, ct, before, ts) -> list[tuple]:
    """``count`` older acts on one profile, alternating deactivate / activate, one an hour
    (a scanner's saves, issue 12), ending in the profile's current active state."""
    rows = []
    for k in range(count):
        when = ts(before - timedelta(hours=k + 1))
        deact = k % 2 == 1  # newest first: activate, the deactivate before it, ...
        rows.append(
            (
                first_id + k, when, admin_id,
                State.ACTIVE if deact else State.INACTIVE,
                State.INACTIVE if deact else State.ACTIVE,
                "deactivate" if deact else "activate",
                ct, pid, "Seeded by the bench (history)",
            )
        )  # fmt: skip
    return rows


# --- loading ---------------------------------------------------------------------


def _timestamp_formatter():
    """Naive UTC datetime -> what each database stores for a DateTimeField."""
    if connection.vendor == "postgresql":
        return lambda dt: f"{dt.isoformat(' ')}+00:00"
    return lambda dt: dt.isoformat(" ")  # Django's SQLite format (naive UTC)


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1


def _defaults(model: type[models.Model], columns: tuple[str, ...]) -> tuple[list[str], tuple]:
    """Columns the seed leaves out that cannot be NULL, with their model default."""
    extra_cols, extra_vals = [], []
    now = datetime.now(UTC)
    for f in model._meta.concrete_fields:
        if f.attname in columns or f.null or f.primary_key:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        else:
            value = f.get_default()
        extra_cols.append(f.column)
        extra_vals.append(f.get_db_prep_save(value, connection))
    return extra_cols, tuple(extra_vals)


def _load(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    table = model._meta.db_table
    by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
    extra_cols, extra_vals = _defaults(model, columns)
    cols = [by_attname[c] for c in columns] + extra_cols
    quoted = ", ".join(connection.ops.quote_name(c) for c in cols)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for start in range(0, len(rows), 100_000):
                buf = io.StringIO()
                write = buf.write
                tail = "\t".join(_copy_text(v) for v in extra_vals)
                for row in rows[start : start + 100_000]:
                    line = "\t".join(_copy_text(v) for v in row)
                    write(f"{line}\t{tail}\n" if extra_vals else f"{line}\n")
                buf.seek(0)
                cursor.cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN", buf)
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM {table}))",
                [table],
            )
        else:
            marks = ", ".join(["%s"] * len(cols))
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                cursor.executemany(sql, [r + extra_vals for r in batch] if extra_vals else batch)


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


class _fast_writes:
    """For the throwaway bench database only: no journal or synchronous commit while
    seeding, and the connection's own settings back afterwards. Back as they were,
    not as a default: an in-memory SQLite database (the test suite's) keeps journal
    mode OFF when asked for DELETE, and without a journal ROLLBACK does nothing, so
    every later test's rows would stay."""

    def __enter__(self):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA journal_mode")
                self.journal_mode = cursor.fetchone()[0]
                cursor.execute("PRAGMA synchronous")
                self.synchronous = cursor.fetchone()[0]
                cursor.execute("PRAGMA journal_mode=OFF")
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-200000")
            else:
                cursor.execute("SET synchronous_commit = off")
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"PRAGMA journal_mode={self.journal_mode}")
                cursor.execute(f"PRAGMA synchronous={int(self.synchronous)}")
            else:
                cursor.execute("SET synchronous_commit = on")
        return False


def _analyze() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What autovacuum would have done by the time anyone opens the page.
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
