"""Reads for the admin area: the Users page and the one tenant-scoped user lookup."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Plan, Tenant, User
from billing.models import STATUS_RANK, PaymentProfile, Status, can_administer
from billing.selectors import card_expiring_filter

# The sortable columns of the Users page and the order each one means, as columns
# of the user (a profile's through ``payment_profile__``); ties end in the user's
# key. A descending sort reverses every column, so that each order is one index
# read forwards or backwards. NULL sorts as the smallest value: first ascending,
# last descending ("Last changed": never changed is the oldest). The sort and the
# status filter are cleaned by accounts.forms.UserFilterForm before they get here:
# only these keys (optionally with a leading '-') and STATUS_FILTERS keys arrive.
#
# The sorts on a profile column are read from the profile's own indexes, which
# lead with its copy of the tenant (billing.0007): status in workflow order
# (billing.models.STATUS_ORDER) with the longest unchanged first (the oldest
# waiting profile first), and so the payment method.
USER_SORTS: dict[str, tuple[F, ...]] = {
    "name": (F("name"), F("email")),
    "email": (F("email"), F("name")),  # as user_list_email_name_idx (e-mail is unique)
    "plan": (F("plan_name"), F("name"), F("email")),  # the user's copy: accounts.0010
    "method": (F("payment_profile__method"), F("payment_profile__state_changed_at")),
    "status": (F("payment_profile__status_rank"), F("payment_profile__state_changed_at")),
    "changed": (F("payment_profile__state_changed_at"),),
}
DEFAULT_SORT = "name"
_PROFILE = "payment_profile__"

# The transitions an admin drives from the Users page, in the order they are offered.
ADMIN_TRANSITIONS = ("activate", "decline", "deactivate")

# The Users page's status filter: `?status=<key>`, in the order it offers them.
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


def _status_filter(tenant: Tenant, status: str, profile: str = _PROFILE) -> Q:
    """What `?status=` keeps, as a filter on users (or, with ``profile=""``, on
    their profiles). The statuses are the profile's ``status_rank`` (kept by
    billing: the status each row shows, "not required" told from "not set up" by
    the user's plan and tenant). "held": the profile's ``held`` (kept by billing:
    in a tenant that requires profiles, the paid plans' users whose profile is
    not active). "card_expiring": active or pending card profiles whose card ends
    within 30 days or has ended (billing.selectors.card_expiring). Each is read
    from a profile index led by the tenant (billing.0007, 0008)."""
    rank = f"{profile}status_rank"
    if status == "held":
        if not tenant.require_payment_profile:
            return Q(pk__in=[])
        return Q(**{f"{profile}held": True})
    if status == "awaiting":
        return Q(
            **{f"{rank}__in": (STATUS_RANK[Status.PENDING], STATUS_RANK[Status.CHANGE_PENDING])}
        )
    if status == "card_expiring":
        return card_expiring_filter(tenant, timezone.now(), prefix=profile)
    return Q(**{rank: STATUS_RANK[status]})


# What waits for an admin: a profile to activate, a change to review.
_WAITING = (STATUS_RANK[Status.PENDING], STATUS_RANK[Status.CHANGE_PENDING])


@dataclass(frozen=True)
class Awaiting:
    """What waits for the tenant's admins: profiles to activate, changes to review."""

    profiles: int
    changes: int

    @property
    def total(self) -> int:
        return self.profiles + self.changes


def awaiting_admin(tenant: Tenant) -> Awaiting:
    """What of the tenant's waits for an admin to act (one query).

    Reads only the rows that wait, from the profile's status index, which leads
    with the tenant (billing.0007): neither every profile of the tenant (joined to
    its user, that cost 57-65 ms at 100,000 users on SQLite) nor every waiting
    profile of every tenant."""
    counts = PaymentProfile.objects.filter(tenant=tenant, status_rank__in=_WAITING).aggregate(
        profiles=Count("pk", filter=Q(status_rank=STATUS_RANK[Status.PENDING])),
        changes=Count("pk", filter=Q(status_rank=STATUS_RANK[Status.CHANGE_PENDING])),
    )
    return Awaiting(**counts)


