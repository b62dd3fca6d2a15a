"""The admin acts on a user's payment profile, each stated once.

An entry says everything the product shows or does about one act: the words of its
refusals by state and beyond it (``Condition``: a card that has ended), and the short
codes a bulk act groups its skipped users by, its label in
the Actions dropdown, its popup's title, question and buttons, the reason it takes,
its success message, its words in a bulk act and its API route. The pages, the
popups, the bulk actions (billing.bulk), the API (billing.api) and Django's admin
site (billing.admin) are all built from ``ACTS``. The service that runs an act lives
in billing.services, bound to its entry with ``@<ACT>.runs``, where it checks the
entry's ``refusal`` under the profile's lock.

Adding an act means one entry here, its service, and (if it moves the state) its
transition on the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django_fsm import can_proceed

from accounts.models import Tenant
from accounts.timezones import tenant_zone
from billing.models import PaymentProfile, can_administer
from billing.standing import (
    State,
    card_ended_past_grace,
    card_ended_past_grace_q,
    user_needs_profile,
)

# The codes of the refusals: what a bulk act's skipped users are grouped by.
NOT_SET_UP = "not_set_up"
ALREADY_ACTIVE = "already_active"
ALREADY_INACTIVE = "already_inactive"
ALREADY_DECLINED = "already_declined"
NOT_PENDING = "not_pending"
PENDING = "pending"
OWN_PROFILE = "own_profile"
NOT_ALLOWED = "not_allowed"
NO_CHANGE = "no_change"
CHANGE_REPLACED = "change_replaced"
CONFLICT = "conflict"
CARD_ENDED = "card_ended"
REFUSED = "refused"  # a refusal without a code of its own

# How each skipped group is named on a bulk act's confirmation and result
# ("3 skipped: already active").
SKIP_LABELS = {
    NOT_SET_UP: "not set up",
    NOT_PENDING: "not pending",
    PENDING: "pending activation",
    ALREADY_ACTIVE: "already active",
    ALREADY_INACTIVE: "already inactive",
    ALREADY_DECLINED: "already declined",
    OWN_PROFILE: "your own profile",
    NOT_ALLOWED: "not allowed",
    CONFLICT: "changed at the same time",
    CARD_ENDED: "card ended",
    REFUSED: "refused",
}


class Refusal(str):
    """Why an act is refused: the sentence shown to people, with its short ``code``.
    Empty ("") when the act is allowed."""

    code: str

    def __new__(cls, sentence: str, code: str) -> Refusal:
        refusal = super().__new__(cls, sentence)
        refusal.code = code
        return refusal


# What the refusals tell apart about a profile: its state, and for an inactive one
# whether it was declined rather than deactivated.
DECLINED = "declined"


def kind_of(*, state: str, declined: bool) -> str:
    return DECLINED if state == State.INACTIVE and declined else state


def kind_q(kind: str, prefix: str = "") -> Q:
    """``kind_of`` as a filter on profiles (or, with a prefix, on their users)."""
    if kind in (State.INACTIVE, DECLINED):
        return Q(
            **{f"{prefix}state": State.INACTIVE, f"{prefix}declined_at__isnull": kind != DECLINED}
        )
    return Q(**{f"{prefix}state": kind})


KINDS = (*State.values, DECLINED)


@dataclass(frozen=True)
class Condition:
    """A refusal beyond the state: an act the profile's state allows may still be
    refused for what the profile holds (activating a card that has ended). Said
    twice, side by side, like billing.standing's rules: `holds` over a profile in
    hand (with its owner's tenant), and `q`, its SQL twin, over the profiles of one
    tenant, for a bulk act's preview (billing.bulk). `sentence` is formatted with the
    owner (``{user}``), the card (``{card}``) and its expiry (``{expiry}``)."""

    sentence: str
    code: str
    holds: Callable[[PaymentProfile, Tenant | None, datetime], bool]
    q: Callable[[Tenant | None, datetime, str], Q]  # (tenant, now, prefix)


def _card_ended(profile: PaymentProfile, tenant: Tenant | None, now: datetime) -> bool:
    return card_ended_past_grace(
        method=profile.method,
        month=profile.card_exp_month,
        year=profile.card_exp_year,
        tz=tenant_zone(tenant),
        grace_days=tenant.card_grace_days if tenant else 0,
        now=now,
    )


def _card_ended_q(tenant: Tenant | None, now: datetime, prefix: str = "") -> Q:
    return card_ended_past_grace_q(
        tz=tenant_zone(tenant),
        grace_days=tenant.card_grace_days if tenant else 0,
        now=now,
        prefix=prefix,
    )


CARD_ENDED_CONDITION = Condition(
    sentence="The card of {user} ({card}, expiry {expiry}) has ended and its grace period is "
    "over: the profile cannot pay. Ask them to enter a new card on their Payment "
    "Information page, then activate the new details.",
    code=CARD_ENDED,
    holds=_card_ended,
    q=_card_ended_q,
)


@dataclass(frozen=True)
class Reason:
    """The reason an act takes: `required` or optional; its labels and help on the
    act's own form and on a bulk act's (the same reason for every user)."""

    required: bool
    label: str
    help: str
    bulk_label: str = ""
    bulk_help: str = ""
    max_length: int = 500


@dataclass(frozen=True)
class Decision:
    """One way to confirm an act: a button of its popup and a route of the API.
    Most acts have one; Review change has two (approve, decline). `takes`: what the
    service is given besides the actor and the user ("note", "reason", "change_id")."""

    name: str
    button: str
    done: str  # the success message: "Payment profile of {user} activated."
    choice: str = ""  # the button's value when an act has several decisions
    takes: tuple[str, ...] = ()
    danger: bool = False
    reason: Reason | None = None
    api_path: str = ""  # after /api/v1/users/{user_id}/
    api_summary: str = ""
    api_body: str = ""  # the name of the API's request body schema

    @property
    def operation_id(self) -> str:
        return f"profile_{self.name}"


@dataclass(frozen=True)
class BulkWords:
    button: str  # "Activate"
    done: str  # "12 activated"
    will: str  # "12 will be activated"
    style: str  # the bulk bar's button: Bootstrap's "primary", "secondary", "danger"


@dataclass(frozen=True)
class Act:
    """An admin act on someone's payment profile. `transition`: the model's
    transition it runs (None for Review change, which keeps the state); `refused`:
    the sentence ("{user}" for the profile's owner) and code of the refusal for each
    kind of profile (``KINDS``) the transition does not start from."""

    name: str
    label: str  # the Actions dropdown's item and the popup's title
    slug: str  # /admin/users/<id>/<slug>/
    verb: str  # "activate": in "You cannot activate your own payment profile"
    question: str  # "{name}": the owner's name; "{held}": held_words if they need a profile
    decisions: tuple[Decision, ...]
    transition: str | None = None
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Refusals beyond the state, asked after it, in order.
    conditions: tuple[Condition, ...] = ()
    held_words: str = ""
    bulk: BulkWords | None = None
    in_django_admin: bool = False
    page: str = ""  # its page's URL name after "billing:profile_", when not its name

    @property
    def url_name(self) -> str:
        return f"billing:profile_{self.page or self.name}"

    @property
    def reason(self) -> Reason | None:
        """The reason field of the act's form (any of its decisions may take one)."""
        return next((d.reason for d in self.decisions if d.reason), None)

    def decision(self, name: str | None = None) -> Decision:
        """The decision called `name` (its name or its button's value), or the only one."""
        if name is None:
            return self.decisions[0]
        return next(d for d in self.decisions if name in (d.name, d.choice))

    def runs(self, decision: str | None = None) -> Callable[[Callable], Callable]:
        """Decorator: the service (billing.services) that runs `decision` of this act
        (its only one when not named)."""
        chosen = self.decision(decision)

        def bind(service: Callable) -> Callable:
            _SERVICES[chosen] = service
            return service

        return bind

    def ask(self, *, target) -> str:
        """The popup's question about `target`'s profile."""
        change = target.payment_profile.pending_change
        return self.question.format(
            name=target.name,
            held=self.held_words if user_needs_profile(target) else "",
            on=f" on {timezone.localtime(change.submitted_at):%Y-%m-%d}" if change else "",
        )

    def refusal(
        self,
        *,
        profile: PaymentProfile,
        actor,
        change_id: int | None = None,
        now: datetime | None = None,
    ) -> Refusal | str:
        """Why `actor` may not run this act on `profile` now, or "" if they may: first
        whose profile it is (nobody acts on their own; only a tenant's admins or a
        superuser act), then its state, then its ``conditions`` (at `now`). The
        service raises it under the profile's lock; the popup shows it up front; a
        bulk act groups by its code. Reads the profile's state, decline, pending
        change, card, and its owner with their tenant."""
        if not can_administer(profile, actor):
            if actor is not None and actor.pk == profile.user_id:
                return Refusal(
                    f"You cannot {self.verb} your own payment profile: another admin must do it.",
                    OWN_PROFILE,
                )
            return Refusal(f"You are not allowed to {self.verb} this payment profile.", NOT_ALLOWED)
        return self.state_refusal(profile=profile, change_id=change_id) or self.condition_refusal(
            profile=profile, now=now or timezone.now()
        )

    def condition_refusal(self, *, profile: PaymentProfile, now: datetime) -> Refusal | str:
        """The first of the act's ``conditions`` that holds for `profile` at `now`, in
        words, or ""."""
        tenant = profile.user.tenant if profile.user.tenant_id else None
        for condition in self.conditions:
            if condition.holds(profile, tenant, now):
                sentence = condition.sentence.format(
                    user=profile.user,
                    card=f"{profile.card_brand} ending in {profile.card_last4}",
                    expiry=profile.card_expiry,
                )
                return Refusal(sentence, condition.code)
        return ""

    def state_refusal(
        self, *, profile: PaymentProfile, change_id: int | None = None
    ) -> Refusal | str:
        """The part of ``refusal`` about the profile's state (for an actor who may act
        on it)."""
        owner = profile.user
        if self.transition is None:  # Review change
            if profile.pending_change_id is None:
                return Refusal(
                    f"No change of the payment profile of {owner} awaits approval: it was "
                    "approved, declined or withdrawn meanwhile.",
                    NO_CHANGE,
                )
            if change_id is not None and profile.pending_change_id != change_id:
                return Refusal(
                    f"{owner} replaced the change while you were reviewing it. "
                    "Review the new details before you decide.",
                    CHANGE_REPLACED,
                )
            return ""
        if can_proceed(getattr(profile, self.transition)):
            return ""
        sentence, code = self.refused[
            kind_of(state=profile.state, declined=profile.declined_at is not None)
        ]
        return Refusal(sentence.format(user=owner), code)


_SERVICES: dict[Decision, Callable] = {}


def service_of(decision: Decision) -> Callable:
    """The service that runs `decision` (billing.services, bound with ``Act.runs``)."""
    return _SERVICES[decision]


_NOTHING_TO = "{user} has not set up a payment profile yet, so there is nothing to "

ACTIVATE = Act(
    name="activate",
    label="Activate Pay Profile",
    slug="activate",
    verb="activate",
    transition="activate",
    question="Activate the payment profile of {name}? They can use CloudCenter once it is "
    "active, and they are told by e-mail.",
    decisions=(
        Decision(
            "activate",
            button="Save",
            done="Payment profile of {user} activated.",
            takes=("note",),
            api_path="activate",
            api_summary="Activate Pay Profile: a pending or inactive profile becomes active.",
            api_body="ActivateIn",
        ),
    ),
    refused={
        State.NONE: (_NOTHING_TO + "activate.", NOT_SET_UP),
        State.ACTIVE: ("The payment profile of {user} is already active.", ALREADY_ACTIVE),
    },
    # Activated, it would be deactivated by the next run of the card_expiry job.
    conditions=(CARD_ENDED_CONDITION,),
    bulk=BulkWords("Activate", "activated", "will be activated", "primary"),
    in_django_admin=True,
)

DEACTIVATE = Act(
    name="deactivate",
    label="Deactivate Pay Profile",
    slug="deactivate",
    verb="deactivate",
    transition="deactivate",
    question="Deactivate the payment profile of {name}? {held}They are told by e-mail, with "
    "the reason if you give one.",
    held_words="They cannot use CloudCenter until it is activated again. ",
    decisions=(
        Decision(
            "deactivate",
            button="OK",
            done="Payment profile of {user} deactivated.",
            takes=("reason",),
            danger=True,
            reason=Reason(
                required=False,
                label="Reason (optional)",
                help="The user sees this in the e-mail about the deactivation.",
                bulk_label="Reason (optional, the same for every user)",
                bulk_help="Each user sees this in the e-mail about the deactivation.",
            ),
            api_path="deactivate",
            api_summary="Deactivate Pay Profile (an optional reason, which the user reads).",
            api_body="OptionalReasonIn",
        ),
    ),
    refused={
        State.NONE: (_NOTHING_TO + "deactivate.", NOT_SET_UP),
        State.PENDING: (
            "The payment profile of {user} is pending activation and cannot be deactivated.",
            PENDING,
        ),
        State.INACTIVE: ("The payment profile of {user} is already inactive.", ALREADY_INACTIVE),
        DECLINED: ("The payment profile of {user} is already inactive.", ALREADY_INACTIVE),
    },
    bulk=BulkWords("Deactivate", "deactivated", "will be deactivated", "secondary"),
    in_django_admin=True,
)

_DECLINE_REASON = "Give a reason: the user reads it to know what to correct."

DECLINE = Act(
    name="decline",
    label="Decline Pay Profile",
    slug="decline",
    verb="decline",
    transition="decline",
    question="Decline the payment profile of {name}? It goes back to them with your reason; "
    "when they save corrected details, it awaits activation again.",
    decisions=(
        Decision(
            "decline",
            button="Decline",
            done="Payment profile of {user} declined.",
            takes=("reason",),
            danger=True,
            reason=Reason(
                required=True,
                label="Reason",
                help="The user reads this on their Payment Information page and in the e-mail.",
                bulk_label="Reason (the same for every user)",
                bulk_help="Each user reads this on their Payment Information page and in the "
                "e-mail.",
            ),
            api_path="decline",
            api_summary="Decline Pay Profile: a pending profile goes back to its owner with the "
            "reason.",
            api_body="ReasonIn",
        ),
    ),
    refused={
        State.NONE: (_NOTHING_TO + "decline.", NOT_SET_UP),
        State.ACTIVE: (
            "The payment profile of {user} is already active: deactivate it instead if it "
            "must stop.",
            ALREADY_ACTIVE,
        ),
        DECLINED: ("The payment profile of {user} has already been declined.", ALREADY_DECLINED),
        State.INACTIVE: (
            "The payment profile of {user} is inactive: there is nothing to decline.",
            NOT_PENDING,
        ),
    },
    bulk=BulkWords("Decline", "declined", "will be declined", "danger"),
)

REVIEW = Act(
    name="review",
    page="change_review",
    label="Review change",
    slug="change",
    verb="review a change of",
    question="{name} changed the billing details of their active payment profile{on}. Approve to "
    "replace the old details with the new ones, or decline with a reason to keep the old ones.",
    decisions=(
        Decision(
            "change_approve",
            button="Approve",
            choice="approve",
            done="The change of {user}'s billing details is approved.",
            takes=("change_id",),
            api_path="change/approve",
            api_summary="Approve the pending change: its details replace the profile's.",
            api_body="ChangeApproveIn",
        ),
        Decision(
            "change_decline",
            button="Decline",
            choice="decline",
            done="The change of {user}'s billing details is declined.",
            takes=("reason", "change_id"),
            danger=True,
            reason=Reason(
                required=True,
                label="Reason (needed to decline)",
                help="If you decline, the user reads this in the e-mail; the profile keeps "
                "its details.",
            ),
            api_path="change/decline",
            api_summary="Decline the pending change with a reason: the profile keeps its details.",
            api_body="ChangeDeclineIn",
        ),
    ),
)

# In the order the Actions dropdown offers them; a bulk act's in the bulk bar's.
ACTS: dict[str, Act] = {act.name: act for act in (ACTIVATE, DECLINE, REVIEW, DEACTIVATE)}
BULK_ACTS: dict[str, Act] = {act.name: act for act in (ACTIVATE, DEACTIVATE, DECLINE)}
DECLINE_REASON = _DECLINE_REASON
_BUTTONS = [act.bulk.button for act in BULK_ACTS.values()]
CHOOSE_BULK_ACT = f"Choose {', '.join(_BUTTONS[:-1])} or {_BUTTONS[-1]}."


def offered_acts(profile: PaymentProfile, actor) -> list[Act]:
    """The acts the Actions dropdown offers on `profile` to `actor`, in its order:
    those ``Act.refusal`` would not refuse (the POST checks again: hidden is not
    forbidden)."""
    if not can_administer(profile, actor):
        return []
    return [act for act in ACTS.values() if not act.state_refusal(profile=profile)]
