"""The Users page's rows, their cells built once in Python.

A profile rendered through the template language cost about 60 % of the page at
100,000 users (bench/results.md): two includes, about 35 variable lookups, a
``{% timestamp %}`` and eight ``{% if %}`` per row, times 50 rows. Here each
row's status badge, payment method, last change and Actions menu are built as
one string each, with the same markup the templates give elsewhere, and the row
template (templates/accounts/user_list.html) prints them with a few lookups.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from accounts.selectors import admin_actions
from accounts.templatetags.timestamps import timestamp
from billing.badges import status_badge
from billing.models import Method, PaymentProfile
from billing.selectors import card_expiring

# A row's Actions: (act or None for every row, URL name, label, opens in the popup).
# The acts are offered as the model's transitions allow (accounts.selectors.admin_actions).
_MENU = (
    ("activate", "billing:profile_activate", "Activate Pay Profile", True),
    ("decline", "billing:profile_decline", "Decline Pay Profile", True),
    ("review", "billing:profile_change_review", "Review change", True),
    ("deactivate", "billing:profile_deactivate", "Deactivate Pay Profile", True),
    (None, "billing:profile_detail", "Billing details", True),
    (None, "billing:profile_history", "History", False),
    (None, "accounts:user_plan", "Change plan", False),
)
_SOME_ID = 2_147_483_647  # stands for a row's id in a link reversed once per page


@dataclass(frozen=True)
class UserRow:
    """One line of the Users page: the user, their profile, the acts the admin may
    run on it (worked out without a query), and the cells built from them."""

    user: User
    profile: PaymentProfile
    actions: tuple[str, ...]
    card_expiring: bool
    method: SafeString
    status: SafeString
    changed: SafeString
    menu: SafeString


class RowBuilder:
    """Builds the rows of one page: each link reversed once a page (reversing every
    link of every row, 7 x 50 at about 26 µs each, cost more than the rest of the
    rows together), the page's own URL encoded once for the links' ``next``."""

    def __init__(self, *, admin: User, here: str) -> None:
        self.admin = admin
        self.now = timezone.now()
        # quote(..., safe="") leaves only letters, digits, "-._~" and %XX: nothing
        # HTML would read, so the links below need no escaping.
        nxt = quote(here, safe="")
        self.links = [
            (act, reverse(name, args=[_SOME_ID]).split(str(_SOME_ID)), label, modal, nxt)
            for act, name, label, modal in _MENU
        ]

    def row(self, user: User) -> UserRow:
        profile = user.payment_profile
        actions = admin_actions(profile, self.admin)
        expiring = card_expiring(profile, self.now) is not None
        return UserRow(
            user=user,
            profile=profile,
            actions=actions,
            card_expiring=expiring,
            method=_method(profile, expiring),
            status=status_badge(profile.status),
            changed=_changed(profile.state_changed_at),
            menu=self._menu(user, actions),
        )

    def _menu(self, user: User, actions: tuple[str, ...]) -> SafeString:
        pk = str(user.pk)
        acts, others = [], []
        for act, (before, after), label, modal, nxt in self.links:
            if act is not None and act not in actions:
                continue
            if label == "Change plan" and user.pk == self.admin.pk:
                continue  # not one's own: the plan page refuses it
            attributes = ' class="dropdown-item" data-modal' if modal else ' class="dropdown-item"'
            item = f'<li><a{attributes} href="{before}{pk}{after}?next={nxt}">{label}</a></li>'
            (others if act is None else acts).append(item)
        if acts:
            acts.append('<li><hr class="dropdown-divider"></li>')
        return mark_safe(
            '<div class="dropdown"><button class="btn btn-sm btn-outline-secondary '
            'dropdown-toggle" type="button" data-bs-toggle="dropdown" '
            'data-bs-popper-config=\'{"strategy":"fixed"}\' aria-expanded="false" '
            f'id="actions-{pk}">Actions</button>'
            f'<ul class="dropdown-menu dropdown-menu-end" aria-labelledby="actions-{pk}">'
            f"{''.join(acts)}{''.join(others)}</ul></div>"
        )


def _method(profile: PaymentProfile, expiring: bool) -> SafeString:
    if not profile.method:
        return mark_safe('<span class="text-body-secondary">Not set up</span>')
    shown = escape(profile.get_method_display())
    if profile.method == Method.CREDIT_CARD and profile.card_expiry:
        if expiring:
            shown += (
                ' <span class="small card-expiring text-danger-emphasis fw-semibold">'
                f"· expires {profile.card_expiry}"
                '<span class="visually-hidden"> (card expiring)</span></span>'
            )
        else:
            shown += (
                f' <span class="small text-body-secondary">· expires {profile.card_expiry}</span>'
            )
    return mark_safe(shown)


def _changed(value: datetime.datetime | None) -> SafeString:
    if value is None:
        return mark_safe('<span class="text-body-secondary">—</span>')
    return timestamp(value)  # as {% timestamp %} prints it