# The Admin menu's badge counts to here and then says "99+": its query stops after
# this many rows, so its cost does not grow with the tenant (the dashboard and the
# filtered Users page give the exact numbers).
MENU_COUNT_CAP = 100


def awaiting_admin_badge(tenant: Tenant) -> str:
    """The Admin menu's count of what waits for an admin: "" (nothing), "1" … "99",
    or "99+". One query that reads at most MENU_COUNT_CAP rows.

    Written in SQL, the same SQL the ORM writes for ``awaiting_admin``'s rows (tests
    compare the two): the ORM took 0.45 ms to build it on every admin page, 0.03 ms
    to run it, and it was the Users page's dearest part after its rows."""
    table = PaymentProfile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE tenant_id = %s"
            f" AND status_rank IN ({', '.join(['%s'] * len(_WAITING))}) LIMIT %s) AS waiting",
            [tenant.pk, *_WAITING, MENU_COUNT_CAP],
        )
        (count,) = cursor.fetchone()
    if count >= MENU_COUNT_CAP:
        return f"{MENU_COUNT_CAP - 1}+"
    return str(count) if count else ""


# `?plan=none`: the users on no plan, whom the Users page shows as "Bundles only".
NO_PLAN = "none"


def _plan_filter(plan: str, user: str = "") -> Q:
    """What `?plan=` keeps: NO_PLAN or a plan id of the tenant's (accounts.forms.
    UserFilterForm makes sure), on users (or, with ``user="user__"``, profiles)."""
    if plan == NO_PLAN:
        return Q(**{f"{user}plan": None})
    return Q(**{f"{user}plan_id": int(plan)})


def user_list_for_admin(
    *, tenant: Tenant, q: str = "", status: str = "", plan: str = "", sort: str = DEFAULT_SORT
) -> QuerySet[User]:
    """The tenant's users for the Users page, in the page's order; `status`, `plan`
    and `q` filter (each may be empty). The page reads its pages with
    ``user_list_page`` (the same users and order, from whichever table's index
    serves them)."""
    users = User.objects.filter(tenant=tenant)
    if q:
        users = users.filter(_search(q))
    if status:
        users = users.filter(_status_filter(tenant, status))
    if plan:
        users = users.filter(_plan_filter(plan))
    return users.order_by(*_ordering(sort, [*USER_SORTS[sort.lstrip("-")], F("pk")]))


def _search(q: str, user: str = "") -> Q:
    return Q(**{f"{user}name__icontains": q}) | Q(**{f"{user}email__icontains": q})


# The columns that may be NULL: their NULLs are placed explicitly (first ascending,
# last descending, on both databases). The others are not: on PostgreSQL an index
# serves "ORDER BY x NULLS FIRST" only if it was built so, NOT NULL column or not.
_NULLABLE = {"payment_profile__state_changed_at", "state_changed_at"}


def _ordering(sort: str, columns: list[F]) -> list:
    if sort.startswith("-"):
        return [
            column.desc(nulls_last=True) if column.name in _NULLABLE else column.desc()
            for column in columns
        ]
    return [
        column.asc(nulls_first=True) if column.name in _NULLABLE else column.asc()
        for column in columns
    ]


def _on_profile(column: F) -> F:
    """A column of USER_SORTS said from the profile's side."""
    if column.name.startswith(_PROFILE):
        return F(column.name.removeprefix(_PROFILE))
    return F(f"user__{column.name}")


def _profile_keys(*, tenant: Tenant, status: str, plan: str, sort: str) -> QuerySet:
    """The users' keys in the order of `sort`, from their profiles (and the indexes
    billing.0007 made for the sorts on a profile column; a plan filter joins the
    users)."""
    profiles = PaymentProfile.objects.filter(tenant=tenant)
    if status:
        profiles = profiles.filter(_status_filter(tenant, status, profile=""))
    if plan:
        profiles = profiles.filter(_plan_filter(plan, user="user__"))
    columns = [*map(_on_profile, USER_SORTS[sort.lstrip("-")]), F("user_id")]
    return profiles.order_by(*_ordering(sort, columns)).values_list("user_id", flat=True)


