"""Bulk acts: Activate, Deactivate or Decline the payment profiles of many users at once.

A bulk act is the single act (billing.acts.BULK_ACTS), row by row. Each user's
profile goes through the same service as one popup would, in its own transaction,
so a refusal skips that user and undoes nothing else, and two admins at once never
double a transition (the service locks the profile). What each row came to is
written in the same transaction as the act (``BulkActionItem.outcome``), so a row
is done exactly once, even when a worker crashes halfway and another takes the job
over.

Before anything happens, ``bulk_preview`` counts what would change and what would
be skipped and why, in one SQL query however many users are selected. Its reasons
are not a second copy of the rules: they are the act's own refusals (billing.acts:
the admin's own profile, then the kinds of profile its transition does not start
from, then its conditions such as a card that has ended), said in SQL.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, Q, QuerySet, Subquery, Value, When
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.models import User
from billing.acts import (
    BULK_ACTS,
    CHOOSE_BULK_ACT,
    NOT_ALLOWED,
    OWN_PROFILE,
    REFUSED,
    SKIP_LABELS,
    Act,
    kind_q,
    service_of,
)
from billing.models import BulkAction, BulkActionItem, PaymentProfile
from billing.services import PaymentProfileError

logger = logging.getLogger(__name__)

CHANGED = BulkActionItem.CHANGED

# A worker that has not said it is alive for this long has crashed: another one
# takes its job over (and goes on with the rows not done).
CLAIM_TIMEOUT = timedelta(minutes=2)
# Rows read (and the claim renewed) at a time.
CHUNK = 50
# How long the mail worker runs bulk acts in one round before it sends the mail
# they queued (and picks the job up again in the next round).
WORKER_SLICE_SECONDS = 20.0
REASON_MAX = 500


@dataclass(frozen=True)
class Group:
    """Users an act skipped (or would skip) for one reason."""

    code: str
    label: str
    count: int
    users: list[User] = field(default_factory=list)


def _groups(counts: dict[str, int]) -> list[Group]:
    """The skipped groups of `counts` (outcome code -> users), largest first."""
    skipped = [(code, n) for code, n in counts.items() if code not in (CHANGED, "") and n]
    skipped.sort(key=lambda pair: (-pair[1], pair[0]))
    return [Group(code, SKIP_LABELS.get(code, code), n) for code, n in skipped]


def _skipped_words(groups: Iterable[Group]) -> list[str]:
    return [f"{group.count} skipped: {group.label}" for group in groups]


@dataclass(frozen=True)
class BulkPreview:
    """What a bulk act would do to a selection, before anything happens."""

    act: str
    total: int
    will_change: int
    skipped: list[Group]

    @property
    def skipped_total(self) -> int:
        return sum(group.count for group in self.skipped)

    @property
    def summary(self) -> str:
        """ "12 will be activated; 3 skipped: already active; 1 skipped: your own profile"."""
        return "; ".join(
            [f"{self.will_change} {BULK_ACTS[self.act].bulk.will}", *_skipped_words(self.skipped)]
        )


@dataclass(frozen=True)
class BulkResult:
    """What a bulk act did (so far, while it runs)."""

    act: str
    total: int
    done: int
    changed: int
    skipped: list[Group]
    finished: bool

    @property
    def skipped_total(self) -> int:
        return sum(group.count for group in self.skipped)

    @property
    def summary(self) -> str:
        """ "12 activated; 3 skipped: not pending; 1 skipped: your own profile"."""
        words = BULK_ACTS[self.act].bulk
        return "; ".join([f"{self.changed} {words.done}", *_skipped_words(self.skipped)])


# --- Preview -----------------------------------------------------------------------


def _outcome_expression(act: Act, actor: User, now: datetime) -> Case:
    """The outcome of each user's row, as SQL: the code of the refusal the act would
    meet (billing.acts.Act.refusal: the admin's own profile first, then the kinds of
    profile its transition does not start from, then its conditions at `now`, each
    the SQL twin of its Python side), or "changed"."""
    prefix = "payment_profile__"
    whens = [] if actor.is_superuser else [When(pk=actor.pk, then=Value(OWN_PROFILE))]
    whens += [
        When(kind_q(kind, prefix=prefix), then=Value(code))
        for kind, (_sentence, code) in act.refused.items()
    ]
    whens += [
        When(condition.q(actor.tenant, now, prefix), then=Value(condition.code))
        for condition in act.conditions
    ]
    return Case(*whens, default=Value(CHANGED), output_field=CharField())


def bulk_preview(*, actor: User, act: str, users: QuerySet[User]) -> BulkPreview:
    """How many of `users` (a queryset of the actor's tenant: chosen rows, or every
    user matching the Users page's filter) `act` would change, and how many it
    would skip, grouped by reason. One query (a GROUP BY), whatever the number."""
    spec = BULK_ACTS[act]
    rows = (
        users.order_by()
        .annotate(bulk_outcome=_outcome_expression(spec, actor, timezone.now()))
        .values("bulk_outcome")
        .annotate(n=Count("pk"))
    )
    counts = {row["bulk_outcome"]: row["n"] for row in rows}
    return BulkPreview(
        act=act,
        total=sum(counts.values()),
        will_change=counts.get(CHANGED, 0),
        skipped=_groups(counts),
    )


# --- Starting, running, reading a bulk act -------------------------------------------


def _check(*, act: str, reason: str, count: int) -> None:
    if act not in BULK_ACTS:
        raise PaymentProfileError(CHOOSE_BULK_ACT, code="bad_act")
    wanted = BULK_ACTS[act].reason
    if wanted and wanted.required and not reason:
        raise PaymentProfileError(
            "Give a reason: each user reads it to know what to correct.", code="reason_required"
        )
    if len(reason) > REASON_MAX:
        raise PaymentProfileError(
            f"Keep the reason under {REASON_MAX} characters.", code="reason_too_long"
        )
    if count == 0:
        raise PaymentProfileError("Select at least one user.", code="nothing_selected")
    if count > settings.BULK_MAX_USERS:
        raise PaymentProfileError(
            f"{count:,} users are selected; a bulk action takes at most "
            f"{settings.BULK_MAX_USERS:,}. Narrow the search or the status filter.",
            code="too_many",
        )


def _tenant_ids(actor: User, user_ids: Iterable[int] | QuerySet[User]) -> list[int]:
    """The ids among `user_ids` that are users of the actor's tenant, in order, once
    each: a queryset of users in one query; ids in batches (a database takes only so
    many parameters)."""
    if isinstance(user_ids, QuerySet):
        scoped = user_ids.filter(tenant_id=actor.tenant_id).values_list("pk", flat=True)
        return list(scoped[: settings.BULK_MAX_USERS + 1])
    wanted = list(dict.fromkeys(int(pk) for pk in user_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        found.update(
            User.objects.filter(tenant_id=actor.tenant_id, pk__in=batch).values_list(
                "pk", flat=True
            )
        )
    return [pk for pk in wanted if pk in found]


def bulk_start(
    *,
    actor: User,
    act: str,
    user_ids: Iterable[int] | QuerySet[User],
    reason: str = "",
    token: str = "",
    back_url: str = "",
    worker: str = "",
) -> tuple[BulkAction, bool]:
    """Freeze a bulk act: the job and one row per user of the actor's tenant among
    `user_ids` (ids, or a queryset of users; others are left out). Returns (job,
    created): the same `token` from the same actor (a confirmation sent twice) finds
    the job made the first time.
    `worker`: who runs it, when the caller runs it itself (in the request);
    otherwise it waits for the worker. Raises ``PaymentProfileError`` for a request
    that cannot run (no act, no reason to decline, nothing or too much selected)."""
    # Sent before: that job, whatever the selection is by now (an "all pending"
    # selection the first POST activated matches nobody any more).
    existing = BulkAction.objects.filter(actor=actor, token=token).first() if token else None
    if existing is not None:
        return existing, False
    reason = reason.strip()
    ids = _tenant_ids(actor, user_ids)
    _check(act=act, reason=reason, count=len(ids))
    token = token or uuid.uuid4().hex
    try:
        with transaction.atomic():
            bulk = BulkAction.objects.create(
                tenant_id=actor.tenant_id,
                actor=actor,
                act=act,
                reason=reason,
                token=token,
                back_url=back_url,
                total=len(ids),
                claimed_by=worker,
                heartbeat_at=timezone.now() if worker else None,
            )
            BulkActionItem.objects.bulk_create(
                (BulkActionItem(bulk=bulk, user_id=pk) for pk in ids), batch_size=1000
            )
    except IntegrityError:  # the same form, sent twice at once: the other one won
        return BulkAction.objects.get(actor=actor, token=token), False
    logger.info("bulk %s %s: %s users, by user %s", bulk.pk, act, len(ids), actor.pk)
    return bulk, True


def _act_entry(profile: PaymentProfile, act: Act) -> Subquery:
    """The log entry the act just wrote on `profile`: its newest of the act's
    transition, as a subquery of the row's UPDATE (no query of its own). Read in the
    row's transaction, while the service's lock on the profile is still held, so no
    other act on it can have come in between."""
    entries = StateLog.objects.for_(profile).filter(transition=act.transition)
    return Subquery(entries.order_by("-pk").values("pk")[:1])


def _run_row(bulk: BulkAction, act: Act, item: BulkActionItem) -> bool:
    """Run the act on one row in its own transaction, recording its outcome in the
    same one. False if another worker did the row meanwhile (nothing is kept)."""

    class AlreadyDone(Exception):
        pass

    try:
        with transaction.atomic():
            decision = act.decision()
            kwargs = {"reason": bulk.reason} if "reason" in decision.takes else {}
            log_id = None
            try:
                profile = service_of(decision)(actor=bulk.actor, user=item.user, **kwargs)
            except PaymentProfileError as error:
                outcome = error.code or REFUSED
            else:
                outcome = CHANGED
                log_id = _act_entry(profile, act)
            done = BulkActionItem.objects.filter(pk=item.pk, outcome="")
            if not done.update(outcome=outcome, log_id=log_id):
                raise AlreadyDone
    except AlreadyDone:
        return False
    return True


def _still_mine(bulk: BulkAction, worker: str) -> bool:
    """Renew the claim; False when another worker took the job over meanwhile."""
    return bool(
        BulkAction.objects.filter(pk=bulk.pk, claimed_by=worker, finished_at=None).update(
            heartbeat_at=timezone.now()
        )
    )


def bulk_process(bulk: BulkAction, *, worker: str, seconds: float | None = None) -> bool:
    """Run the rows of `bulk` not done yet, `worker` holding its claim, for at most
    about `seconds` (None: to the end). True when the job is finished."""
    act = BULK_ACTS[bulk.act]
    if bulk.started_at is None:
        BulkAction.objects.filter(pk=bulk.pk, started_at=None).update(started_at=timezone.now())
    if bulk.actor is None:  # the admin was deleted meanwhile: nobody may act for them
        bulk.items.filter(outcome="").update(outcome=NOT_ALLOWED)
    until = None if seconds is None else time.monotonic() + seconds
    while True:
        chunk = list(bulk.items.filter(outcome="").select_related("user").order_by("pk")[:CHUNK])
        if not chunk:
            break
        for item in chunk:
            _run_row(bulk, act, item)
        if not _still_mine(bulk, worker):
            return False
        if until is not None and time.monotonic() >= until:
            BulkAction.objects.filter(pk=bulk.pk, claimed_by=worker).update(claimed_by="")
            return False
    counts = _outcome_counts(bulk)
    BulkAction.objects.filter(pk=bulk.pk, finished_at=None).update(
        finished_at=timezone.now(),
        claimed_by="",
        changed=counts.get(CHANGED, 0),
        skipped=sum(n for code, n in counts.items() if code not in (CHANGED, "")),
    )
    logger.info("bulk %s finished: %s", bulk.pk, counts)
    return True


def _outcome_counts(bulk: BulkAction) -> dict[str, int]:
    rows = bulk.items.order_by().values("outcome").annotate(n=Count("pk"))
    return {row["outcome"]: row["n"] for row in rows}


def bulk_result(bulk: BulkAction, *, listed: int = 0) -> BulkResult:
    """What `bulk` did so far: one query for the counts, and with `listed`, one
    more per skipped group for its first `listed` users by name."""
    counts = _outcome_counts(bulk)
    groups = _groups(counts)
    if listed:
        groups = [
            Group(
                group.code,
                group.label,
                group.count,
                [
                    item.user
                    for item in bulk.items.filter(outcome=group.code)
                    .select_related("user")
                    .order_by("user__name", "user__email", "pk")[:listed]
                ],
            )
            for group in groups
        ]
    done = sum(n for code, n in counts.items() if code)
    return BulkResult(
        act=bulk.act,
        total=bulk.total,
        done=done,
        changed=counts.get(CHANGED, 0),
        skipped=groups,
        finished=bulk.finished_at is not None,
    )


def bulk_claim(bulk: BulkAction, *, worker: str) -> bool:
    """Take `bulk` to run it: True for exactly one of any number of workers asking at
    once (a conditional UPDATE: on PostgreSQL the others wait for its row and then
    find it taken). A job whose worker has not renewed its claim for CLAIM_TIMEOUT
    (it crashed) may be taken over."""
    now = timezone.now()
    return bool(
        BulkAction.objects.filter(pk=bulk.pk, finished_at=None)
        .filter(Q(claimed_by="") | Q(heartbeat_at__lt=now - CLAIM_TIMEOUT))
        .update(claimed_by=worker, heartbeat_at=now)
    )


def run_bulk_actions(now=None, *, seconds: float = WORKER_SLICE_SECONDS) -> int:
    """The worker's part: run the waiting bulk acts, oldest first, for about
    `seconds`; how many rows it did. (`now` is there for billing.jobs.run_jobs.)"""
    worker = uuid.uuid4().hex
    until = time.monotonic() + seconds
    rows = 0
    waiting = BulkAction.objects.filter(finished_at=None).order_by("created_at", "pk")
    for bulk in waiting.select_related("actor")[:20]:
        left = until - time.monotonic()
        if left <= 0 and rows:
            break
        if not bulk_claim(bulk, worker=worker):
            continue
        before = bulk.items.exclude(outcome="").count()
        bulk_process(bulk, worker=worker, seconds=max(left, 0))
        rows += bulk.items.exclude(outcome="").count() - before
    return rows
