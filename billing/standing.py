"""A payment profile's standing: the one home of the rules every reader asks.

- **Needs a profile**: the owner's tenant requires profiles and the owner is on a
  paid subscription plan (bundles only, or no plan: never).
- **Held**: the owner needs a profile and it is not active (they wait at the gate).
- **Status**: what the pages call the profile (``Status``), and its **rank**, its
  place in the Users page's workflow order (``STATUS_ORDER``).
- **Card ends by** a moment, and **card expiring**: an active or pending card
  profile whose card stops being good within ``CARD_EXPIRING_WITHIN``; **card ended
  past grace**: it stopped more than the tenant's grace period ago.

Each rule is written twice, side by side: as a database expression (a ``Q`` or a
``Case`` over a profile's columns and its owner's, for filters and for the copies
the Users page reads from its indexes) and as its Python twin (over the same
columns, for a profile in hand or rows read as plain values).
``tests/billing/test_standing.py`` holds each pair together over every combination
of plan, tenant setting, state, decline, pending change and expiry.

The copies on ``PaymentProfile`` (``status_rank``, ``held``) are written from here:
by ``PaymentProfile.save()`` with the Python twins, and by
``ProfileQuerySet.refresh_sort_keys()`` with the expressions. Every reader (the
Users page, its CSV, the API) reads the status from the copy.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from django.db import models
from django.db.models import Case, Q, Value, When

from accounts.models import Plan, User


class State(models.TextChoices):
    """The states of the payment profile's state machine (billing.models)."""

    NONE = "none", "Not set up"
    PENDING = "pending", "Pending activation"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Method(models.TextChoices):
    CREDIT_CARD = "credit_card", "Credit Card"
    INVOICE = "invoice", "Invoice"


class Status(models.TextChoices):
    """A profile's standing as the pages name it: its state, told apart where an
    admin or the user needs more (declined or deactivated; a change waiting;
    needed or not)."""

    NOT_REQUIRED = "not_required", "Not required"
    NONE = "none", "Not set up"
    PENDING = "pending", "Pending activation"
    ACTIVE = "active", "Active"
    CHANGE_PENDING = "change_pending", "Active · change pending"
    DECLINED = "declined", "Declined"
    INACTIVE = "inactive", "Inactive"


# The Users page's status sort, in workflow order: first what waits for an admin
# (a profile to activate, then a change to review), then what waits for its owner
# (declined: to correct and resubmit; not set up although needed), then the
# settled (active, then deactivated), and last the profiles outside the workflow
# (not required: the user's plan or tenant needs none).
STATUS_ORDER = (
    Status.PENDING,
    Status.CHANGE_PENDING,
    Status.DECLINED,
    Status.NONE,
    Status.ACTIVE,
    Status.INACTIVE,
    Status.NOT_REQUIRED,
)
STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}
# What waits for an admin: a profile to activate, a change to review.
AWAITING = (Status.PENDING, Status.CHANGE_PENDING)


# --- Needs a profile -------------------------------------------------------------------


def needs_profile(*, required: bool, plan_kind: str | None) -> bool:
    """Whether a user needs a payment profile: `required` is their tenant's setting,
    `plan_kind` their plan's kind (None: no plan)."""
    return bool(required and plan_kind == Plan.Kind.SUBSCRIPTION)


def user_needs_profile(user: User) -> bool:
    """``needs_profile`` of a user in hand (reads their tenant and plan)."""
    if not user.tenant_id:
        return False
    return needs_profile(
        required=user.tenant.require_payment_profile,
        plan_kind=user.plan.kind if user.plan_id else None,
    )


def needs_profile_q() -> Q:
    """``needs_profile`` as a filter on users."""
    return Q(tenant__require_payment_profile=True, plan__kind=Plan.Kind.SUBSCRIPTION)


def profile_needed_q() -> Q:
    """``needs_profile`` of the owner, as a filter on profiles: by subquery, so that
    it also serves in an UPDATE's SET (which cannot join)."""
    return Q(user__in=User.objects.filter(needs_profile_q()).values("pk"))


# --- Held at the gate ----------------------------------------------------------------


