"""The acts on a payment profile: the only way one changes.

Each one is atomic: it re-reads the row under ``select_for_update()``, checks that
the act is allowed from the state it finds and for this actor (an admin act's
refusal comes from its entry in billing.acts, which the confirmation pages show up
front), runs it, saves, writes the profile's log (the transitions through
django-fsm-log, the acts that keep the state through ``_log``, into one table), and
queues its e-mail as a row in the same transaction. So a double click, a stale
page, two admins at once or a change replaced while it is reviewed end in exactly
one outcome, and the other caller gets a ``PaymentProfileError`` with a message fit
to show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransition, has_transition_perm
from django_fsm_log.models import StateLog

from accounts.models import User
from accounts.timezones import tenant_zone
from billing import acts, notifications
from billing.addresses import address_text
from billing.models import (
    CARD_EXPIRED,
    CARD_FIELDS,
    CARD_REMOVED,
    INVOICE_FIELDS,
    BillingDetails,
    CardSetup,
    Method,
    PaymentProfile,
    PendingChange,
    Reminder,
    State,
)
from billing.processor import USED_BEFORE, CardError, ConfirmedCard
from billing.selectors import profile_activators
from billing.standing import card_ended_past_grace
from billing.tax_ids import tax_id_display

logger = logging.getLogger(__name__)


class PaymentProfileError(Exception):
    """A refused act; ``str(error)`` is a message for the person who asked, ``code``
    (when the refusal has one: billing.acts.Refusal) the short reason a bulk act
    groups by."""

    def __init__(self, message: str = "", *, code: str = "") -> None:
        super().__init__(message)
        self.code = code or getattr(message, "code", "")


def _locked_profile(user: User) -> PaymentProfile:
    """The user's profile (every user has one), re-read and locked for the rest of
    the transaction, with what its save() reads (the owner's tenant and plan)."""
    return (
        PaymentProfile.objects.select_for_update(of=("self",))
        .select_related("user__tenant", "user__plan")
        .get(user=user)
    )


def _save(profile: PaymentProfile) -> None:
    try:
        profile.save()
    except ConcurrentTransition:  # only if a lock was bypassed; say so, don't 500
        raise PaymentProfileError(
            f"The payment profile of {profile.user} was changed at the same time. "
            "Reload the page and try again.",
            code=acts.CONFLICT,
        ) from None


# How often an owner may save billing details that go to the admins, per profile
# and hour: every save e-mails every admin of the tenant.
SAVES_PER_HOUR = 5
# How often the owner may remind the admins of a waiting profile or change.
REMIND_EVERY = timedelta(hours=24)

# The log entries (django-fsm-log's StateLog, the profile's one history) that are
# acts on the profile without a change of state.
CHANGE_SUBMIT = "change_submit"
CHANGE_APPROVE = "change_approve"
CHANGE_DECLINE = "change_decline"
CHANGE_WITHDRAW = "change_withdraw"
CHANGE_DROP = "change_drop"
REMIND = "remind"
# The system's (scheduled jobs, billing/jobs.py): logged with no ``by``.
SETUP_REMINDER = "setup_reminder"
CARD_WARNING = "card_warning"
# The processor's (Stripe's events, billing/webhooks.py): logged with no ``by`` too.
CARD_UPDATE = "card_update"
CARD_DETACH = "card_detach"
CARD_SETUP_FAIL = "card_setup_fail"


def _log(profile: PaymentProfile, *, by: User | None, act: str, description: str) -> None:
    """Log an act that leaves the state as it is, in the same history as the
    transitions (same table, same reader)."""
    StateLog.objects.create(
        content_object=profile,
        by=by,
        source_state=profile.state,
        state=profile.state,
        transition=act,
        description=description,
    )


# What is not compared between two saves: a card entered again is a new
# PaymentMethod at Stripe each time, read at another moment; the same card is the
# same brand, last four, expiry and cardholder.
_NOT_COMPARED = frozenset({"stripe_payment_method_id", "card_updated_at"})


def payment_profile_log_sign_in(*, user: User, act: str, description: str) -> None:
    """Note in the user's profile history how they sign in (identity/: "sso_signup",
    added at a first SSO sign-in; "sso_link", an existing user's first SSO sign-in),
    so the history says who came in through SSO. The state stays as it is."""
    if act not in SIGN_IN_ACTS:
        raise ValueError(f"not a sign-in act: {act!r}")
    _log(PaymentProfile.objects.get(user=user), by=user, act=act, description=description)


SIGN_IN_ACTS = ("sso_signup", "sso_link")


def _comparable(details: dict) -> dict:
    return {field: value for field, value in details.items() if field not in _NOT_COMPARED}


def _new_details(*, method: str, details: dict[str, str], card: ConfirmedCard | None) -> dict:
    """The full set of detail fields a save asks for: the chosen method's, the
    other method's emptied."""
    new = {field: "" for field in INVOICE_FIELDS + CARD_FIELDS}
    new["card_exp_month"] = new["card_exp_year"] = new["card_updated_at"] = None
    new["method"] = method
    if method == Method.CREDIT_CARD:
        new.update(
            cardholder_name=card.cardholder,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
            stripe_payment_method_id=card.payment_method,
            card_updated_at=card.read_at,
        )
    elif method == Method.INVOICE:
        new.update({field: (details.get(field) or "").strip() for field in INVOICE_FIELDS})
    return new


def _use_setup(profile: PaymentProfile, card: ConfirmedCard) -> bool:
    """Record that `card`'s SetupIntent serves this save (under the profile's lock).
    True when it already served the details last saved (a double click, a resent
    form, or the webhook that came first): nothing more to do. Refused when it served
    anything else before."""
    used = CardSetup.objects.filter(setup_intent_id=card.setup_intent).first()
    if used is not None:
        saved = profile.pending_change or profile
        if used.profile_id == profile.pk and saved.stripe_payment_method_id == card.payment_method:
            return True
        raise CardError(USED_BEFORE)
    try:
        with transaction.atomic():
            CardSetup.objects.create(
                setup_intent_id=card.setup_intent,
                profile=profile,
                payment_method_id=card.payment_method,
            )
    except IntegrityError:  # only if a lock was bypassed
        raise CardError(USED_BEFORE) from None
    return False


def _check_save_rate(profile: PaymentProfile) -> None:
    since = timezone.now() - timedelta(hours=1)
    saves = (
        StateLog.objects.for_(profile)
        .filter(transition__in=("submit", CHANGE_SUBMIT), timestamp__gt=since)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
    )
    saves = list(saves[:SAVES_PER_HOUR])
    if len(saves) >= SAVES_PER_HOUR:
        again = timezone.localtime(saves[0] + timedelta(hours=1))
        raise PaymentProfileError(
            f"You have saved your billing details {SAVES_PER_HOUR} times in the last hour, "
            f"and each save e-mails your admins. Try again after {again:%H:%M}."
        )


def _card(details: BillingDetails) -> str:
    if not details.card_last4:
        return ""
    return f"{details.card_brand} ending in {details.card_last4}"


# What a reviewer compares, as the billing details page shows it: the card as
# brand, last four and expiry, never its token.
_REVIEWED: tuple[tuple[str, Callable[[BillingDetails], str]], ...] = (
    ("Payment Method", lambda d: d.get_method_display()),
    ("Card", _card),
    ("Expires", attrgetter("card_expiry")),
    ("Cardholder", attrgetter("cardholder_name")),
    ("Company", attrgetter("company_name")),
    ("Billing Contact", attrgetter("billing_contact")),
    ("Billing Email", attrgetter("billing_email")),
    ("Address", address_text),  # in the country's order (billing.addresses)
    ("Purchase Order Number", attrgetter("po_number")),
    ("Tax ID", lambda d: tax_id_display(d.country, d.tax_id)),
)


def changed_fields(old: BillingDetails, new: BillingDetails) -> list[tuple[str, str, str]]:
    """(label, old, new) for each detail that differs, in the order the billing
    details page shows them ("—" for empty)."""
    rows = []
    for label, shown in _REVIEWED:
        before, after = shown(old), shown(new)
        if before != after:
            rows.append((label, before or "—", after or "—"))
    return rows


def _admins_told(count: int) -> str:
    if count == 0:
        return "no admin to tell by e-mail"
    return f"{count} admin{'s' if count != 1 else ''} told by e-mail"


def _describe(rows: list[tuple[str, object, object]]) -> str:
    return "; ".join(f"{label}: {before} → {after}" for label, before, after in rows)


def payment_profile_submit(
    *,
    user: User,
    method: str,
    details: dict[str, str],
    card: ConfirmedCard | None = None,
    via: str = "",
) -> PaymentProfile:
    """Save the user's billing details.

    A profile that is not active goes up for activation with them (``submit``). An
    active profile stays active on its current details, and the new ones wait
    beside it as its pending change (replacing an earlier one) until an admin
    approves or declines them. Saving what is already there, or what already
    waits, does nothing (a double click).

    A card comes as Stripe confirmed it (``billing.processor.confirmed_card``, read
    over the network before this is called, so no row lock waits on Stripe). Its
    SetupIntent serves one save: a second use is refused with ``CardError``, unless
    it is the save already made. `via` ("Stripe") is noted in the log when the
    processor's event, not the owner's form, brought the card. Raises
    ``PaymentProfileError`` when the act is refused.
    """
    if method not in Method.values:
        raise PaymentProfileError("Choose a payment method: Credit Card or Invoice.")
    if method == Method.CREDIT_CARD and card is None:
        raise CardError("Enter the card details.")
    new = _new_details(method=method, details=details, card=card)

    with transaction.atomic():
        profile = _locked_profile(user)
        if not has_transition_perm(profile.submit, user):
            raise PaymentProfileError("You can only change your own payment profile.")
        if card is not None and _use_setup(profile, card):
            return profile  # this confirmation was saved already
        if profile.state == State.ACTIVE:
            return _submit_change(profile, user=user, new=new, via=via)
        if profile.state == State.PENDING and _comparable(profile.details()) == _comparable(new):
            return profile  # a double click or a resent form: nothing new for the admins
        _check_save_rate(profile)
        for field, value in new.items():
            setattr(profile, field, value)
        admins = profile_activators(user)
        profile.submit(
            by=user,
            description=_logged(
                f"{profile.get_method_display()} details saved; {_admins_told(len(admins))}", via
            ),
        )
        _save(profile)
        notifications.profile_submitted(profile, admins)
    logger.info("payment profile %s submitted (%s) by user %s", profile.pk, method, user.pk)
    return profile


def _drop_change(profile: PaymentProfile) -> None:
    """Take the pending change off the (locked) profile and delete it."""
    change = profile.pending_change
    profile.pending_change = None
    profile.save(update_fields=["pending_change", "updated_at"])
    change.delete()


def _submit_change(
    profile: PaymentProfile, *, user: User, new: dict, via: str = ""
) -> PaymentProfile:
    current = profile.pending_change
    if current is not None and _comparable(new) == _comparable(current.details()):
        return profile  # what already waits (a double click): nothing to do
    if _comparable(new) == _comparable(profile.details()):
        if current is not None:  # back to the details in force: the change is moot
            _drop_change(profile)
            _log(
                profile,
                by=user,
                act=CHANGE_WITHDRAW,
                description="The details saved are the ones in force",
            )
        return profile
    _check_save_rate(profile)
    if current is not None:
        _drop_change(profile)
    change = PendingChange.objects.create(**new)
    profile.pending_change = change
    profile.save(update_fields=["pending_change", "updated_at"])
    rows = changed_fields(profile, change)
    replaced = " (replaces the change waiting before)" if current else ""
    admins = profile_activators(user)
    _log(
        profile,
        by=user,
        act=CHANGE_SUBMIT,
        description=_logged(f"{_describe(rows)}{replaced}; {_admins_told(len(admins))}", via),
    )
    notifications.change_submitted(profile, admins)
    logger.info(
        "payment profile %s: change %s submitted by user %s", profile.pk, change.pk, user.pk
    )
    return profile


def _refuse_if(refusal: str) -> None:
    if refusal:
        raise PaymentProfileError(str(refusal), code=getattr(refusal, "code", ""))


def _logged(text: str | None, via: str) -> str | None:
    """The log entry's description: the admin's own words, and "(via API)" when
    they acted through something other than the pages (`via`). What the user
    reads as the reason (``deactivation_reason``, the e-mail) stays their words."""
    if not via:
        return text
    return f"{text} (via {via})" if text else f"Via {via}"


@acts.ACTIVATE.runs()
def payment_profile_activate(
    *, actor: User, user: User, note: str = "", via: str = ""
) -> PaymentProfile:
    """An admin activates a pending or inactive profile; the user may then use the console.

    `via` ("API") is noted in the log when the act did not come from the pages; the
    same holds for every admin act below."""
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(acts.ACTIVATE.refusal(profile=profile, actor=actor))
        profile.activate(by=actor, description=_logged(note.strip() or None, via))
        _save(profile)
        notifications.profile_activated(profile)
    logger.info("payment profile %s activated by user %s", profile.pk, actor.pk)
    return profile


@acts.DEACTIVATE.runs()
def payment_profile_deactivate(
    *, actor: User, user: User, reason: str = "", via: str = ""
) -> PaymentProfile:
    """An admin deactivates an active profile; the user is held at the gate again."""
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(acts.DEACTIVATE.refusal(profile=profile, actor=actor))
        profile.deactivate(by=actor, description=_logged(reason.strip() or None, via))
        profile.deactivation_reason = reason.strip()
        _save(profile)
        if profile.pending_change is not None:
            _drop_change(profile)
            _log(
                profile,
                by=actor,
                act=CHANGE_DROP,
                description=_logged(
                    "The change that awaited approval was dropped with the deactivation.", via
                ),
            )
        notifications.profile_deactivated(profile)
    logger.info("payment profile %s deactivated by user %s", profile.pk, actor.pk)
    return profile


@acts.DECLINE.runs()
def payment_profile_decline(
    *, actor: User, user: User, reason: str, via: str = ""
) -> PaymentProfile:
    """An admin sends a pending profile back to its owner with a reason (pending →
    inactive, shown as "Declined"); saving corrected details submits it again."""
    reason = reason.strip()
    if not reason:
        raise PaymentProfileError(acts.DECLINE_REASON)
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(acts.DECLINE.refusal(profile=profile, actor=actor))
        profile.decline(by=actor, description=_logged(reason, via))
        profile.deactivation_reason = reason
        _save(profile)
        notifications.profile_declined(profile)
    logger.info("payment profile %s declined by user %s", profile.pk, actor.pk)
    return profile


@acts.REVIEW.runs("change_approve")
def payment_profile_change_approve(
    *, actor: User, user: User, change_id: int | None = None, via: str = ""
) -> PaymentProfile:
    """An admin approves the pending change: its details replace the profile's, which
    stays active."""
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(acts.REVIEW.refusal(profile=profile, actor=actor, change_id=change_id))
        change = profile.pending_change
        rows = changed_fields(profile, change)
        for field, value in change.details().items():
            setattr(profile, field, value)
        profile.pending_change = None
        _save(profile)
        change.delete()
        _log(
            profile,
            by=actor,
            act=CHANGE_APPROVE,
            description=_logged(f"Change approved: {_describe(rows)}", via),
        )
        notifications.change_approved(profile)
    logger.info("payment profile %s: change approved by user %s", profile.pk, actor.pk)
    return profile


@acts.REVIEW.runs("change_decline")
def payment_profile_change_decline(
    *, actor: User, user: User, reason: str, change_id: int | None = None, via: str = ""
) -> PaymentProfile:
    """An admin declines the pending change with a reason: the profile keeps its
    details and stays active; the user is told why."""
    reason = reason.strip()
    if not reason:
        raise PaymentProfileError(acts.DECLINE_REASON)
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(acts.REVIEW.refusal(profile=profile, actor=actor, change_id=change_id))
        _drop_change(profile)
        _log(profile, by=actor, act=CHANGE_DECLINE, description=_logged(reason, via))
        notifications.change_declined(profile, reason=reason)
    logger.info("payment profile %s: change declined by user %s", profile.pk, actor.pk)
    return profile


def payment_profile_change_withdraw(*, user: User) -> PaymentProfile:
    """The owner takes back their pending change; the profile keeps its details."""
    with transaction.atomic():
        profile = _locked_profile(user)
        if profile.pending_change is None:
            raise PaymentProfileError(
                "No change awaits approval: it was approved or declined meanwhile."
            )
        _drop_change(profile)
        _log(profile, by=user, act=CHANGE_WITHDRAW, description="")
    logger.info("payment profile %s: change withdrawn by its owner", profile.pk)
    return profile


def remind_available_at(profile: PaymentProfile) -> datetime | None:
    """When the owner may remind the admins again (None: now, or nothing waits)."""
    if profile.state != State.PENDING and profile.pending_change_id is None:
        return None
    last = (
        StateLog.objects.for_(profile)
        .filter(transition=REMIND)
        .order_by("-timestamp")
        .values_list("timestamp", flat=True)
        .first()
    )
    if last is None or last + REMIND_EVERY <= timezone.now():
        return None
    return last + REMIND_EVERY


def payment_profile_remind_admins(*, user: User) -> PaymentProfile:
    """Remind my admins: the owner of a pending profile, or of a pending change,
    e-mails the tenant's admins again, at most once per REMIND_EVERY."""
    with transaction.atomic():
        profile = _locked_profile(user)  # a double click waits here, then is refused
        if profile.state != State.PENDING and profile.pending_change_id is None:
            raise PaymentProfileError("Nothing awaits your admins: there is nothing to remind.")
        again = remind_available_at(profile)
        if again is not None:
            raise PaymentProfileError(
                "Your admins were reminded less than 24 hours ago. You can remind them "
                f"again after {timezone.localtime(again):%Y-%m-%d %H:%M}."
            )
        admins = profile_activators(user)
        notifications.admins_reminded(profile, admins)
        _log(profile, by=user, act=REMIND, description=f"Reminder: {_admins_told(len(admins))}")
    logger.info("payment profile %s: admins reminded by its owner", profile.pk)
    return profile


def _can_pay_instead(profile: PaymentProfile, now: datetime) -> bool:
    """Whether the profile's waiting change can pay at `now` (a new card saved in
    time, or an invoice): then the console stays open while the admins review it."""
    change = profile.pending_change
    return change is not None and change.pays_at(now, tenant_zone(profile.user.tenant))


def expire_refusal(*, profile: PaymentProfile, now: datetime) -> str:
    """Why the system may not deactivate `profile` for an expired card at `now`, or ""
    if it must: an active card profile whose card stopped being good more than the
    tenant's grace period ago, with no waiting change that can pay (a new card saved
    in time keeps the console while the admins review it)."""
    tenant = profile.user.tenant
    tz = tenant_zone(tenant)
    if profile.state != State.ACTIVE or profile.card_expires_at(tz) is None:
        return "Only an active card profile can expire."
    if not card_ended_past_grace(
        method=profile.method,
        month=profile.card_exp_month,
        year=profile.card_exp_year,
        tz=tz,
        grace_days=tenant.card_grace_days if tenant else 0,
        now=now,
    ):
        return "The card is still good, or within its grace period."
    if _can_pay_instead(profile, now):
        return "New details that can pay wait for approval."
    return ""


def _deactivate_unpaid(profile: PaymentProfile, transition, description: str) -> None:
    """The system deactivates the (locked) profile because its card can no longer pay:
    `transition` (``expire`` or ``remove_card``) sets the reason; a waiting change is
    dropped (it cannot pay either, or there would be nothing to do); the user and the
    admins are e-mailed. The one path for every such deactivation."""
    transition(description=description)
    _save(profile)
    if profile.pending_change is not None:
        _drop_change(profile)
        _log(
            profile,
            by=None,
            act=CHANGE_DROP,
            description="The change that awaited approval was dropped with the deactivation.",
        )
    notifications.card_cannot_pay(profile, profile_activators(profile.user))


def payment_profile_expire(*, user: User, now: datetime | None = None) -> PaymentProfile | None:
    """The system deactivates the user's profile because its card expired and the
    tenant's grace period passed (billing/jobs.py runs it). Logged as ``expire``
    with no person as ``by`` (the system) and the reason "Card expired"; drops a
    waiting change (it cannot pay, or there would be nothing to do); e-mails the
    user and the admins. Returns None, and does nothing, when it is not (or no
    longer) due: another worker did it, or the owner saved a new card in time.

    Once per expired card: its ``Reminder`` (kind card_expired, key the expiry
    month) is written with the deactivation, so an admin who activates the
    profile again on purpose is not overruled on the next run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        profile = _locked_profile(user)
        if expire_refusal(profile=profile, now=now):
            return None
        key = f"{profile.card_exp_year:04d}-{profile.card_exp_month:02d}"
        if Reminder.objects.filter(
            kind=Reminder.Kind.CARD_EXPIRED, profile=profile, key=key
        ).exists():
            return None
        Reminder.objects.create(
            kind=Reminder.Kind.CARD_EXPIRED, profile=profile, key=key, sent_at=now
        )
        _deactivate_unpaid(
            profile,
            profile.expire,
            f"{CARD_EXPIRED}: {profile.card_brand} ending in {profile.card_last4}, "
            f"expiry {profile.card_expiry}, not replaced in time",
        )
    logger.info("payment profile %s deactivated by the system: card expired", profile.pk)
    return profile


# --- What the processor tells (billing/webhooks.py) -----------------------------------


@dataclass(frozen=True)
class CardAtProcessor:
    """A card as a Stripe event shows it, and the event's time (``at``)."""

    payment_method: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    at: datetime


def _holding(payment_method: str) -> list[PaymentProfile]:
    """The profiles, locked, whose details in force or waiting change hold the card."""
    ids = PaymentProfile.objects.filter(
        Q(stripe_payment_method_id=payment_method)
        | Q(pending_change__stripe_payment_method_id=payment_method)
    ).values_list("user_id", flat=True)
    return [_locked_profile(user_id) for user_id in ids.order_by("pk")]


def _card_words(details: BillingDetails) -> str:
    return f"{details.card_brand} ending in {details.card_last4}, expiry {details.card_expiry}"


def payment_profile_card_updated(*, card: CardAtProcessor) -> list[PaymentProfile]:
    """Stripe updated a saved card (``payment_method.updated`` or ``.automatically_
    updated``: the card updater got a new expiry or number from the bank). Our copy
    follows where it holds older data than the event's (an event that comes late
    changes nothing), logged in the profile's history as done by the processor. The
    expiry warnings and the deactivation for an expired card read the new expiry
    from then on. Returns the profiles changed."""
    changed = []
    with transaction.atomic():
        for profile in _holding(card.payment_method):
            rows = [
                (label, details)
                for label, details in (
                    ("", profile),
                    (" (of the waiting change)", profile.pending_change),
                )
                if details is not None and details.stripe_payment_method_id == card.payment_method
            ]
            told = []
            for where, details in rows:
                if details.card_updated_at is not None and details.card_updated_at >= card.at:
                    continue
                before = _card_words(details)
                details.card_brand, details.card_last4 = card.brand, card.last4
                details.card_exp_month, details.card_exp_year = card.exp_month, card.exp_year
                details.card_updated_at = card.at
                after = _card_words(details)
                if details is profile:
                    _save(profile)
                else:
                    details.save()
                if before != after:
                    told.append(f"{before} → {after}{where}")
            if told:
                _log(
                    profile,
                    by=None,
                    act=CARD_UPDATE,
                    description=f"Card updated by the payment processor: {'; '.join(told)}",
                )
                changed.append(profile)
    for profile in changed:
        logger.info("payment profile %s: card updated by the processor", profile.pk)
    return changed


def payment_profile_card_removed(*, payment_method: str, at: datetime) -> list[PaymentProfile]:
    """Stripe detached a saved card (``payment_method.detached``): it can no longer
    be charged. An active profile paying with it goes the way of an expired card
    (``remove_card``: reason CARD_REMOVED, the user and the admins e-mailed), unless
    a waiting change can pay; a waiting change holding it is dropped; a profile in
    another state has it noted in its history. Returns the profiles changed."""
    changed = []
    with transaction.atomic():
        for profile in _holding(payment_method):
            card = f"{profile.card_brand} ending in {profile.card_last4}"
            change = profile.pending_change
            if change is not None and change.stripe_payment_method_id == payment_method:
                waiting = f"{change.card_brand} ending in {change.card_last4}"
                _drop_change(profile)
                _log(
                    profile,
                    by=None,
                    act=CHANGE_DROP,
                    description=f"The card of the waiting change ({waiting}) was removed "
                    "at the payment processor: the change cannot pay and was dropped.",
                )
                changed.append(profile)
            if profile.stripe_payment_method_id != payment_method:
                continue
            if profile.state == State.ACTIVE and not _can_pay_instead(profile, at):
                _deactivate_unpaid(profile, profile.remove_card, f"{CARD_REMOVED}: {card}")
            else:
                _log(
                    profile,
                    by=None,
                    act=CARD_DETACH,
                    description=f"{CARD_REMOVED}: {card}. It can no longer pay.",
                )
            if profile not in changed:
                changed.append(profile)
    for profile in changed:
        logger.info("payment profile %s: card removed at the processor", profile.pk)
    return changed


def payment_profile_card_setup_failed(*, customer: str, reason: str) -> PaymentProfile | None:
    """The bank refused a card the owner entered, after they left the page
    (``setup_intent.setup_failed``): nothing changes but the profile's history,
    which says so."""
    with transaction.atomic():
        owner = (
            PaymentProfile.objects.filter(stripe_customer_id=customer)
            .values_list("user_id", flat=True)
            .first()
        )
        if owner is None:
            return None
        profile = _locked_profile(owner)
        _log(
            profile,
            by=None,
            act=CARD_SETUP_FAIL,
            description=f"A card entered on the Payment Information page was not confirmed "
            f"by the bank: {reason or 'no reason given'}. Nothing was saved.",
        )
    return profile
