"""The acts on a payment profile: the only way one changes.

Each one is atomic: it re-reads the row under ``select_for_update()``, checks that
the act is allowed from the state it finds and for this actor (the words of a
refusal come from its ``*_refusal`` function, which the confirmation pages show up
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

from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm
from django_fsm_log.models import StateLog

from accounts.models import User
from accounts.timezones import tenant_zone
from billing import notifications
from billing.gateway import CardError, get_gateway
from billing.models import (
    CARD_EXPIRED,
    CARD_FIELDS,
    INVOICE_FIELDS,
    BillingDetails,
    Method,
    PaymentProfile,
    PendingChange,
    Reminder,
    State,
    can_administer,
)
from billing.selectors import profile_activators

logger = logging.getLogger(__name__)


NO_CARD_ON_FILE = "There is no card on file to keep: enter the card number and CVC."


class PaymentProfileError(Exception):
    """A refused act; ``str(error)`` is a message for the person who asked, ``code``
    (when the refusal has one: see ``Refusal``) the short reason a bulk act groups by."""

    def __init__(self, message: str = "", *, code: str = "") -> None:
        super().__init__(message)
        self.code = code or getattr(message, "code", "")


class Refusal(str):
    """Why an act is refused: the sentence shown to people, with a short ``code``
    ("not_set_up", "already_active", "own_profile", ...) that a bulk act groups its
    skipped users by (billing/bulk.py). Empty ("") when the act is allowed."""

    code: str

    def __new__(cls, sentence: str, code: str) -> Refusal:
        refusal = super().__new__(cls, sentence)
        refusal.code = code
        return refusal


# The codes the refusals of the admin acts give (billing/bulk.py says each as a
# group of skipped users).
NOT_SET_UP = "not_set_up"
ALREADY_ACTIVE = "already_active"
ALREADY_INACTIVE = "already_inactive"
ALREADY_DECLINED = "already_declined"
NOT_PENDING = "not_pending"
PENDING = "pending"
OWN_PROFILE = "own_profile"
NOT_ALLOWED = "not_allowed"
CONFLICT = "conflict"


@dataclass(frozen=True)
class CardInput:
    """A card as typed. Lives only for the request; never stored or logged."""

    cardholder: str
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:
        return f"CardInput(cardholder={self.cardholder!r}, number='…{self.number[-4:]}')"


@dataclass(frozen=True)
class CardOnFile:
    """Keep the card on file (its token, brand and last four digits) and change only
    what may change without the number: the cardholder name and the expiry, as
    card-on-file systems allow for the same card. Carries no number and no CVC."""

    cardholder: str
    exp_month: int
    exp_year: int


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
            code=CONFLICT,
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


def payment_profile_log_sign_in(*, user: User, act: str, description: str) -> None:
    """Note in the user's profile history how they sign in (identity/: "sso_signup",
    added at a first SSO sign-in; "sso_link", an existing user's first SSO sign-in),
    so the history says who came in through SSO. The state stays as it is."""
    if act not in SIGN_IN_ACTS:
        raise ValueError(f"not a sign-in act: {act!r}")
    _log(PaymentProfile.objects.get(user=user), by=user, act=act, description=description)


SIGN_IN_ACTS = ("sso_signup", "sso_link")


def _comparable(details: dict) -> dict:
    # A card typed again gets a new token each time: the same card is the same
    # brand, last four and expiry.
    return {field: value for field, value in details.items() if field != "card_token"}


def _new_details(
    *, method: str, details: dict[str, str], card: CardInput | CardOnFile | None, token
) -> dict:
    """The full set of detail fields a save asks for: the chosen method's, the
    other method's emptied. (A card kept on file is filled in from the profile,
    under its lock: ``_card_kept``.)"""
    new = {field: "" for field in INVOICE_FIELDS + CARD_FIELDS}
    new["card_exp_month"] = new["card_exp_year"] = None
    new["method"] = method
    if token is not None:
        new.update(
            cardholder_name=card.cardholder,
            card_brand=token.brand,
            card_last4=token.last4,
            card_exp_month=token.exp_month,
            card_exp_year=token.exp_year,
            card_token=token.token,
        )
    elif method == Method.INVOICE:
        new.update({field: (details.get(field) or "").strip() for field in INVOICE_FIELDS})
    return new


def _card_kept(profile: PaymentProfile, card: CardOnFile) -> dict:
    """The card on file (its token, brand and last four: the card last saved, so a
    waiting change's if there is one), with the cardholder name and expiry the
    owner typed."""
    saved = profile.pending_change or profile
    if not (saved.method == Method.CREDIT_CARD and saved.card_token):
        raise CardError(NO_CARD_ON_FILE)
    return {
        "card_token": saved.card_token,
        "card_brand": saved.card_brand,
        "card_last4": saved.card_last4,
        "cardholder_name": card.cardholder,
        "card_exp_month": card.exp_month,
        "card_exp_year": card.exp_year,
    }


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
    ("Address", attrgetter("address")),
    ("City", attrgetter("city")),
    ("State / Province", attrgetter("region")),
    ("Postal Code", attrgetter("postal_code")),
    ("Country", attrgetter("country")),
    ("Purchase Order Number", attrgetter("po_number")),
    ("Tax ID", attrgetter("tax_id")),
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
    card: CardInput | CardOnFile | None = None,
) -> PaymentProfile:
    """Save the user's billing details.

    A profile that is not active goes up for activation with them (``submit``). An
    active profile stays active on its current details, and the new ones wait
    beside it as its pending change (replacing an earlier one) until an admin
    approves or declines them. Saving what is already there, or what already
    waits, does nothing (a double click).

    A card is turned into a token first, outside the transaction, so the
    gateway's network time never holds a row lock. ``CardOnFile`` keeps the card
    already saved (refused as ``CardError`` when there is none). Raises
    ``CardError`` when the gateway refuses the card and ``PaymentProfileError``
    when the act is refused.
    """
    if method not in Method.values:
        raise PaymentProfileError("Choose a payment method: Credit Card or Invoice.")
    token = None
    if method == Method.CREDIT_CARD and not isinstance(card, CardOnFile):
        if card is None:
            raise CardError("Enter the card details.")
        token = get_gateway().tokenize(
            number=card.number,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            cvc=card.cvc,
            cardholder=card.cardholder,
        )
    new = _new_details(method=method, details=details, card=card, token=token)

    with transaction.atomic():
        profile = _locked_profile(user)
        if not has_transition_perm(profile.submit, user):
            raise PaymentProfileError("You can only change your own payment profile.")
        if isinstance(card, CardOnFile) and method == Method.CREDIT_CARD:
            new.update(_card_kept(profile, card))
        if profile.state == State.ACTIVE:
            return _submit_change(profile, user=user, new=new)
        if profile.state == State.PENDING and _comparable(profile.details()) == _comparable(new):
            return profile  # a double click or a resent form: nothing new for the admins
        _check_save_rate(profile)
        for field, value in new.items():
            setattr(profile, field, value)
        admins = profile_activators(user)
        profile.submit(
            by=user,
            description=f"{profile.get_method_display()} details saved; "
            f"{_admins_told(len(admins))}",
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


def _submit_change(profile: PaymentProfile, *, user: User, new: dict) -> PaymentProfile:
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
        description=f"{_describe(rows)}{replaced}; {_admins_told(len(admins))}",
    )
    notifications.change_submitted(profile, admins)
    logger.info(
        "payment profile %s: change %s submitted by user %s", profile.pk, change.pk, user.pk
    )
    return profile


def _not_allowed(profile: PaymentProfile, actor: User, act: str) -> Refusal:
    if actor.pk == profile.user_id:
        return Refusal(
            f"You cannot {act} your own payment profile: another admin must do it.", OWN_PROFILE
        )
    return Refusal(f"You are not allowed to {act} this payment profile.", NOT_ALLOWED)


def activate_refusal(*, profile: PaymentProfile, actor: User) -> Refusal | str:
    """Why `actor` may not activate `profile` now (a ``Refusal``: sentence and code),
    or "" if they may. The service raises it; the confirmation page shows it up
    front; a bulk act groups by its code. Reads only the profile's state, whether it
    was declined, and whose it is (billing/bulk.py's preview relies on that)."""
    user = profile.user
    if not can_proceed(profile.activate):
        if profile.state == State.NONE:
            return Refusal(
                f"{user} has not set up a payment profile yet, so there is nothing to activate.",
                NOT_SET_UP,
            )
        return Refusal(f"The payment profile of {user} is already active.", ALREADY_ACTIVE)
    if not has_transition_perm(profile.activate, actor):
        return _not_allowed(profile, actor, "activate")
    return ""


def deactivate_refusal(*, profile: PaymentProfile, actor: User) -> Refusal | str:
    """Why `actor` may not deactivate `profile` now, or "" if they may."""
    user = profile.user
    if not can_proceed(profile.deactivate):
        if profile.state == State.NONE:
            return Refusal(
                f"{user} has not set up a payment profile yet, so there is nothing to deactivate.",
                NOT_SET_UP,
            )
        if profile.state == State.PENDING:
            return Refusal(
                f"The payment profile of {user} is pending activation and cannot be deactivated.",
                PENDING,
            )
        return Refusal(f"The payment profile of {user} is already inactive.", ALREADY_INACTIVE)
    if not has_transition_perm(profile.deactivate, actor):
        return _not_allowed(profile, actor, "deactivate")
    return ""


def decline_refusal(*, profile: PaymentProfile, actor: User) -> Refusal | str:
    """Why `actor` may not decline `profile` now, or "" if they may."""
    user = profile.user
    if not can_proceed(profile.decline):
        if profile.state == State.NONE:
            return Refusal(
                f"{user} has not set up a payment profile yet, so there is nothing to decline.",
                NOT_SET_UP,
            )
        if profile.state == State.ACTIVE:
            return Refusal(
                f"The payment profile of {user} is already active: deactivate it instead "
                "if it must stop.",
                ALREADY_ACTIVE,
            )
        if profile.is_declined:
            return Refusal(
                f"The payment profile of {user} has already been declined.", ALREADY_DECLINED
            )
        return Refusal(
            f"The payment profile of {user} is inactive: there is nothing to decline.",
            NOT_PENDING,
        )
    if not has_transition_perm(profile.decline, actor):
        return _not_allowed(profile, actor, "decline")
    return ""


def change_review_refusal(
    *, profile: PaymentProfile, actor: User, change_id: int | None = None
) -> str:
    """Why `actor` may not approve or decline the profile's pending change now, or
    "" if they may. `change_id` is the change the reviewer was shown: if the owner
    replaced it meanwhile, the reviewer must look at the new one first."""
    user = profile.user
    if profile.pending_change_id is None:
        return (
            f"No change of the payment profile of {user} awaits approval: it was approved, "
            "declined or withdrawn meanwhile."
        )
    if change_id is not None and profile.pending_change_id != change_id:
        return (
            f"{user} replaced the change while you were reviewing it. "
            "Review the new details before you decide."
        )
    if not can_administer(profile, actor):
        if actor.pk == user.pk:
            return "You cannot review a change of your own payment profile: another admin must."
        return "You are not allowed to review changes of this payment profile."
    return ""


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


def payment_profile_activate(
    *, actor: User, user: User, note: str = "", via: str = ""
) -> PaymentProfile:
    """An admin activates a pending or inactive profile; the user may then use the console.

    `via` ("API") is noted in the log when the act did not come from the pages; the
    same holds for every admin act below."""
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(activate_refusal(profile=profile, actor=actor))
        profile.activate(by=actor, description=_logged(note.strip() or None, via))
        _save(profile)
        notifications.profile_activated(profile)
    logger.info("payment profile %s activated by user %s", profile.pk, actor.pk)
    return profile


def payment_profile_deactivate(
    *, actor: User, user: User, reason: str = "", via: str = ""
) -> PaymentProfile:
    """An admin deactivates an active profile; the user is held at the gate again."""
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(deactivate_refusal(profile=profile, actor=actor))
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


def payment_profile_decline(
    *, actor: User, user: User, reason: str, via: str = ""
) -> PaymentProfile:
    """An admin sends a pending profile back to its owner with a reason (pending →
    inactive, shown as "Declined"); saving corrected details submits it again."""
    reason = reason.strip()
    if not reason:
        raise PaymentProfileError("Give a reason: the user reads it to know what to correct.")
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(decline_refusal(profile=profile, actor=actor))
        profile.decline(by=actor, description=_logged(reason, via))
        profile.deactivation_reason = reason
        _save(profile)
        notifications.profile_declined(profile)
    logger.info("payment profile %s declined by user %s", profile.pk, actor.pk)
    return profile


def payment_profile_change_approve(
    *, actor: User, user: User, change_id: int | None = None, via: str = ""
) -> PaymentProfile:
    """An admin approves the pending change: its details replace the profile's, which
    stays active."""
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(change_review_refusal(profile=profile, actor=actor, change_id=change_id))
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


def payment_profile_change_decline(
    *, actor: User, user: User, reason: str, change_id: int | None = None, via: str = ""
) -> PaymentProfile:
    """An admin declines the pending change with a reason: the profile keeps its
    details and stays active; the user is told why."""
    reason = reason.strip()
    if not reason:
        raise PaymentProfileError("Give a reason: the user reads it to know what to correct.")
    with transaction.atomic():
        profile = _locked_profile(user)
        _refuse_if(change_review_refusal(profile=profile, actor=actor, change_id=change_id))
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


def expire_refusal(*, profile: PaymentProfile, now: datetime) -> str:
    """Why the system may not deactivate `profile` for an expired card at `now`, or ""
    if it must: an active card profile whose card stopped being good more than the
    tenant's grace period ago, with no waiting change that can pay (a new card saved
    in time keeps the console while the admins review it)."""
    tenant = profile.user.tenant
    tz = tenant_zone(tenant)
    expires = profile.card_expires_at(tz)
    if profile.state != State.ACTIVE or expires is None:
        return "Only an active card profile can expire."
    if now < expires + timedelta(days=tenant.card_grace_days if tenant else 0):
        return "The card is still good, or within its grace period."
    change = profile.pending_change
    if change is not None and change.pays_at(now, tz):
        return "New details that can pay wait for approval."
    return ""


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
        profile.expire(
            description=f"{CARD_EXPIRED}: {profile.card_brand} ending in {profile.card_last4}, "
            f"expiry {profile.card_expiry}, not replaced in time"
        )
        _save(profile)
        if profile.pending_change is not None:
            _drop_change(profile)
            _log(
                profile,
                by=None,
                act=CHANGE_DROP,
                description="The change that awaited approval was dropped with the deactivation.",
            )
        admins = profile_activators(profile.user)
        notifications.card_expired(profile, admins)
    logger.info("payment profile %s deactivated by the system: card expired", profile.pk)
    return profile
