"""The app's scheduled work: reminders that keep requests from rotting, and cards
that expire.

Each job looks at the database as it is now and does what is due; none keeps state
of its own or remembers when it last ran. What a job sends is recorded as a
``Reminder`` row (unique per kind, tenant or profile, and occasion) in the same
transaction as the queued e-mail, so:

- several workers on one PostgreSQL send each occasion once: the second insert of
  the same key waits for the first transaction and then fails, and its mail rolls
  back with it;
- running a job more often sends nothing more, and a worker that was down catches
  up with what is due now, once (the key is the day or the threshold, not the run).

The mail worker runs every job every JOBS_INTERVAL seconds (``manage.py
mail_worker``); ``manage.py run_jobs`` runs them once, for cron. See README, "Mail
and scheduled jobs".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Tenant, User
from accounts.timezones import tenant_zone
from billing import notifications
from billing.bulk import run_bulk_actions
from billing.models import Method, PaymentProfile, Reminder, State
from billing.services import (
    CARD_WARNING,
    SETUP_REMINDER,
    _log,
    payment_profile_expire,
)
from billing.standing import (
    card_ends_by_q,
    card_in_use_q,
    profile_needed_q,
    user_needs_profile,
)

logger = logging.getLogger(__name__)

# A user held at the gate without a payment profile is reminded this many days
# after their account was created, and no more.
SETUP_REMINDER_DAYS = (1, 3, 7)
# A card's owner is warned this many days before it stops being good.
CARD_WARNING_DAYS = (30, 7)


def _record(**fields) -> bool:
    """Write the Reminder that says an occasion was sent, inside the caller's
    transaction; False when it already exists (another worker won)."""
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction goes on
            Reminder.objects.create(**fields)
    except IntegrityError:
        return False
    return True


# --- Digest of what waits for the admins -------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A profile awaiting activation or a change awaiting approval, in a digest."""

    user: User
    what: str
    since: datetime
    waited: timedelta
    link: str

    @property
    def waited_words(self) -> str:
        days, hours = self.waited.days, self.waited.seconds // 3600
        parts = []
        if days:
            parts.append(f"{days} day{'s' if days != 1 else ''}")
        if hours or not days:
            parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
        return " ".join(parts)


def waiting_longer_than_threshold(tenant: Tenant, now: datetime) -> list[Waiting]:
    """What of the tenant's has waited for an admin longer than its digest threshold,
    oldest first (one query)."""
    cutoff = now - timedelta(hours=tenant.pending_digest_after_hours)
    profiles = (
        PaymentProfile.objects.filter(user__tenant=tenant, user__is_active=True)
        .filter(
            Q(state=State.PENDING, submitted_at__lte=cutoff)
            | Q(pending_change__submitted_at__lte=cutoff)
        )
        .select_related("user", "pending_change")
    )
    items = []
    for profile in profiles:
        if profile.state == State.PENDING:
            what, since = "Payment profile awaiting activation", profile.submitted_at
        else:
            what, since = "Change awaiting approval", profile.pending_change.submitted_at
        link = notifications.user_row_link(profile.user)
        items.append(Waiting(profile.user, what, since, now - since, link))
    return sorted(items, key=lambda item: (item.since, item.user.pk))


def send_pending_digest(tenant: Tenant, now: datetime) -> int:
    """Today's digest for the tenant's admins (its date in the tenant's zone), if
    anything waits longer than the threshold and it was not sent yet. Each admin
    gets what they may act on (not their own profile). Returns e-mails queued."""
    day = now.astimezone(tenant_zone(tenant)).date().isoformat()
    digest = {"kind": Reminder.Kind.PENDING_DIGEST, "tenant": tenant, "key": day}
    if Reminder.objects.filter(**digest).exists():
        return 0
    items = waiting_longer_than_threshold(tenant, now)
    admins = User.objects.filter(tenant=tenant, is_tenant_admin=True, is_active=True)
    mail = [(admin, [i for i in items if i.user.pk != admin.pk]) for admin in admins]
    mail = [(admin, theirs) for admin, theirs in mail if theirs]
    if not mail:
        return 0  # nothing waits: nothing sent, nothing recorded
    with transaction.atomic():
        if not _record(**digest, sent_at=now):
            return 0
        for admin, theirs in mail:
            notifications.pending_digest(admin, theirs)
    logger.info("jobs: pending digest for tenant %s sent to %s admin(s)", tenant.pk, len(mail))
    return len(mail)


