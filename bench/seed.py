"""Seed one tenant of N users with a realistic mix, fast enough for 100,000 users.

Everything goes in with ``bulk_create`` in batches inside one transaction. Nobody
logs in with a password here (the bench uses sessions), so every user gets the
same precomputed hash: hashing 100,000 passwords would take minutes, not seconds.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.models import Plan, Tenant, User
from billing.models import STATUS_RANK, Method, PaymentProfile, PendingChange, State

BATCH = 2000

FIRST = [
    "Ada",
    "Alan",
    "Anna",
    "Ben",
    "Carla",
    "Chen",
    "Dan",
    "Eva",
    "Farah",
    "Frank",
    "Grace",
    "Hana",
    "Ivan",
    "Jade",
    "Jon",
    "Kai",
    "Lena",
    "Liam",
    "Maya",
    "Mei",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Paula",
    "Priya",
    "Quinn",
    "Raj",
    "Rosa",
    "Sam",
    "Sara",
    "Tariq",
    "Tom",
    "Uma",
    "Vera",
    "Wei",
    "Xena",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Abbott",
    "Baker",
    "Chen",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Lopez",
    "Martin",
    "Meyer",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Petrov",
    "Quist",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Tanaka",
    "Torres",
    "Ueda",
    "Varga",
    "Wagner",
    "Walsh",
    "Weber",
    "Xu",
    "Young",
    "Zhang",
    "Zimmer",
]

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

# Active profiles whose owner saved new details that wait for an admin's review.
PENDING_CHANGE_SHARE = 0.02

ADMIN_EMAIL = "admin@bench.example"
OPERATOR_EMAIL = "operator@bench.example"
MEMBER_EMAIL = "member@bench.example"


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
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step
    first_page_emails: list[str] = field(default_factory=list)  # filled by bench.run


def _pick(rng: random.Random, weighted: tuple) -> object:
    x = rng.random()
    for value, *_, share in weighted:
        x -= share
        if x < 0:
            return value
    return None


def seed(n: int, *, logs: int | None = None, rng_seed: int = 5) -> Seeded:
    """One tenant with ``n`` users (the three named ones included) and ``logs``
    StateLog rows (default: a few thousand, at most one per profile)."""
    started = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = time.perf_counter() - started - sum(phases.values())

    rng = random.Random(rng_seed)
    now = timezone.now()
    password = make_password("bench-not-a-login-password")
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name="Bench Corp", slug="bench", require_payment_profile=True
        )
        plans = Plan.objects.bulk_create(
            Plan(tenant=tenant, name=name, kind=kind) for name, kind, _ in PLANS
        )
        plan_mix = tuple((plan, share) for plan, (*_, share) in zip(plans, PLANS, strict=True))
        bundle = plans[3]

        def user(i: int, **fields) -> User:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            values = {
                "email": f"{first}.{last}.{i}@bench.example".lower(),
                "name": f"{first} {last}",
                "tenant": tenant,
                "password": password,
                "terms_accepted_at": now - timedelta(days=rng.randint(1, 900)),
                "date_joined": now - timedelta(days=rng.randint(1, 1000)),
                "plan": _pick(rng, plan_mix),
            }
            values.update(fields)
            return User(**values)

        named = [
            user(0, email=ADMIN_EMAIL, name="Bench Admin", is_tenant_admin=True, plan=bundle),
            user(
                0,
                email=OPERATOR_EMAIL,
                name="Bench Operator",
                is_staff=True,
                is_superuser=True,
                plan=None,
            ),
            user(0, email=MEMBER_EMAIL, name="Bench Member", plan=plans[0]),
        ]
        # A few more tenant admins, as a big tenant would have.
        rest = [user(i, is_tenant_admin=(i % 997 == 0)) for i in range(1, n - len(named) + 1)]
        lap("build users")
        users = User.objects.bulk_create([*named, *rest], batch_size=BATCH)
        lap("insert users")

        profiles = []
        for u in users:
            if u.email == MEMBER_EMAIL:
                state = State.ACTIVE
            elif u.plan is not None and u.plan.is_paid_subscription:
                state = _pick(rng, PAID_STATES)
            elif u.plan is not None and rng.random() < 0.05:
                state = State.PENDING  # a bundle user who saved details anyway
            else:
                state = None
            # Every user has a profile row (bulk_create skips the signal that makes it).
            if state is None:
                profiles.append(PaymentProfile(user=u))
            else:
                profiles.append(_profile(rng, u, state, now))
        lap("build profiles")
        # A few active profiles with a change waiting for review (seeded before the
        # profiles, which point at them), so the page's join and filters meet some.
        changed = [
            profile
            for profile in profiles
            if profile.state == State.ACTIVE
            and profile.user.email != MEMBER_EMAIL
            and rng.random() < PENDING_CHANGE_SHARE
        ]
        changes = PendingChange.objects.bulk_create(
            [_pending_change(rng, profile.user, now) for profile in changed], batch_size=BATCH
        )
        for profile, change in zip(changed, changes, strict=True):
            profile.pending_change = change
        lap("pending changes")
        for profile in profiles:  # what PaymentProfile.save() keeps (bulk_create skips it)
            profile.tenant_id = profile.user.tenant_id
            profile.status_rank = STATUS_RANK[profile.status]
        profiles = PaymentProfile.objects.bulk_create(profiles, batch_size=BATCH)
        lap("insert profiles")

        if logs is None:
            logs = min(5000, max(1000, n // 20), n)
        ct = ContentType.objects.get_for_model(PaymentProfile)
        admin = users[0]
        entries = []
        saved = [profile for profile in profiles if profile.state != State.NONE]
        for profile in rng.sample(saved, min(logs, len(saved))):
            entries.append(
                StateLog(
                    timestamp=profile.state_changed_at,
                    by=profile.user if profile.state == State.PENDING else admin,
                    source_state=State.PENDING if profile.state != State.PENDING else State.NONE,
                    state=profile.state,
                    transition={
                        State.PENDING: "submit",
                        State.ACTIVE: "activate",
                        State.INACTIVE: "deactivate",
                    }[profile.state],
                    content_type=ct,
                    object_id=profile.pk,
                    description="Seeded by the bench",
                )
            )
        StateLog.objects.bulk_create(entries, batch_size=BATCH)
    lap("logs, commit")
    if connection.vendor == "postgresql":
        # What autovacuum would have done by the time anyone opens the page.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    lap("analyze")
    seconds = time.perf_counter() - started
    return Seeded(
        n_users=len(users),
        n_profiles=len(profiles),
        n_logs=len(entries),
        seconds=seconds,
        n_changes=len(changes),
        tenant=tenant,
        admin=users[0],
        operator=users[1],
        member=users[2],
        phases=phases,
    )


def _profile(rng: random.Random, user: User, state: str, now) -> PaymentProfile:
    changed = now - timedelta(minutes=rng.randint(1, 60 * 24 * 400))
    fields = {
        "user": user,
        "state": state,
        "submitted_at": changed,
        "state_changed_at": changed,
        "activated_at": changed if state == State.ACTIVE else None,
        "deactivated_at": changed if state == State.INACTIVE else None,
    }
    if rng.random() < 0.6:
        fields.update(
            method=Method.CREDIT_CARD,
            cardholder_name=user.name,
            card_brand=rng.choice(("Visa", "Mastercard", "American Express")),
            card_last4=f"{rng.randint(0, 9999):04d}",
            card_exp_month=rng.randint(1, 12),
            card_exp_year=rng.randint(2026, 2032),
            card_token=f"tok_bench_{user.pk}",
        )
    else:
        fields.update(
            method=Method.INVOICE,
            company_name=f"{user.name.split()[-1]} Holdings",
            billing_contact=user.name,
            billing_email=f"ap+{user.pk}@bench.example",
            address=f"{rng.randint(1, 999)} Main Street",
            city="Springfield",
            region="IL",
            postal_code=f"{rng.randint(10000, 99999)}",
            country="United States",
        )
    return PaymentProfile(**fields)


def _pending_change(rng: random.Random, user: User, now) -> PendingChange:
    """New card details an owner saved for review."""
    return PendingChange(
        submitted_at=now - timedelta(minutes=rng.randint(1, 60 * 24 * 14)),
        method=Method.CREDIT_CARD,
        cardholder_name=user.name,
        card_brand=rng.choice(("Visa", "Mastercard", "American Express")),
        card_last4=f"{rng.randint(0, 9999):04d}",
        card_exp_month=rng.randint(1, 12),
        card_exp_year=rng.randint(2027, 2033),
        card_token=f"tok_bench_change_{rng.getrandbits(48):x}",
    )
