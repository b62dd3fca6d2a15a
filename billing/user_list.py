"""Admin > Users: the reads behind the page, its CSV export, bulk "all matching" and
the API's list. One tenant's users, searched (name or e-mail), filtered by profile
status (billing.standing.STATUS_FILTERS) and plan, sorted by any column
(``USER_SORTS``), a page at a time.

How a page is read (README, "Performance", says why, with the figures):

1. **The count.** Unfiltered, the tenant's own count of its users, kept by database
   triggers (``Tenant.user_count``): no query. Filtered, the matches are counted up
   to ``COUNT_CAP`` and no further ("10,000+ of 1,000,000 users"), from the table
   whose columns the filter reads: the profiles for a status (its copies
   ``status_rank`` and ``held`` and the card's expiry, indexed after the tenant:
   billing.0007, 0008), else the users.
2. **The page's keys.** Read in the page's order from the index that holds it: the
   users' (name, e-mail, plan: accounts' user_list_*_idx) or the profile's (status,
   method, last changed: billing.0007), with the filter tested along the walk.
   When a filter matches few users (at most ``FEW``·√n of the tenant's n), walking
   the index in order would test most of the tenant to find them: their keys are
   read first instead, from the filter's own index (a status, or PostgreSQL's
   trigram index for a search), in a limited subquery, which PostgreSQL cannot
   flatten into the walk, and then sorted. A page nearer the end than the start
   reads the same order backwards, so the last page costs what the first does.
3. **The rows.** The page's users by key, with their profile: 50 model instances.

``tests/billing/test_user_list_plans.py`` pins, on PostgreSQL, the index each of
these reads uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, Count, F, Func, Q, QuerySet
from django.utils import timezone

from accounts.models import Tenant, User
from accounts.timezones import tenant_zone
from billing.models import PaymentProfile
from billing.standing import AWAITING, STATUS_RANK, Method, status_filter_q, status_from_rank

# The sortable columns of the Users page and the order each one means, as columns
# of the user (a profile's through ``payment_profile__``); ties end in the user's
# key. A descending sort reverses every column, so that each order is one index
# read forwards or backwards. NULL sorts as the smallest value: first ascending,
# last descending ("Last changed": never changed is the oldest). Status sorts in
# workflow order (billing.standing.STATUS_ORDER), the longest unchanged first.
USER_SORTS: dict[str, tuple[F, ...]] = {
    "name": (F("name"), F("email")),
    "email": (F("email"), F("name")),
    "plan": (F("plan_name"), F("name"), F("email")),  # the user's copy: accounts.0010
    "method": (F("payment_profile__method"), F("payment_profile__state_changed_at")),
    "status": (F("payment_profile__status_rank"), F("payment_profile__state_changed_at")),
    "changed": (F("payment_profile__state_changed_at"),),
}
DEFAULT_SORT = "name"
SORT_VALUES = frozenset(USER_SORTS) | {f"-{key}" for key in USER_SORTS}
_PROFILE = "payment_profile__"
# The columns that may be NULL: their NULLs are placed explicitly (first ascending,
# last descending, on both databases; the indexes of billing.0007 are built so).
NULLABLE = frozenset({"payment_profile__state_changed_at"})

# `?plan=none`: the users on no plan, whom the Users page shows as "Bundles only".
NO_PLAN = "none"

# A filtered list is counted up to here, then shown as "10,000+".
COUNT_CAP = 10_000
# A filter matches "few" users of the tenant's n at up to FEW·√n of them: then their
# keys are read first and sorted, rather than found by walking the page's order.
# (Walking costs about n/k index entries per row shown, reading them first about
# k; bench/results.md has where the two cross.)
FEW = 4


class AmongKeys(Func):
    """The user is one of `keys` (a subquery of user ids), as a filter. On PostgreSQL
    ``id = ANY(ARRAY(keys))``: the keys are read once, first (an InitPlan), and the
    users looked up by primary key. With a plain ``IN`` the planner may hash the keys
    and scan the whole table for them instead. Elsewhere, ``IN``."""

    output_field = BooleanField()

    def __init__(self, keys: QuerySet) -> None:
        super().__init__(F("pk"), keys)

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="%(expressions)s", arg_joiner=" IN ")

    def as_postgresql(self, compiler, connection, **extra):
        from django.contrib.postgres.expressions import ArraySubquery

        pk, keys = self.get_source_expressions()
        return Func(pk, ArraySubquery(keys), output_field=BooleanField()).as_sql(
            compiler, connection, template="%(expressions)s)", arg_joiner=" = ANY("
        )


def order_by(sort: str, *, on_profile: bool = False) -> list:
    """The order of `sort` (a SORT_VALUES key), said on users or, with `on_profile`,
    on their profiles, ending in the user's key."""
    columns = [column.name for column in USER_SORTS[sort.lstrip("-")]] + ["pk"]
    descending = sort.startswith("-")
    ordering = []
    for name in columns:
        nullable = name in NULLABLE
        if on_profile:
            name = name.removeprefix(_PROFILE) if name.startswith(_PROFILE) else f"user__{name}"
            name = "user_id" if name == "user__pk" else name
        column = F(name)
        if descending:
            ordering.append(column.desc(nulls_last=True) if nullable else column.desc())
        else:
            ordering.append(column.asc(nulls_first=True) if nullable else column.asc())
    return ordering


