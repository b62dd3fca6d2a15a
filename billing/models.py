from __future__ import annotations

from datetime import datetime, tzinfo

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from accounts.models import User
from billing.standing import (
    CARD_EXPIRING_WITHIN,
    STATUS_ORDER,
    STATUS_RANK,
    Method,
    State,
    Status,
    card_ends_by,
    card_expires_at,
    held,
    held_case,
    rank_case,
    status_from_rank,
    status_of,
    user_needs_profile,
)

__all__ = ["CARD_EXPIRING_WITHIN", "STATUS_ORDER", "STATUS_RANK", "Method", "State", "Status"]


def card_expiry_text(month: int | None, year: int | None) -> str:
    """A card's expiry as shown everywhere: MM/YY ("" for none)."""
    if not month or not year:
        return ""
    return f"{month:02d}/{year % 100:02d}"


def can_administer(profile: PaymentProfile, actor) -> bool:
    """Who may activate or deactivate a profile: an admin of the profile's tenant
    other than its owner (an admin may not activate their own profile), or a
    superuser operating the installation."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    return bool(
        actor.is_tenant_admin
        and actor.tenant_id is not None
        and actor.tenant_id == profile.user.tenant_id
        and actor.pk != profile.user_id
    )


def _is_owner(profile: PaymentProfile, actor) -> bool:
    return actor is not None and actor.pk == profile.user_id


def _nobody(profile: PaymentProfile, actor) -> bool:
    """The system's transitions: no person may run them (the Actions never offer them)."""
    return False


# The reason the system gives when it deactivates a profile whose card expired, or
# whose card the processor says can no longer be charged (it was detached).
CARD_EXPIRED = "Card expired"
CARD_REMOVED = "Card removed at the payment processor"


CARD_FIELDS = (
    "cardholder_name",
    "card_brand",
    "card_last4",
    "card_exp_month",
    "card_exp_year",
    "stripe_payment_method_id",
    "card_updated_at",
)
INVOICE_FIELDS = (
    "company_name",
    "billing_contact",
    "billing_email",
    "address",
    "city",
    "region",
    "postal_code",
    "country",
    "po_number",
    "tax_id",
)
DETAIL_FIELDS = ("method", *INVOICE_FIELDS, *CARD_FIELDS)