def send_pending_digests(now: datetime) -> int:
    return _each(Tenant.objects.filter(pending_digest=True), lambda t: send_pending_digest(t, now))


# --- Users who never set up a profile ----------------------------------------------


def send_setup_reminder(profile: PaymentProfile, now: datetime) -> int:
    """Remind a user held at the gate without a profile, once per day of
    SETUP_REMINDER_DAYS that has come since their account was created. A worker
    that was down sends one e-mail (the latest day due) and records the days it
    missed with it."""
    age = now - profile.user.date_joined
    due = [day for day in SETUP_REMINDER_DAYS if age >= timedelta(days=day)]
    with transaction.atomic():
        profile = (
            PaymentProfile.objects.select_for_update(of=("self",))
            .select_related("user__tenant", "user__plan")
            .get(pk=profile.pk)
        )
        if profile.state != State.NONE or not user_needs_profile(profile.user):
            return 0
        sent = set(
            Reminder.objects.filter(kind=Reminder.Kind.SETUP, profile=profile).values_list(
                "key", flat=True
            )
        )
        missing = [day for day in due if str(day) not in sent]
        if not missing:
            return 0
        for day in missing:
            if not _record(kind=Reminder.Kind.SETUP, profile=profile, key=str(day), sent_at=now):
                transaction.set_rollback(True)  # another worker is sending it
                return 0
        notifications.setup_reminder(profile, days=missing[-1])
        _log(
            profile,
            by=None,
            act=SETUP_REMINDER,
            description=f"No payment profile {missing[-1]} day{'s' if missing[-1] != 1 else ''} "
            "after the account was created: reminder e-mailed",
        )
    logger.info("jobs: set-up reminder (day %s) for profile %s", missing[-1], profile.pk)
    return 1


def send_setup_reminders(now: datetime) -> int:
    last_sent = Reminder.objects.filter(
        kind=Reminder.Kind.SETUP, profile=OuterRef("pk"), key=str(SETUP_REMINDER_DAYS[-1])
    )
    held = (
        PaymentProfile.objects.filter(
            profile_needed_q(),
            state=State.NONE,
            user__is_active=True,
            user__tenant__setup_reminders=True,
            user__date_joined__lte=now - timedelta(days=SETUP_REMINDER_DAYS[0]),
        )
        .exclude(Exists(last_sent))
        .select_related("user")
        .order_by("pk")
    )
    return _each(held, lambda profile: send_setup_reminder(profile, now))


# --- Cards that expire ---------------------------------------------------------------