def sorts_on_profile(sort: str) -> bool:
    return USER_SORTS[sort.lstrip("-")][0].name.startswith(_PROFILE)


def _user_filter(q: str, plan: str) -> Q:
    """The search and the plan filter, on users. `plan`: "", NO_PLAN or a plan id of
    the tenant's (billing.forms.UserFilterForm makes sure)."""
    found = Q()
    if q:
        found &= Q(name__icontains=q) | Q(email__icontains=q)
    if plan == NO_PLAN:
        found &= Q(plan=None)
    elif plan:
        found &= Q(plan_id=int(plan))
    return found


def _profile_filter(tenant: Tenant, status: str, now: datetime) -> Q:
    """The status filter, on one tenant's profiles."""
    if not status:
        return Q()
    if status == "held" and not tenant.require_payment_profile:
        return Q(pk__in=[])  # nobody is held where nothing is required
    return status_filter_q(status, tz=tenant_zone(tenant), now=now)


def _through(condition: Q, prefix: str) -> Q:
    """`condition` said from a related model, every field behind `prefix`."""
    said = Q()
    said.connector, said.negated = condition.connector, condition.negated
    said.children = [
        _through(child, prefix) if isinstance(child, Q) else (f"{prefix}{child[0]}", child[1])
        for child in condition.children
    ]
    return said


@dataclass(frozen=True)
class Matching:
    """One tenant's users matching the Users page's filters, as users and as
    profiles (each with the other side's part of the filter through the join)."""

    tenant: Tenant
    users: QuerySet[User]
    profiles: QuerySet[PaymentProfile]
    filtered: bool
    by_status: bool


def matching(
    *, tenant: Tenant, q: str = "", status: str = "", plan: str = "", now: datetime | None = None
) -> Matching:
    on_users, on_profiles = (
        _user_filter(q, plan),
        _profile_filter(tenant, status, now or timezone.now()),
    )
    users = User.objects.filter(tenant=tenant).filter(on_users, _through(on_profiles, _PROFILE))
    profiles = PaymentProfile.objects.filter(tenant=tenant).filter(
        on_profiles, _through(on_users, "user__")
    )
    return Matching(tenant, users, profiles, bool(q or status or plan), bool(status))


def user_list_for_admin(
    *, tenant: Tenant, q: str = "", status: str = "", plan: str = "", sort: str = DEFAULT_SORT
) -> QuerySet[User]:
    """Every user of the tenant the Users page would list, in its order: for the
    CSV export, a bulk act on "all matching" and the API's pages."""
    found = matching(tenant=tenant, q=q, status=status, plan=plan)
    return found.users.order_by(*order_by(sort))