class BillingDetails(models.Model):
    """What a user saves on the Payment Information page: a method and its details.
    A profile holds the details in force; a pending change the ones that wait for
    an admin's approval beside them."""

    method = models.CharField(max_length=20, choices=Method.choices, blank=True)

    # Invoice (payment order)
    company_name = models.CharField(max_length=200, blank=True)
    billing_contact = models.CharField(max_length=200, blank=True)
    billing_email = models.EmailField(blank=True)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("State / province", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = CountryField(blank=True)  # ISO 3166 code (billing.0010 mapped the old text)
    po_number = models.CharField("Purchase order number", max_length=100, blank=True)
    # Compact ("DE136695976"), checked for the country (billing.tax_ids); shown formatted.
    tax_id = models.CharField("Tax ID", max_length=50, blank=True)

    # Credit card: never the number or the CVC (they never reach this server), only
    # what the server reads from Stripe (billing.processor): brand, last four, expiry
    # and the PaymentMethod's id. A card saved before cards went through Stripe has
    # its brand, last four and expiry and no PaymentMethod (billing.0009).
    cardholder_name = models.CharField(max_length=200, blank=True)
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    stripe_payment_method_id = models.CharField(
        "Stripe PaymentMethod", max_length=255, blank=True, db_index=True
    )
    # When the card data held here was true at Stripe: when it was read, or the time
    # of the processor's event that changed it. An older event never overwrites it
    # (billing.webhooks).
    card_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def card_expiry(self) -> str:
        return card_expiry_text(self.card_exp_month, self.card_exp_year)

    def details(self) -> dict:
        """The saved details, field by field (what a change compares)."""
        return {field: getattr(self, field) for field in DETAIL_FIELDS}

    def card_expires_at(self, tz: tzinfo) -> datetime | None:
        """When the card stops being good (None: no card)."""
        if self.method != Method.CREDIT_CARD or not self.card_exp_month or not self.card_exp_year:
            return None
        return card_expires_at(self.card_exp_month, self.card_exp_year, tz)

    def pays_at(self, moment: datetime, tz: tzinfo) -> bool:
        """Whether these details can pay at `moment`: an invoice, or a card not ended."""
        if self.method == Method.INVOICE:
            return True
        has_card = self.method == Method.CREDIT_CARD and self.card_exp_month and self.card_exp_year
        return bool(has_card) and not card_ends_by(
            month=self.card_exp_month, year=self.card_exp_year, moment=moment, tz=tz
        )


class PendingChange(BillingDetails):
    """New details the owner of an active profile saved, waiting for an admin's
    approval while the profile stays active on its current details. A profile has
    at most one (``PaymentProfile.pending_change``); a decided, withdrawn or
    replaced change is deleted, and the profile's log keeps what it was."""

    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "pending change"

    def __str__(self) -> str:
        return f"Pending change {self.pk}"


class ProfileQuerySet(models.QuerySet):
    def refresh_sort_keys(self) -> int:
        """Recompute the copies the Users page sorts and filters by (``tenant``,
        ``status_rank``, ``held``) for these profiles from their users, plans and
        tenants, in one UPDATE, with billing.standing's expressions. For changes
        made around the profile rather than to it: a user's plan or tenant, a
        plan's kind, a tenant's requirement (billing.signals)."""
        users = User.objects.filter(pk=models.OuterRef("user_id"))
        return self.update(
            tenant=models.Subquery(users.values("tenant_id")[:1]),
            status_rank=rank_case(),
            held=held_case(),
        )


class PaymentProfile(ConcurrentTransitionMixin, BillingDetails):
    """How a user pays: a credit card (kept as a Stripe PaymentMethod) or invoices.

    Every user has exactly one, from the moment the user is created (in state
    ``none``: see ``billing.signals``), so "not set up" has one shape: a row in
    state ``none``. The state graph lives here; the acts that move along it (with
    their locks, logs and e-mails) are in ``billing.services``. Transition bodies
    only set fields in memory.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_profile"
    )
    state = FSMField(
        default=State.NONE, choices=State.choices, protected=True, db_index=True, max_length=20
    )
    pending_change = models.OneToOneField(
        PendingChange,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="profile",
    )

    submitted_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Set when an admin declined the profile (pending → inactive): "Declined" rather
    # than "Inactive". Cleared when the profile moves on.
    declined_at = models.DateTimeField(null=True, blank=True)
    # Why the profile is inactive: the reason an admin gave for declining or
    # deactivating it (the user reads it on the gate and in the e-mail).
    deactivation_reason = models.TextField(blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The owner's customer at Stripe, made the first time they enter a card
    # (billing.processor.customer_for); their cards are saved to it.
    stripe_customer_id = models.CharField("Stripe customer", max_length=255, blank=True)

    # Copies for the Users page, kept by ``save()`` (and ``refresh_sort_keys()`` for
    # changes around the profile): the owner's tenant, so that every index the page
    # reads leads with the tenant, and the place of ``status`` in STATUS_ORDER. The
    # page's indexes on them are created by billing.0007 (PostgreSQL needs NULLS
    # FIRST on state_changed_at, which SQLite's CREATE INDEX does not take).
    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,  # every index of the page leads with it
    )
    status_rank = models.PositiveSmallIntegerField(
        default=STATUS_RANK[Status.NOT_REQUIRED], editable=False
    )
    # Whether the owner is held at the gate (billing.standing.held: they
    # need a profile and it is not active), for the Users page's "Held at the gate"
    # (billing.0008 indexes it): it depends on the plan's kind and the tenant's
    # setting too, which status_rank does not say outside state none.
    held = models.BooleanField(default=False, db_default=False, editable=False)

    objects = ProfileQuerySet.as_manager()

    class Meta:
        verbose_name = "payment profile"
        # The Users page's "Held at the gate" and "Card expiring", each counted and
        # read from the tenant's own entries (billing.0008); the page's sort indexes
        # are made by billing.0007. The card's: the expiry as a range after the
        # state (billing.standing.card_expiring_q).
        indexes = [
            # Of the held profiles only: SQLite matches a bare `WHERE held` (what the
            # ORM writes for held=True) to an index's WHERE, not to an index column.
            models.Index(
                fields=["tenant", "user"], condition=models.Q(held=True), name="profile_held_idx"
            ),
            models.Index(
                fields=["tenant", "method", "state", "card_exp_year", "card_exp_month", "user"],
                name="profile_list_card_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~models.Q(stripe_customer_id=""),
                name="profile_one_stripe_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment profile of {self.user}"

    def save(self, *args, **kwargs) -> None:
        """Saves the Users page's copies with every save, however few fields it
        names, from billing.standing's Python twins: the status depends on the
        state, the pending change and the decline; being held on the state and
        (read only when not active) the owner's plan and tenant."""
        needed = self.state != State.ACTIVE and user_needs_profile(self.user)
        self.tenant_id = self.user.tenant_id
        self.status_rank = STATUS_RANK[
            status_of(
                state=self.state,
                declined=self.declined_at is not None,
                change_waiting=self.pending_change_id is not None,
                needed=needed,
            )
        ]
        self.held = held(state=self.state, needed=needed)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "tenant", "status_rank", "held"}
        super().save(*args, **kwargs)

    @property
    def card_removed(self) -> bool:
        """Deactivated by the system because the processor removed the card."""
        return self.state == State.INACTIVE and self.deactivation_reason == CARD_REMOVED

    @property
    def is_declined(self) -> bool:
        return self.state == State.INACTIVE and self.declined_at is not None

    @property
    def status(self) -> Status:
        """The standing to show, from its copy (``status_rank``, kept by save() and
        refresh_sort_keys() from billing.standing): no query."""
        return status_from_rank(self.status_rank)

    @property
    def needed(self) -> bool:
        """Whether its owner needs a profile (billing.standing.user_needs_profile)."""
        return user_needs_profile(self.user)

    def _mark(self, by) -> None:
        self.state_changed_at = timezone.now()
        self.state_changed_by = by if getattr(by, "pk", None) else None

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[State.NONE, State.PENDING, State.ACTIVE, State.INACTIVE],
        target=State.PENDING,
        permission=_is_owner,
    )
    def submit(self, by=None, description=None) -> None:
        """The user saved billing details; an admin must (re)activate them."""
        self._mark(by)
        self.submitted_at = self.state_changed_at
        self.declined_at = None

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[State.PENDING, State.INACTIVE],
        target=State.ACTIVE,
        permission=can_administer,
    )
    def activate(self, by=None, description=None) -> None:
        self._mark(by)
        self.activated_at = self.state_changed_at
        self.declined_at = None
        self.deactivation_reason = ""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=State.ACTIVE,
        target=State.INACTIVE,
        permission=can_administer,
    )
    def deactivate(self, by=None, description=None) -> None:
        self._mark(by)
        self.deactivated_at = self.state_changed_at
        self.deactivation_reason = description or ""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=State.ACTIVE, target=State.INACTIVE, permission=_nobody)
    def expire(self, by=None, description=None) -> None:
        """The system deactivates an active card profile whose card expired and whose
        grace period passed (billing.services.payment_profile_expire). No person may:
        logged with no ``by``, and shown as done by the system."""
        self._mark(None)
        self.deactivated_at = self.state_changed_at
        self.deactivation_reason = CARD_EXPIRED

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=State.ACTIVE, target=State.INACTIVE, permission=_nobody)
    def remove_card(self, by=None, description=None) -> None:
        """The system deactivates an active card profile whose card Stripe removed
        (``payment_method.detached``: billing.services.payment_profile_card_removed).
        Like ``expire``: no person may, logged with no ``by``."""
        self._mark(None)
        self.deactivated_at = self.state_changed_at
        self.deactivation_reason = CARD_REMOVED

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=State.PENDING,
        target=State.INACTIVE,
        permission=can_administer,
    )
    def decline(self, by=None, description=None) -> None:
        """An admin sends a pending profile back with a reason; saving corrected
        details submits it again."""
        self._mark(by)
        self.declined_at = self.state_changed_at
        self.deactivation_reason = description or ""