# A status filter in the order of a user's column (user_list_page) reads its keys by
# how many users it keeps (k) of the tenant's n. Walking the users' index and
# looking each one's profile up reads n/k users for each one shown: cheap for a
# common status, most of the tenant for a rare one. Their keys from the profile's
# index, sorted, cost what they number. Or those keys as a set that the walk checks
# each user against: a walk of n/k index entries a row shown, much cheaper than
# n/k profiles, plus reading the set. Measured at 100,000 users, the keys of a
# first page on SQLite / PostgreSQL: a 1% status (950) walked 12 / 40 ms, sorted
# 2 / 36 (PostgreSQL's planner walks them anyway), as a set 1.8 / 1.9 ms; 10 users
# sorted 0.3 / 0.8 ms, as a set 14 / 19 (the set walk reads the whole tenant);
# 8,000 users walked 1.5 / 1.9 ms, as a set 4 / 2.5. Hence, in multiples of √n:
FEW = 16  # k at most FEW·√n (5,000 of 100,000): the keys from the profile's index,
FEWEST = 1  # and at most FEWEST·√n of them sorted (PostgreSQL itself sorts so few).


def _search_indexed() -> bool:
    """Whether an index serves the search: on PostgreSQL (accounts.0008's trigram
    index). SQLite has none and scans either way; its walk stops at the page's last
    match, so there the search's keys are walked."""
    return connection.vendor == "postgresql"


def _one_of(keys: QuerySet) -> Case:
    """``pk IN (keys)`` as a test of each user rather than a join. PostgreSQL makes
    a join of a plain ``IN (subquery)`` and then walks the users' index looking up
    each one's profile; inside a CASE the subquery stays one, read once into a
    hashed set (on SQLite an index) that the walk checks each user against."""
    return Case(When(pk__in=keys, then=Value(True)), default=Value(False))


def user_list_page(
    *,
    tenant: Tenant,
    q: str = "",
    status: str = "",
    plan: str = "",
    sort: str = DEFAULT_SORT,
    number: str | int,
    per_page: int,
) -> Page:
    """Page `number` of ``user_list_for_admin(...)``, each user as the plain values
    a row shows (``_LISTED``), in two queries whatever the page (the count, and the
    rows with their keys from a subquery); one when nothing is filtered (the count
    is ``tenant.user_count``: pass the tenant as freshly read as the request's user).

    Each read from the table whose index serves it, every such index leading with
    the tenant: the keys of a sort on a profile column from the profile's indexes
    (copies of the tenant and the status on the profile: the join of every user to
    their profile sorted 100,000 rows for a page of 50); the count of a status from
    the profile's status index. A search is read from the users (on PostgreSQL a
    trigram index: accounts.0008). The rows are read by key, their keys from a
    subquery, ``id IN (SELECT … LIMIT 50 OFFSET n)`` of the keys alone, from an
    index (read backwards for the pages past the middle): an OFFSET over the whole
    join would join every row before the page only to throw it away.
    """
    users = user_list_for_admin(tenant=tenant, q=q, status=status, plan=plan, sort=sort)
    keys = users.values_list("pk", flat=True)
    counted = keys
    on_profile = USER_SORTS[sort.lstrip("-")][0].name.startswith(_PROFILE)
    if not q and (on_profile or status):
        profiles = _profile_keys(tenant=tenant, status=status, plan=plan, sort=sort)
        keys = profiles if on_profile else keys
        counted = profiles if status else counted
    # Unfiltered, the count is the tenant's own (kept by the database: accounts.0009),
    # as read with the request's user: no query.
    total = counted.count() if q or status or plan else tenant.user_count
    root = math.isqrt(tenant.user_count)
    if q and not on_profile and total <= FEWEST * root and _search_indexed():
        # A search few users match: their keys from the search index, sorted. The
        # planner, which expects a long pattern to match a few dozen, would rather
        # walk the users' index testing each one: 54,000 users walked for one e-mail
        # at 100,000 (47 ms; read and sorted, 10). The subquery is limited, which
        # PostgreSQL cannot pull up into a join, so it reads the matches first:
        # the plain IN became that same walk at 1,000,000 users (the whole tenant
        # probed by key for one e-mail: 3.6 s). Limited to the bound, not to the
        # count: LIMIT 1 made a sequential scan that stops at the first match look
        # cheaper than the index (a scan of half the tenant at 100,000: 29 ms).
        matched = users.order_by().values("pk")[: max(FEWEST * root, 1)]
        keys = User.objects.filter(tenant=tenant, pk__in=matched)
        keys = keys.order_by(*users.query.order_by).values_list("pk", flat=True)
    elif status and not q and not on_profile and total <= FEW * root:
        # A status few have, in the order of a user's column (FEW, above).
        chosen = PaymentProfile.objects.filter(tenant=tenant)
        chosen = chosen.filter(_status_filter(tenant, status, profile="")).values("user_id")
        keys = User.objects.filter(tenant=tenant)
        keys = keys.filter(Q(pk__in=chosen) if total <= FEWEST * root else _one_of(chosen))
        keys = (keys.filter(_plan_filter(plan)) if plan else keys).order_by(*users.query.order_by)
        keys = keys.values_list("pk", flat=True)
    paginator = Paginator(keys, per_page)
    paginator.count = total  # a cached_property: set before get_page reads it
    page = paginator.get_page(number)
    start, end = page.start_index() - 1, page.end_index()
    if start > paginator.count - end:
        # Nearer the end than the start: the same keys read backwards, so that the
        # last page costs what the first does (an OFFSET walks every row it skips).
        page.object_list = keys.reverse()[paginator.count - end : paginator.count - start]
    page.object_list = list(
        User.objects.filter(pk__in=page.object_list)
        .annotate(**_LISTED)
        .order_by(*users.query.order_by)
        .values_list("pk", "name", "email", "is_tenant_admin", "plan_name", *_LISTED, named=True)
    )
    return page