@dataclass(frozen=True)
class UserListPage:
    """A page of the Users page: its users (with their profiles), its number, and
    the count of all it pages through: `total`, exact when `exact`, else at least
    COUNT_CAP."""

    users: list[User]
    number: int
    per_page: int
    total: int
    exact: bool
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        """The number of the last page, when the count is exact."""
        return max(1, math.ceil(self.total / self.per_page)) if self.exact else None

    @property
    def known_pages(self) -> int:
        """The pages the count vouches for (all of them when it is exact)."""
        return max(1, math.ceil(self.total / self.per_page))


# What a row shows and its Actions ask (billing.acts): the page reads no other column.
ROW_FIELDS = (
    "name",
    "email",
    "is_tenant_admin",
    "plan_name",
    "tenant_id",
    *(
        f"{_PROFILE}{field}"
        for field in (
            "user_id",
            "state",
            "method",
            "status_rank",
            "state_changed_at",
            "declined_at",
            "pending_change_id",
            "card_brand",
            "card_last4",
            "card_exp_month",
            "card_exp_year",
        )
    ),
)


def _page_number(number: str | int, last: int | None) -> int:
    try:
        wanted = int(number)
    except (TypeError, ValueError):
        return 1
    wanted = max(wanted, 1)
    return min(wanted, last) if last is not None else wanted


def user_list_page(
    *,
    tenant: Tenant,
    q: str = "",
    status: str = "",
    plan: str = "",
    sort: str = DEFAULT_SORT,
    number: str | int = 1,
    per_page: int = 50,
) -> UserListPage:
    """Page `number` of the tenant's users matching the filters, in the order of
    `sort`: two queries when filtered (the count, then the rows with their keys
    in a subquery), one when not. Pass the tenant as freshly read as the request's
    user: its count is read from it."""
    found = matching(tenant=tenant, q=q, status=status, plan=plan)
    if found.filtered:
        counted = found.profiles if found.by_status else found.users
        seen = counted.order_by().values("pk")[: COUNT_CAP + 1].count()
        total, exact = min(seen, COUNT_CAP), seen <= COUNT_CAP
    else:
        total, exact = tenant.user_count, True
    bound = FEW * math.isqrt(tenant.user_count)
    if found.filtered and exact and total <= bound:
        # Few match: their keys first (limited, so PostgreSQL reads them first), sorted.
        chosen = found.profiles.values("user_id") if found.by_status else found.users.values("pk")
        keys = User.objects.filter(AmongKeys(chosen.order_by()[: max(bound, 1)]))
        keys = keys.order_by(*order_by(sort)).values_list("pk", flat=True)
    elif sorts_on_profile(sort):
        keys = found.profiles.order_by(*order_by(sort, on_profile=True))
        keys = keys.values_list("user_id", flat=True)
    else:
        keys = found.users.order_by(*order_by(sort)).values_list("pk", flat=True)

    last = math.ceil(total / per_page) if exact else None
    number = _page_number(number, max(last, 1) if last is not None else None)
    start = (number - 1) * per_page
    if exact and start > total - (start + per_page):
        # Nearer the end than the start: the same keys read backwards, so that the
        # last page costs what the first does (an OFFSET walks every row it skips).
        end = min(start + per_page, total)
        page_keys = keys.reverse()[max(total - end, 0) : total - start]
        has_next = end < total
    else:
        page_keys = keys[start : start + per_page + 1]
        has_next = None
    users = list(
        User.objects.filter(pk__in=page_keys)
        .select_related("payment_profile")
        .only(*ROW_FIELDS)
        .order_by(*order_by(sort))
    )
    if has_next is None:
        has_next = len(users) > per_page
        users = users[:per_page]
    return UserListPage(users, number, per_page, total, exact, has_next)


# --- What waits for an admin --------------------------------------------------------