class Reminder(models.Model):
    """A scheduled e-mail that was sent (billing/jobs.py): written in the same
    transaction as the queued mail, and unique per (kind, tenant or profile, key).

    The key names the occasion, not the run: the tenant's date for a digest, the day
    (1, 3, 7) of a set-up reminder, the expiry month and the day before it for a card
    warning. So however many workers run a job and however often, each occasion is
    sent once: a second insert of the same key fails (another worker won) and its
    mail rolls back with it. A worker that was down catches up with the occasions
    due now, not with every run it missed.
    """

    class Kind(models.TextChoices):
        PENDING_DIGEST = "pending_digest", "Digest of what waits for the admins"
        SETUP = "setup", "Reminder to set up a payment profile"
        CARD_EXPIRING = "card_expiring", "Card expiry warning"
        CARD_EXPIRED = "card_expired", "Deactivated: card expired"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    profile = models.ForeignKey(
        PaymentProfile, on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    key = models.CharField(max_length=40)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # A tenant's (the digest) or a profile's: exactly one of the two, and one
            # row per key for it. Two conditional constraints, since NULLs are never
            # equal in a plain one.
            models.CheckConstraint(
                condition=models.Q(tenant__isnull=True) ^ models.Q(profile__isnull=True),
                name="reminder_tenant_or_profile",
            ),
            models.UniqueConstraint(
                fields=["kind", "tenant", "key"],
                condition=models.Q(profile__isnull=True),
                name="reminder_once_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["kind", "profile", "key"],
                condition=models.Q(tenant__isnull=True),
                name="reminder_once_per_profile",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.key})"