def held(*, state: str, needed: bool) -> bool:
    """Whether the owner is held at the gate: they need a profile and it is not active."""
    return needed and state != State.ACTIVE


def held_q() -> Q:
    """``held`` as a filter on profiles."""
    return ~Q(state=State.ACTIVE) & profile_needed_q()


def user_is_held(user) -> bool:
    """``held`` for a (possibly anonymous) user in hand: what the gate asks."""
    return bool(
        user.is_authenticated
        and held(state=user.payment_profile.state, needed=user_needs_profile(user))
    )


# --- Status and its rank ---------------------------------------------------------------


def status_of(*, state: str, declined: bool, change_waiting: bool, needed: bool) -> Status:
    """The status of a profile from its columns: `declined` whether it has a
    ``declined_at``, `change_waiting` a ``pending_change``, `needed` whether its
    owner needs a profile (which matters in state none only)."""
    if state == State.NONE:
        return Status.NONE if needed else Status.NOT_REQUIRED
    if state == State.ACTIVE:
        return Status.CHANGE_PENDING if change_waiting else Status.ACTIVE
    if state == State.INACTIVE:
        return Status.DECLINED if declined else Status.INACTIVE
    return Status.PENDING


def _status_whens(value) -> list[When]:
    """``status_of`` as the branches of a CASE over profiles, each giving
    ``value(status)``; the default is "not required"."""
    return [
        When(state=State.PENDING, then=value(Status.PENDING)),
        When(state=State.ACTIVE, pending_change__isnull=False, then=value(Status.CHANGE_PENDING)),
        When(state=State.ACTIVE, then=value(Status.ACTIVE)),
        When(state=State.INACTIVE, declined_at__isnull=False, then=value(Status.DECLINED)),
        When(state=State.INACTIVE, then=value(Status.INACTIVE)),
        When(profile_needed_q(), then=value(Status.NONE)),
    ]


def status_case() -> Case:
    """``status_of`` as an expression over profiles (the status code)."""
    return Case(
        *_status_whens(Value),
        default=Value(Status.NOT_REQUIRED),
        output_field=models.CharField(),
    )


def rank_case() -> Case:
    """The status's rank (``STATUS_RANK``) as an expression over profiles: what
    ``refresh_sort_keys`` writes into the ``status_rank`` copy."""
    return Case(
        *_status_whens(lambda status: Value(STATUS_RANK[status])),
        default=Value(STATUS_RANK[Status.NOT_REQUIRED]),
        output_field=models.PositiveSmallIntegerField(),
    )


def held_case() -> Case:
    """``held`` as an expression over profiles: what ``refresh_sort_keys`` writes
    into the ``held`` copy."""
    return Case(When(held_q(), then=Value(True)), default=Value(False))


def status_from_rank(rank: int) -> Status:
    """The status a ``status_rank`` copy stands for."""
    return STATUS_ORDER[rank]


# The Users page's status filter (``?status=<key>``), in the order it offers them:
# each status, and the groups "awaiting an admin", "held at the gate" and "card
# expiring". Read from the copies (``status_rank``, ``held``) and the card's expiry,
# each served by a profile index led by the tenant (billing.0007, 0008).
STATUS_FILTERS = {
    "awaiting": "Awaiting an admin",
    "held": "Held at the gate",
    Status.PENDING: Status.PENDING.label,
    Status.CHANGE_PENDING: "Change pending",
    Status.DECLINED: Status.DECLINED.label,
    Status.ACTIVE: Status.ACTIVE.label,
    Status.INACTIVE: "Inactive (deactivated)",
    Status.NONE: Status.NONE.label,
    Status.NOT_REQUIRED: Status.NOT_REQUIRED.label,
    "card_expiring": "Card expiring",
}


def status_filter_q(key: str, *, tz: tzinfo, now: datetime) -> Q:
    """What ``?status=<key>`` keeps (a STATUS_FILTERS key), as a filter on one
    tenant's profiles (`tz` its zone)."""
    if key == "held":
        return Q(held=True)
    if key == "awaiting":
        return Q(status_rank__in=[STATUS_RANK[status] for status in AWAITING])
    if key == "card_expiring":
        return card_expiring_q(tz=tz, now=now)
    return Q(status_rank=STATUS_RANK[Status(key)])