@dataclass(frozen=True)
class Awaiting:
    """What waits for the tenant's admins: profiles to activate, changes to review."""

    profiles: int
    changes: int

    @property
    def total(self) -> int:
        return self.profiles + self.changes


def awaiting_admin(tenant: Tenant) -> Awaiting:
    """What of the tenant's waits for an admin to act: one query, reading only the
    waiting rows from the profile's status index (led by the tenant)."""
    pending, change = (STATUS_RANK[status] for status in AWAITING)
    counts = PaymentProfile.objects.filter(
        tenant=tenant, status_rank__in=(pending, change)
    ).aggregate(
        profiles=Count("pk", filter=Q(status_rank=pending)),
        changes=Count("pk", filter=Q(status_rank=change)),
    )
    return Awaiting(**counts)


# The Admin menu's badge counts to here and then says "99+": it reads at most this
# many rows, so its cost does not grow with the tenant (the dashboard and the
# filtered Users page give the exact numbers).
BADGE_CAP = 100


def awaiting_badge(tenant: Tenant) -> str:
    """The Admin menu's count of what waits for an admin: "" (nothing), "1" … "99",
    or "99+". One query that reads at most BADGE_CAP rows."""
    waiting = PaymentProfile.objects.filter(
        tenant=tenant, status_rank__in=[STATUS_RANK[status] for status in AWAITING]
    )
    count = waiting.values("pk")[:BADGE_CAP].count()
    if count >= BADGE_CAP:
        return f"{BADGE_CAP - 1}+"
    return str(count) if count else ""


# --- The Users page as CSV ------------------------------------------------------------

USER_COLUMNS = (
    "Name",
    "Email",
    "Plan",
    "Payment Method",
    "Profile Status",
    "Card",
    # The expiry as two numbers: "12/31" as one cell is a date to LibreOffice and
    # Excel (31 December), while "06/32" stays text, and Excel takes "2031-12" for
    # December 2031's first day. A month and a year are numbers in every spreadsheet.
    "Card Expiry Month",
    "Card Expiry Year",
    "Last Changed",
    "Admin",
)

# What the rows read, as plain values: building model instances for 100,000 rows
# would be most of the export's time. Nothing else of the profile is read: its
# invoice details and card token stay in the database.
_CSV_VALUES = (
    "name",
    "email",
    "is_tenant_admin",
    "plan_name",
    "plan_id",
    "payment_profile__status_rank",
    "payment_profile__method",
    "payment_profile__card_brand",
    "payment_profile__card_last4",
    "payment_profile__card_exp_month",
    "payment_profile__card_exp_year",
    "payment_profile__state_changed_at",
)
# Rows fetched from the database at a time (on PostgreSQL through a server-side
# cursor): memory holds one such batch, however many rows the export has.
ROWS_PER_FETCH = 2000


def user_csv_rows(users: QuerySet[User], tenant: Tenant) -> Iterator[list[str]]:
    """Each of `users` (as user_list_for_admin gives them) as a row of USER_COLUMNS,
    in the words the Users page uses, the status from the same copy the page reads.
    One query, read ROWS_PER_FETCH rows at a time. Times are ISO 8601 in the
    tenant's zone, with the offset; a card is its brand, last four and expiry (month and
    year, each a number)."""
    zone = tenant_zone(tenant)
    methods = dict(Method.choices)
    rows = users.values_list(*_CSV_VALUES).iterator(chunk_size=ROWS_PER_FETCH)
    for (
        name,
        email,
        is_admin,
        plan_name,
        plan_id,
        rank,
        method,
        brand,
        last4,
        month,
        year,
        at,
    ) in rows:
        card = method == Method.CREDIT_CARD
        yield [
            name,
            email,
            plan_name if plan_id is not None else "Bundles only",
            methods[method] if method else "Not set up",
            status_from_rank(rank).label,
            f"{brand} ending in {last4}" if card and last4 else "",
            str(month) if card and month else "",
            str(year) if card and year else "",
            at.astimezone(zone).isoformat(timespec="seconds") if at else "",
            "yes" if is_admin else "no",
        ]