class BulkAction(models.Model):
    """An admin's act on many payment profiles at once (billing/bulk.py): which act,
    the one reason for all, and the users it was asked for, frozen as one
    ``BulkActionItem`` each when it was confirmed. Small ones run in the request; a
    large one is run by the worker, which claims it (``claimed_by``) and keeps
    ``heartbeat_at`` fresh while it works, so a crashed worker's job is picked up
    again by another and goes on with the rows not yet done."""

    class Act(models.TextChoices):
        ACTIVATE = "activate", "Activate"
        DEACTIVATE = "deactivate", "Deactivate"
        DECLINE = "decline", "Decline"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    act = models.CharField(max_length=20, choices=Act.choices)
    reason = models.TextField(blank=True)
    # The confirmation form's one-time key: a second POST of the same form (a
    # double click, a resent page) finds this job instead of running another.
    token = models.CharField(max_length=64)
    # Where the result page leads back to: the Users page as the admin left it.
    back_url = models.CharField(max_length=2000, blank=True)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who runs it now ("" nobody) and when they last said so.
    claimed_by = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set when it finishes, from its items.
    changed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "bulk action"
        constraints = [
            models.UniqueConstraint(fields=["actor", "token"], name="bulk_action_once_per_form"),
        ]
        indexes = [models.Index(fields=["finished_at", "created_at"], name="bulk_action_todo_idx")]

    def __str__(self) -> str:
        return f"{self.get_act_display()} {self.total} payment profiles ({self.pk})"


class BulkActionItem(models.Model):
    """One user of a bulk act and what came of it: ``outcome`` is "" until the row
    is done, then "changed" or the code of the refusal it was skipped for. Written
    in the same transaction as the act on the profile, so a row is done once."""

    CHANGED = "changed"

    bulk = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=30, blank=True)
    # The profile's log entry of the act, for a changed row: how Admin > Activity and
    # the history link an entry to its bulk act. On our row, not in the entry's text:
    # django-fsm-log's StateLog is not ours to add a column to, and a tag in its
    # description would be words anyone could type into a reason.
    log = models.OneToOneField(
        "django_fsm_log.StateLog",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bulk_item",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bulk", "user"], name="bulk_item_once_per_user"),
        ]
        indexes = [models.Index(fields=["bulk", "outcome"], name="bulk_item_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.bulk_id}: user {self.user_id} {self.outcome or 'to do'}"


class ProfileEmail(models.Model):
    """An e-mail sent about a payment profile (billing.notifications records each one
    as it queues it, in the same transaction): what the profile's history page lists
    with its delivery status.

    django-mailer's queue row (``mailer.Message``) is deleted once delivered, and its
    log (``MessageLog``) names a message by its Message-ID and the time it was
    queued: both are kept here, with the queue row's id while it waits."""

    profile = models.ForeignKey(PaymentProfile, on_delete=models.CASCADE, related_name="emails")
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    template = models.CharField(max_length=60)
    message_pk = models.BigIntegerField()  # mailer.Message, gone once delivered
    message_id = models.CharField(max_length=255)
    queued_at = models.DateTimeField()  # = Message.when_added = MessageLog.when_added

    class Meta:
        indexes = [
            models.Index(fields=["profile", "-queued_at", "-id"], name="profileemail_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to}"


class CardSetup(models.Model):
    """A SetupIntent whose card was saved: written in the transaction of the save
    (billing.services), so a confirmation serves one save only. A second use of the
    same SetupIntent, by a replayed form or by the webhook after the form, finds it."""

    setup_intent_id = models.CharField(max_length=255, unique=True)
    profile = models.ForeignKey(PaymentProfile, on_delete=models.CASCADE, related_name="+")
    payment_method_id = models.CharField(max_length=255)
    used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.setup_intent_id


class ProcessorEvent(models.Model):
    """An event from Stripe's webhook that was processed: written in the transaction
    of what it changed (billing.webhooks), so each is processed exactly once however
    often Stripe sends it."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()  # the event's own time, at Stripe
    processed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
