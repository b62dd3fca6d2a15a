from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, TextChoices
from django_fsm_log.models import StateLog
from mailer.models import RESULT_FAILURE, RESULT_SUCCESS, Message, MessageLog

from accounts.timezones import tenant_zone
from billing.models import PaymentProfile, ProfileEmail, State


def profile_activators(user) -> list:
    """Whom `user` can ask to activate their payment profile: every active admin of
    their tenant except themselves (no one may activate their own). Empty when
    only a CloudCenter operator can."""
    if not user.tenant_id:
        return []
    return list(
        get_user_model()
        .objects.filter(tenant_id=user.tenant_id, is_tenant_admin=True, is_active=True)
        .exclude(pk=user.pk)
        .order_by("name", "email")
    )


# Every act in a profile's log, as the history page and the owner's timeline name it.
ACT_LABELS = {
    "submit": "Saved for activation",
    "activate": "Activated",
    "decline": "Declined",
    "deactivate": "Deactivated",
    "change_submit": "Change submitted",
    "change_approve": "Change approved",
    "change_decline": "Change declined",
    "change_withdraw": "Change withdrawn",
    "change_drop": "Change dropped",
    "remind": "Admins reminded",
    "expire": "Deactivated: card expired",
    "setup_reminder": "Reminded to set up a profile",
    "card_warning": "Reminded: card expiring",
    "remove_card": "Deactivated: card removed",
    "card_update": "Card updated",
    "card_detach": "Card removed",
    "card_setup_fail": "Card not confirmed",
    "sso_signup": "Added at a first SSO sign-in",
    "sso_link": "First signed in through SSO",
}
# The acts only the system does (the scheduled jobs): logged with no one as `by`, and
# shown as done by "the system".
SYSTEM_ACTS = frozenset({"expire", "setup_reminder", "card_warning"})
# The acts that the payment processor's events bring (billing/webhooks.py): logged
# with no one as `by` too, and shown as done by "the payment processor".
PROCESSOR_ACTS = frozenset({"remove_card", "card_update", "card_detach", "card_setup_fail"})


def label_entries(entries: list[StateLog]) -> list[StateLog]:
    """Gives each entry `act_label`, `by_system`, `by_processor`, `who` (the actor's name
    or e-mail, "the system", "the payment processor", or ""), `source_label` and
    `target_label` (the states' names as the Users page shows them: a decline leads
    to "Declined") without the per-row
    content-type lookups of ``StateLog.get_state_display``. Load `by` with them."""
    labels = dict(State.choices)
    for entry in entries:
        entry.act_label = ACT_LABELS.get(entry.transition, entry.transition)
        entry.by_system = entry.by_id is None and entry.transition in SYSTEM_ACTS
        entry.by_processor = entry.by_id is None and entry.transition in PROCESSOR_ACTS
        if entry.by_id:
            entry.who = entry.by.name or entry.by.email
        elif entry.by_system:
            entry.who = "the system"
        else:
            entry.who = "the payment processor" if entry.by_processor else ""
        entry.source_label = labels.get(entry.source_state, entry.source_state or "")
        entry.target_label = (
            "Declined" if entry.transition == "decline" else labels.get(entry.state, entry.state)
        )
    return entries


def profile_log(profile: PaymentProfile) -> QuerySet[StateLog]:
    """The profile's log (served by the index on content type, object, time, id)."""
    return StateLog.objects.for_(profile).select_related("by")


def profile_history_entries(profile: PaymentProfile, *, limit: int | None = None) -> list[StateLog]:
    """The latest `limit` (or all: the API's history) logged acts on the profile,
    newest first, labelled."""
    entries = profile_log(profile).order_by("-timestamp", "-pk")
    return label_entries(list(entries[:limit] if limit else entries))


# --- Pages by key -------------------------------------------------------------------
#
# The history page and the activity log list StateLog newest first, a page at a time,
# by key: each page starts after the (timestamp, id) of the last row shown, so a page
# costs the same however deep it is (no OFFSET), and rows logged meanwhile neither
# repeat nor go missing. The id breaks ties between equal timestamps.

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?\d{1,17})\.(\d{1,19})", re.ASCII)


