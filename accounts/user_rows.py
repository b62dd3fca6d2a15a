"""The Users page's rows, each built once in Python as one string of HTML.

The page's rows are where its time went. Rendered through the template language,
50 rows cost about 3 ms of a 20 ms page at 1,000 users on SQLite (some 20 lookups
and tags a row), and the model instances behind them (a user with their tenant,
plan, profile and pending change) cost 4 ms more. So the rows arrive here as the
plain values ``accounts.selectors.user_list_page`` reads (``_LISTED``), and each
becomes its ``<tr>`` here, with the same markup the templates give elsewhere:
every value from the database escaped, every link reversed once a page, the acts
of the Actions menu worked out once per kind of row (below). The template prints
the strings (templates/accounts/user_list.html). bench/results.md has the figures.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from html import escape  # Django's, lazy-aware, costs 3x: these are plain strings
from typing import Any
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from accounts.selectors import admin_actions
from accounts.templatetags.timestamps import timestamp
from accounts.timezones import tenant_zone
from billing.badges import status_badge
from billing.models import STATUS_ORDER, Method, PaymentProfile, card_expiry_text
from billing.selectors import card_ending

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
_PK = "\x00"  # stands for a row's id in a menu built once per kind of row (never in a URL)

_NOT_SET_UP = '<span class="text-body-secondary">Not set up</span>'
_NEVER = '<span class="text-body-secondary">—</span>'
_ADMIN = ' <span class="badge text-bg-info">Admin</span>'


@dataclass(frozen=True)
class UserRow:
    """One line of the Users page: the values read for it, and its ``<tr>``."""

    user: Any  # the named tuple of user_list_page: pk, name, email, plan_name, state…
    html: SafeString


class RowBuilder:
    """Builds the rows of one page for `admin`: each link reversed once a page
    (reversing every link of every row, 7 x 50 at about 26 µs each, cost more than
    the rest of the rows together), the page's own URL encoded once for the links'
    ``next``, the tenant's zone looked up once."""

    def __init__(self, *, admin: User, here: str) -> None:
        self.admin = admin
        self.now = timezone.now()
        self.zone = tenant_zone(admin.tenant)  # for the cards' expiry
        self.shown_in = timezone.get_current_timezone()  # for times, as {% timestamp %}
        # quote(..., safe="") leaves only letters, digits, "-._~" and %XX: nothing
        # HTML would read, so the links below need no escaping.
        nxt = quote(here, safe="")
        self.links = [
            (act, reverse(name, args=[_SOME_ID]).split(str(_SOME_ID)), label, modal, nxt)
            for act, name, label, modal in _MENU
        ]
        self.admin_pk = admin.pk  # read once: `admin` is usually request.user, a lazy object
        self._acts: dict[tuple, tuple[str, ...]] = {}
        self._menus: dict[tuple, str] = {}

    def row(self, user) -> UserRow:
        """The row of `user`, one of user_list_page's rows (in the admin's tenant)."""
        pk = str(user.pk)
        name = escape(user.name)
        expiring = (
            card_ending(
                state=user.state,
                method=user.method,
                month=user.card_exp_month,
                year=user.card_exp_year,
                tz=self.zone,
                now=self.now,
            )
            is not None
        )
        html = (
            f'<tr data-user="{escape(user.email)}">'
            '<td class="col-select"><input class="form-check-input" type="checkbox" '
            f'name="ids" value="{pk}" form="bulk-form" aria-label="Select {name}"></td>'
            f"<td>{name}{_ADMIN if user.is_tenant_admin else ''}</td>"
            f"<td>{escape(user.email)}</td>"
            f"<td>{escape(user.plan_name or 'Bundles only')}</td>"
            f"<td>{_method(user, expiring)}</td>"
            f"<td>{status_badge(STATUS_ORDER[user.status_rank])}</td>"
            f"<td>{_changed(user.changed_at, self.shown_in)}</td>"
            f'<td class="col-actions">{self._menu(user).replace(_PK, pk)}</td></tr>'
        )
        return UserRow(user=user, html=mark_safe(html))

    def _kind(self, user) -> tuple:
        """What a row's Actions menu depends on besides its id: the profile's state,
        whether a change waits, whether it is the admin's own row (every row is of
        the admin's tenant)."""
        return (user.state, user.pending_change_id is not None, user.pk == self.admin_pk)

    def actions(self, user) -> tuple[str, ...]:
        """``admin_actions`` for the row, asked once per kind of row (``_kind``) of a
        profile standing for the row (tests/accounts/test_user_list.py compares it
        with admin_actions on the real profiles, for every kind)."""
        kind = self._kind(user)
        if kind not in self._acts:
            owner = User(pk=user.pk, tenant_id=self.admin.tenant_id)
            profile = PaymentProfile(
                state=user.state, pending_change_id=user.pending_change_id, user=owner
            )
            self._acts[kind] = admin_actions(profile, self.admin)
        return self._acts[kind]

    def _menu(self, user) -> str:
        """The row's Actions menu, with _PK where its id goes: built once per kind."""
        kind = self._kind(user)
        if kind in self._menus:
            return self._menus[kind]
        actions = self.actions(user)
        own = kind[2]
        acts, others = [], []
        for act, (before, after), label, modal, nxt in self.links:
            if act is not None and act not in actions:
                continue
            if label == "Change plan" and own:
                continue  # not one's own: the plan page refuses it
            attributes = ' class="dropdown-item" data-modal' if modal else ' class="dropdown-item"'
            item = f'<li><a{attributes} href="{before}{_PK}{after}?next={nxt}">{label}</a></li>'
            (others if act is None else acts).append(item)
        if acts:
            acts.append('<li><hr class="dropdown-divider"></li>')
        self._menus[kind] = menu = (
            '<div class="dropdown"><button class="btn btn-sm btn-outline-secondary '
            'dropdown-toggle" type="button" data-bs-toggle="dropdown" '
            'data-bs-popper-config=\'{"strategy":"fixed"}\' aria-expanded="false" '
            f'id="actions-{_PK}">Actions</button>'
            f'<ul class="dropdown-menu dropdown-menu-end" aria-labelledby="actions-{_PK}">'
            f"{''.join(acts)}{''.join(others)}</ul></div>"
        )
        return menu


def _method(user, expiring: bool) -> str:
    if not user.method:
        return _NOT_SET_UP
    shown = escape(Method(user.method).label)
    if user.method == Method.CREDIT_CARD and user.card_last4:  # "Visa ending in 4242"
        card = escape(f"{user.card_brand} ending in {user.card_last4}")
        shown += f' <span class="small text-body-secondary">· {card}</span>'
    expiry = card_expiry_text(user.card_exp_month, user.card_exp_year)
    if user.method == Method.CREDIT_CARD and expiry:
        if expiring:
            shown += (
                ' <span class="small card-expiring text-danger-emphasis fw-semibold">'
                f"· expires {expiry}"
                '<span class="visually-hidden"> (card expiring)</span></span>'
            )
        else:
            shown += f' <span class="small text-body-secondary">· expires {expiry}</span>'
    return shown


def _changed(value: datetime.datetime | None, zone) -> str:
    if value is None:
        return _NEVER
    return timestamp(value, zone=zone)  # as {% timestamp %} prints it