def send_card_warning(profile: PaymentProfile, now: datetime) -> int:
    """Warn the owner CARD_WARNING_DAYS before their card stops being good, once
    each (per card expiry month). A worker that was down sends the nearest warning
    due and records the earlier one with it. Not while a waiting change can pay
    beyond this card (the owner already saved a new card)."""
    with transaction.atomic():
        profile = (
            PaymentProfile.objects.select_for_update(of=("self",))
            .select_related("user__tenant", "pending_change")
            .get(pk=profile.pk)
        )
        if profile.state not in (State.ACTIVE, State.PENDING):
            return 0
        tz = tenant_zone(profile.user.tenant)
        expires = profile.card_expires_at(tz)
        if expires is None or now >= expires:
            return 0
        change = profile.pending_change
        if change is not None and change.pays_at(expires, tz):
            return 0
        month = f"{profile.card_exp_year:04d}-{profile.card_exp_month:02d}"
        due = [days for days in CARD_WARNING_DAYS if now >= expires - timedelta(days=days)]
        sent = set(
            Reminder.objects.filter(
                kind=Reminder.Kind.CARD_EXPIRING, profile=profile, key__startswith=f"{month}:"
            ).values_list("key", flat=True)
        )
        missing = [days for days in due if f"{month}:{days}" not in sent]
        if not missing:
            return 0
        for days in missing:
            key = f"{month}:{days}"
            if not _record(kind=Reminder.Kind.CARD_EXPIRING, profile=profile, key=key, sent_at=now):
                transaction.set_rollback(True)
                return 0
        left = (expires - now).days
        notifications.card_expiring(profile, expires_at=expires, days=left)
        _log(
            profile,
            by=None,
            act=CARD_WARNING,
            description=f"{profile.card_brand} ending in {profile.card_last4} expires "
            f"{profile.card_expiry}: owner e-mailed ({missing[-1]} days before)",
        )
    logger.info("jobs: card warning (%s days) for profile %s", missing[-1], profile.pk)
    return 1


def send_card_warnings(now: datetime) -> int:
    # Months that can be within CARD_WARNING_DAYS of now in any zone (±14 hours).
    # Cards that end within CARD_WARNING_DAYS and have not ended, in any zone
    # (a day of margin either side); send_card_warning decides in the tenant's.
    cards = (
        PaymentProfile.objects.filter(card_in_use_q())
        .filter(card_ends_by_q(now + timedelta(days=max(CARD_WARNING_DAYS) + 1), tz=UTC))
        .exclude(card_ends_by_q(now - timedelta(days=1), tz=UTC))
        .order_by("pk")
    )
    return _each(cards, lambda profile: send_card_warning(profile, now))


def expire_cards(now: datetime) -> int:
    """Deactivate the active card profiles whose card expired more than their
    tenant's grace period ago (billing.services.payment_profile_expire decides,
    under the row's lock)."""
    # Ended in any zone: by a day from now (payment_profile_expire decides in the
    # tenant's zone).
    expired = (
        PaymentProfile.objects.filter(state=State.ACTIVE, method=Method.CREDIT_CARD)
        .filter(card_ends_by_q(now + timedelta(days=1), tz=UTC))
        .select_related("user")
        .order_by("pk")
    )
    return _each(
        expired, lambda profile: int(payment_profile_expire(user=profile.user, now=now) is not None)
    )


# --- Running them ----------------------------------------------------------------------


def _each(items: Iterable, act: Callable[[object], int]) -> int:
    """Run `act` on each item; one that fails is logged and skipped, not allowed to
    hold back the ones after it (the next run tries it again)."""
    done = 0
    for item in items:
        try:
            done += act(item)
        except Exception:
            logger.exception("jobs: %r failed; the next run tries again", item)
    return done


JOBS: dict[str, Callable[[datetime], int]] = {
    "pending_digest": send_pending_digests,
    "setup_reminders": send_setup_reminders,
    "card_warnings": send_card_warnings,
    "card_expiry": expire_cards,
    # The bulk actions too large for a request (the mail worker runs them every
    # round, not only every JOBS_INTERVAL; this is for cron and by hand).
    "bulk_actions": run_bulk_actions,
}


def run_jobs(names: Iterable[str] | None = None, *, now: datetime | None = None) -> dict[str, int]:
    """Run the jobs named (all by default) once; how many e-mails or deactivations each made."""
    now = now or timezone.now()
    done = {}
    for name in names or JOBS:
        try:
            done[name] = JOBS[name](now)
        except Exception:  # a database hiccup: the next run tries again
            logger.exception("jobs: %s failed; the next run tries again", name)
            done[name] = 0
    return done