@dataclass(frozen=True)
class Cursor:
    """A row's place in the list, in a link as ``<microseconds since 1970>.<id>``."""

    timestamp: datetime
    pk: int

    @classmethod
    def of(cls, entry) -> Cursor:
        return cls(entry.timestamp, entry.pk)

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor a link carries, or None for anything that is not one."""
        match = _CURSOR.fullmatch(text)
        if not match:
            return None
        try:
            moment = EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError:  # before year 1 or after 9999
            return None
        pk = int(match[2])
        return cls(moment, pk) if pk <= 2**63 - 1 else None

    def __str__(self) -> str:
        return f"{(self.timestamp - EPOCH) // timedelta(microseconds=1)}.{self.pk}"


def _older_than(cursor: Cursor) -> Q:
    # timestamp <= t first: an index range on the time, then the tie on the id.
    return Q(timestamp__lte=cursor.timestamp) & (
        Q(timestamp__lt=cursor.timestamp) | Q(pk__lt=cursor.pk)
    )


def _newer_than(cursor: Cursor) -> Q:
    return Q(timestamp__gte=cursor.timestamp) & (
        Q(timestamp__gt=cursor.timestamp) | Q(pk__gt=cursor.pk)
    )


@dataclass
class KeyPage:
    """One page of a list by key: its rows (newest first), and the cursors of the
    "Newer" (``?after=``) and "Older" (``?before=``) links, None where there is none."""

    rows: list
    newer: Cursor | None
    older: Cursor | None


def _first(entries: QuerySet[StateLog], count: int) -> list[StateLog]:
    """The first `count` of `entries` in their order, with who did each and, as
    `bulk_id`, the bulk act each was part of (None for most: ``BulkActionItem.log``),
    in two queries: their ids (from an index where one covers the filter and the
    order, so sorting many rows sorts only their keys), then those rows by primary key
    (not through the filter again, which the database may serve by a wider index)."""
    ids = list(entries.values_list("pk", flat=True)[:count])
    found = (
        StateLog.objects.select_related("by").annotate(bulk_id=F("bulk_item__bulk_id")).in_bulk(ids)
    )
    return [found[pk] for pk in ids]


def key_page(
    entries: QuerySet, *, size: int, before: Cursor | None = None, after: Cursor | None = None
) -> KeyPage:
    """The page of `entries` (StateLog, any filter) just older than `before`, just
    newer than `after`, or the newest. At most three queries: the page (one more row,
    to know whether there is another page that way; ``_first``) and whether there is
    one the other way. A cursor past either end gives the newest page."""
    newest_first = entries.order_by("-timestamp", "-pk")
    if after is not None:
        rows = _first(entries.filter(_newer_than(after)).order_by("timestamp", "pk"), size + 1)
        if len(rows) > size:
            rows = rows[:size][::-1]
            older = Cursor.of(rows[-1])
            has_older = newest_first.filter(_older_than(older)).exists()
            return KeyPage(rows, newer=Cursor.of(rows[0]), older=older if has_older else None)
        # Fewer than a page is newer: that is the newest page, shown as such.
    elif before is not None:
        rows = _first(newest_first.filter(_older_than(before)), size + 1)
        if rows:
            newer = Cursor.of(rows[0])
            has_newer = entries.filter(_newer_than(newer)).exists()
            return KeyPage(
                rows[:size],
                newer=newer if has_newer else None,
                older=Cursor.of(rows[size - 1]) if len(rows) > size else None,
            )
    rows = _first(newest_first, size + 1)
    return KeyPage(
        rows[:size], newer=None, older=Cursor.of(rows[size - 1]) if len(rows) > size else None
    )


# --- The tenant's activity log ------------------------------------------------------

ACTIVITY_PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 50


def _owner(field: str) -> Subquery:
    return Subquery(PaymentProfile.objects.filter(pk=OuterRef("object_id")).values(field)[:1])


def tenant_activity(
    tenant,
    *,
    act: str = "",
    user: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[StateLog]:
    """Every logged act on the payment profiles of `tenant`'s users, unordered, each
    with its actor (``by``); their owners come from ``add_owners`` (a page) or
    ``with_owners`` (every row).

    Scoped by the tenant's profile ids as a subquery (never another tenant's row),
    served by the index on (content type, object, time, id) for a small tenant and
    by the one on (time, id) for a large one. Filters: `act` (an ACT_LABELS key,
    trusted: ``ActivityFilterForm`` cleans it), `user` (part of the name or e-mail of
    the profile's owner or of who acted), `since`/`until` (days in the tenant's
    zone, both included).
    """
    profiles = PaymentProfile.objects.filter(user__tenant=tenant)
    entries = StateLog.objects.filter(
        content_type=ContentType.objects.get_for_model(PaymentProfile),
        object_id__in=profiles.values("pk"),
    )
    if act:
        entries = entries.filter(transition=act)
    if user:
        people = get_user_model().objects.filter(Q(name__icontains=user) | Q(email__icontains=user))
        entries = entries.filter(
            Q(object_id__in=profiles.filter(user__in=people.filter(tenant=tenant)).values("pk"))
            | Q(by__in=people.filter(Q(tenant=tenant) | Q(tenant__isnull=True)))
        )
    zone = tenant_zone(tenant)
    if since:
        entries = entries.filter(timestamp__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until:
        day_after = until + timedelta(days=1)
        entries = entries.filter(timestamp__lt=datetime.combine(day_after, time.min, tzinfo=zone))
    return entries.select_related("by")


def with_owners(entries: QuerySet[StateLog]) -> QuerySet[StateLog]:
    """`entries` with their profile's owner (``owner_id``, ``owner_name``,
    ``owner_email``) read in the same query: for the CSV, which reads every row."""
    return entries.annotate(
        owner_id=_owner("user_id"),
        owner_name=_owner("user__name"),
        owner_email=_owner("user__email"),
    )


def add_owners(entries: list[StateLog]) -> list[StateLog]:
    """Gives a page of entries their profile's owner, in one query for the page (on
    a page, sorting every matching row with the owner looked up for each costs more:
    the database would look it up before it sorts)."""
    owners = {
        profile_id: (user_id, name, email)
        for profile_id, user_id, name, email in PaymentProfile.objects.filter(
            pk__in={entry.object_id for entry in entries}
        ).values_list("pk", "user_id", "user__name", "user__email")
    }
    for entry in entries:
        entry.owner_id, entry.owner_name, entry.owner_email = owners[entry.object_id]
    return entries


# --- E-mails about a profile --------------------------------------------------------

EMAILS_SHOWN = 20


class Delivery(TextChoices):
    QUEUED = "queued", "Queued"
    DEFERRED = "deferred", "Deferred"
    DELIVERED = "delivered", "Delivered"
    # Out of the queue with no delivery record: mail is retried until delivered, so
    # it was delivered and its record purged (``manage.py purge_mail_log``), unless an
    # operator deleted it from the queue (/django-admin/). Which one, nothing tells.
    GONE = "gone", "Left the queue"


def email_status(emails: list[ProfileEmail]) -> list[ProfileEmail]:
    """Gives each e-mail its `delivery` (a Delivery), `delivered_at`, `failures` and
    `last_attempt_at`, from django-mailer's queue and log: two queries for any number.

    MessageLog.message_id has no index; its `when_added` has one, so the log is read
    by the exact times the messages were queued, then matched on the Message-ID."""
    if not emails:
        return emails
    waiting = set(
        Message.objects.filter(pk__in={e.message_pk for e in emails}).values_list("pk", flat=True)
    )
    logs = MessageLog.objects.filter(
        when_added__in={e.queued_at for e in emails},
        message_id__in={e.message_id for e in emails},
    ).values_list("message_id", "when_added", "result", "when_attempted")
    delivered, failures = {}, {}
    for message_id, when_added, result, attempted in logs:
        key = (message_id, when_added)
        if result == RESULT_SUCCESS:
            delivered[key] = attempted
        elif result == RESULT_FAILURE:
            count, last = failures.get(key, (0, attempted))
            failures[key] = (count + 1, max(last, attempted))
    for email in emails:
        key = (email.message_id, email.queued_at)
        email.delivered_at = delivered.get(key)
        email.failures, email.last_attempt_at = failures.get(key, (0, None))
        if email.delivered_at:
            email.delivery = Delivery.DELIVERED
        elif email.message_pk in waiting:
            email.delivery = Delivery.DEFERRED if email.failures else Delivery.QUEUED
        else:
            email.delivery = Delivery.GONE
    return emails


def profile_emails(profile: PaymentProfile, *, limit: int = EMAILS_SHOWN) -> tuple[list, int]:
    """The latest `limit` e-mails about the profile with their delivery status, and
    how many there are in all."""
    emails = profile.emails.order_by("-queued_at", "-pk")
    return email_status(list(emails[:limit])), emails.count()
