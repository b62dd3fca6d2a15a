"""Transitions per second: deactivate then re-activate the same profiles, through the
services and then through the views (POST, as the Users page's popups do).

Starting from active profiles and ending active again leaves the tenant as seeded.
Each transition is the real thing: row lock, permission check, log row, queued mail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.test import Client
from django.urls import reverse

from accounts.models import User
from billing.models import PaymentProfile, State
from billing.services import payment_profile_activate, payment_profile_deactivate


@dataclass
class Throughput:
    path: str  # "services" or "views"
    profiles: int
    deactivate_per_s: float
    activate_per_s: float
    problem: str = ""

    @property
    def per_s(self) -> float:
        """Both directions together: transitions per second."""
        if not self.deactivate_per_s or not self.activate_per_s:
            return 0.0
        return 2 / (1 / self.deactivate_per_s + 1 / self.activate_per_s)


def _targets(admin: User, count: int) -> list[User]:
    profiles = (
        PaymentProfile.objects.filter(user__tenant_id=admin.tenant_id, state=State.ACTIVE)
        .exclude(user=admin)
        .select_related("user__tenant", "user__plan")
        .order_by("pk")[:count]
    )
    return [p.user for p in profiles]


def _states(users: list[User]) -> set[str]:
    return set(
        PaymentProfile.objects.filter(user__in=[u.pk for u in users]).values_list(
            "state", flat=True
        )
    )


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def through_services(admin: User, count: int) -> Throughput:
    users = _targets(admin, count)
    t0 = time.perf_counter()
    for user in users:
        payment_profile_deactivate(actor=admin, user=user, reason="Bench")
    t1 = time.perf_counter()
    after_deactivate = _states(users)
    t2 = time.perf_counter()
    for user in users:
        payment_profile_activate(actor=admin, user=user)
    t3 = time.perf_counter()
    problem = _problem(after_deactivate, _states(users))
    return Throughput(
        "services", len(users), _rate(len(users), t1 - t0), _rate(len(users), t3 - t2), problem
    )


def through_views(admin: User, count: int) -> Throughput:
    client = Client()
    client.force_login(admin, backend="accounts.backends.EmailBackend")
    users = _targets(admin, count)
    statuses: set[int] = set()
    t0 = time.perf_counter()
    for user in users:
        url = reverse("billing:profile_deactivate", args=[user.pk])
        statuses.add(client.post(url, {"reason": "Bench"}).status_code)
    t1 = time.perf_counter()
    after_deactivate = _states(users)
    t2 = time.perf_counter()
    for user in users:
        url = reverse("billing:profile_activate", args=[user.pk])
        statuses.add(client.post(url, {}).status_code)
    t3 = time.perf_counter()
    problem = _problem(after_deactivate, _states(users))
    if statuses != {302}:
        problem = f"responses {sorted(statuses)} (expected only 302) {problem}".strip()
    return Throughput(
        "views", len(users), _rate(len(users), t1 - t0), _rate(len(users), t3 - t2), problem
    )


def _problem(after_deactivate: set[str], after_activate: set[str]) -> str:
    """The states read back from the database after each half."""
    problems = []
    if after_deactivate != {State.INACTIVE}:
        problems.append(f"after deactivating: {sorted(after_deactivate)}")
    if after_activate != {State.ACTIVE}:
        problems.append(f"after activating: {sorted(after_activate)}")
    return "; ".join(problems)