# --- Cards that end --------------------------------------------------------------------

# A card ending within this long is shown as expiring (the banner, the Users page's
# "Card expiring"); its owner is e-mailed before (billing.jobs.CARD_WARNING_DAYS).
CARD_EXPIRING_WITHIN = timedelta(days=30)


def card_expires_at(month: int, year: int, tz: tzinfo) -> datetime:
    """The first moment a card is no longer good: it is good through the last day
    of its expiry month, in `tz` (the zone of the owner's tenant)."""
    if month == 12:
        return datetime(year + 1, 1, 1, tzinfo=tz)
    return datetime(year, month + 1, 1, tzinfo=tz)


def card_ends_by(*, month: int | None, year: int | None, moment: datetime, tz: tzinfo) -> bool:
    """Whether a card of expiry `month`/`year` is no longer good at `moment`
    (False for no card)."""
    if not month or not year:
        return False
    return card_expires_at(month, year, tz) <= moment


def card_ends_by_q(moment: datetime, *, tz: tzinfo, prefix: str = "") -> Q:
    """``card_ends_by`` as a filter on profiles (or, with a prefix, on their users):
    an expiry month before the month `moment` falls in, in `tz`. Said as a year up to
    the moment's (a range an index on (…, year, month) reads), then the month within
    that year."""
    local = moment.astimezone(tz)
    return Q(**{f"{prefix}card_exp_year__lte": local.year}) & (
        Q(**{f"{prefix}card_exp_year__lt": local.year})
        | Q(**{f"{prefix}card_exp_month__lt": local.month})
    )


def card_ended_past_grace(
    *,
    method: str,
    month: int | None,
    year: int | None,
    tz: tzinfo,
    grace_days: int,
    now: datetime,
) -> bool:
    """Whether a card profile's card stopped being good more than `grace_days` (its
    tenant's ``card_grace_days``) before `now`: the system deactivates an active one
    (billing.services.payment_profile_expire), and no admin may activate one
    (billing.acts.ACTIVATE). False for an invoice and for no card."""
    return method == Method.CREDIT_CARD and card_ends_by(
        month=month, year=year, moment=now - timedelta(days=grace_days), tz=tz
    )


def card_ended_past_grace_q(*, tz: tzinfo, grace_days: int, now: datetime, prefix: str = "") -> Q:
    """``card_ended_past_grace`` as a filter on the profiles of one tenant (`tz` its
    zone, `grace_days` its grace period), or with a prefix on its users."""
    return Q(**{f"{prefix}method": Method.CREDIT_CARD}) & card_ends_by_q(
        now - timedelta(days=grace_days), tz=tz, prefix=prefix
    )


# The profiles whose card counts for "expiring": a card in force or waiting for
# activation (an inactive profile's card is no one's concern until it is saved again).
_CARD_IN_USE = (State.ACTIVE, State.PENDING)


def card_expiring(
    *,
    state: str,
    method: str,
    month: int | None,
    year: int | None,
    tz: tzinfo,
    now: datetime,
) -> datetime | None:
    """When the card in force (or waiting) stops being good, if it is a card of an
    active or pending profile that ends within CARD_EXPIRING_WITHIN of `now` or has
    ended; else None. What the banner and the Users page show."""
    if state not in _CARD_IN_USE or method != Method.CREDIT_CARD:
        return None
    if not card_ends_by(month=month, year=year, moment=now + CARD_EXPIRING_WITHIN, tz=tz):
        return None
    return card_expires_at(month, year, tz)


def card_expiring_q(*, tz: tzinfo, now: datetime) -> Q:
    """``card_expiring`` as a filter on profiles of one zone's tenant."""
    return card_in_use_q() & card_ends_by_q(now + CARD_EXPIRING_WITHIN, tz=tz)


def card_in_use_q() -> Q:
    """Card profiles that are active or pending: those whose card can expire."""
    return Q(method=Method.CREDIT_CARD, state__in=_CARD_IN_USE)