# What a row of the Users page shows (accounts.user_rows), read as plain values:
# the same 50 rows as model instances (each user with their tenant, plan, profile
# and pending change) cost 4.8 ms at 1,000 users on SQLite, 3.9 of them building
# the instances; as values, 0.9 ms. The plan's name is the user's own copy
# (``User.plan_name``, "" for no plan).
_LISTED = {
    "state": F(f"{_PROFILE}state"),
    "method": F(f"{_PROFILE}method"),
    "status_rank": F(f"{_PROFILE}status_rank"),
    "changed_at": F(f"{_PROFILE}state_changed_at"),
    "card_brand": F(f"{_PROFILE}card_brand"),
    "card_last4": F(f"{_PROFILE}card_last4"),
    "card_exp_month": F(f"{_PROFILE}card_exp_month"),
    "card_exp_year": F(f"{_PROFILE}card_exp_year"),
    "pending_change_id": F(f"{_PROFILE}pending_change_id"),
}


def admin_actions(profile: PaymentProfile, actor: User) -> tuple[str, ...]:
    """The acts `actor` may run on `profile` now, in the order the Actions dropdown
    offers them: some of "activate", "decline", "deactivate" and "review" (a
    pending change).

    Read from the model's own transition declarations (sources and permission), the
    same ones the services check on POST, so the dropdown cannot drift from what
    would be allowed. Needs no query when the profile's user is joined in.
    """
    available = {t.name for t in profile.get_available_user_state_transitions(actor)}
    actions = [name for name in ADMIN_TRANSITIONS if name in available]
    if profile.pending_change_id and can_administer(profile, actor):
        actions.append("review")
    return tuple(actions)


def user_for_admin(*, admin: User, pk: int) -> User:
    """The user `pk` of the admin's own tenant, or 404: another tenant's user does not
    exist as far as this admin is concerned."""
    if not admin.tenant_id:
        raise Http404("No tenant.")
    return get_object_or_404(
        User.objects.select_related("plan", "tenant", "payment_profile__pending_change"),
        pk=pk,
        tenant_id=admin.tenant_id,
    )


def plans_for_tenant(tenant: Tenant) -> QuerySet[Plan]:
    return Plan.objects.filter(tenant=tenant).order_by("name")
