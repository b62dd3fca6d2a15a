"""Reads for the admin area: the Users page and the one tenant-scoped user lookup."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Plan, Tenant, User
from billing.models import PaymentProfile, State, Status, can_administer
from billing.selectors import card_expiring_filter

# The sortable columns of the Users page and the order each one means. The sort
# and status filter are cleaned by accounts.forms.UserFilterForm before they get
# here: only these keys (optionally with a leading '-') and State values arrive.
USER_SORTS: dict[str, tuple[F, ...]] = {
    "name": (F("name"), F("email")),
    "email": (F("email"),),
    "plan": (F("plan__name"), F("name")),
    "method": (F("payment_profile__method"), F("name")),
    "status": (F("payment_profile__state"), F("name")),
    "changed": (F("payment_profile__state_changed_at"), F("name")),
}
DEFAULT_SORT = "name"

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


def _status_filter(tenant: Tenant, status: str) -> Q:
    """What `?status=` keeps, on the profile's own columns (and the plan's kind, for
    whether a user needs a profile: in this tenant, exactly the paid plans' users,
    if it requires profiles). "card_expiring": active or pending card profiles whose
    card ends within 30 days or has ended (billing.selectors.card_expiring)."""
    needed = Q(plan__kind=Plan.Kind.SUBSCRIPTION) if tenant.require_payment_profile else Q(pk=None)
    state = "payment_profile__state"
    return {
        "awaiting": Q(**{state: State.PENDING}) | Q(payment_profile__pending_change__isnull=False),
        "held": needed & ~Q(**{state: State.ACTIVE}),
        Status.PENDING: Q(**{state: State.PENDING}),
        Status.CHANGE_PENDING: Q(payment_profile__pending_change__isnull=False),
        Status.DECLINED: Q(**{state: State.INACTIVE}, payment_profile__declined_at__isnull=False),
        Status.ACTIVE: Q(**{state: State.ACTIVE}),
        Status.INACTIVE: Q(**{state: State.INACTIVE}, payment_profile__declined_at=None),
        Status.NONE: Q(**{state: State.NONE}) & needed,
        Status.NOT_REQUIRED: Q(**{state: State.NONE}) & ~needed,
        "card_expiring": card_expiring_filter(tenant, timezone.now()),
    }[status]


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

    Runs on every admin page (the Admin menu's badge), so it reads only the rows
    that wait (by the indexes on ``state`` and ``pending_change``), not every
    profile of the tenant: without the first filter the count joined each of the
    tenant's profiles to its user (100,000 users: 57-65 ms a page on SQLite; see
    bench/results.md)."""
    waiting = Q(state=State.PENDING) | Q(pending_change__isnull=False)
    counts = (
        PaymentProfile.objects.filter(user__tenant=tenant)
        .filter(waiting)
        .aggregate(
            profiles=Count("pk", filter=Q(state=State.PENDING)),
            changes=Count("pk", filter=Q(pending_change__isnull=False)),
        )
    )
    return Awaiting(**counts)


# The Admin menu's badge counts to here and then says "99+": its query stops after
# this many rows, so its cost does not grow with the tenant (the dashboard and the
# filtered Users page give the exact numbers).
MENU_COUNT_CAP = 100


def awaiting_admin_badge(tenant: Tenant) -> str:
    """The Admin menu's count of what waits for an admin: "" (nothing), "1" … "99",
    or "99+". One query that reads at most MENU_COUNT_CAP rows."""
    waiting = Q(state=State.PENDING) | Q(pending_change__isnull=False)
    rows = PaymentProfile.objects.filter(user__tenant=tenant).filter(waiting)
    # A profile waiting both ways counts twice on the dashboard, once here: close
    # enough for a badge, and a profile with a pending change is active, not pending.
    count = rows.values("pk")[:MENU_COUNT_CAP].count()
    if count >= MENU_COUNT_CAP:
        return f"{MENU_COUNT_CAP - 1}+"
    return str(count) if count else ""


# `?plan=none`: the users on no plan, whom the Users page shows as "Bundles only".
NO_PLAN = "none"


def user_list_for_admin(
    *, tenant: Tenant, q: str = "", status: str = "", plan: str = "", sort: str = DEFAULT_SORT
) -> QuerySet[User]:
    """The tenant's users for the Users page, in the page's order; `status`, `plan`
    and `q` filter (each may be empty). `plan` is NO_PLAN or a plan id of the
    tenant's (accounts.forms.UserFilterForm makes sure). Read a page of it with
    ``user_list_page``."""
    users = User.objects.filter(tenant=tenant)
    if q:
        users = users.filter(Q(name__icontains=q) | Q(email__icontains=q))
    if status:
        users = users.filter(_status_filter(tenant, status))
    if plan == NO_PLAN:
        users = users.filter(plan=None)
    elif plan:
        users = users.filter(plan_id=int(plan))
    descending = sort.startswith("-")
    first, *rest = USER_SORTS[sort.lstrip("-")]
    ordering = [
        first.desc(nulls_last=True) if descending else first.asc(nulls_last=True),
        *rest,
        F("pk"),
    ]
    return users.order_by(*ordering)


def tenant_user_count(tenant: Tenant) -> int:
    """How many users the tenant has: the "of 122" of a filtered Users page."""
    return User.objects.filter(tenant=tenant).count()


def user_list_page(users: QuerySet[User], *, number: str | int, per_page: int) -> Page:
    """Page `number` of `users`, read by key, with plan and payment profile joined in.

    The count is one query (the profile is joined into it only when the status
    filter needs it). The rows are one more: ``LIMIT 50 OFFSET n`` over the whole
    join would read and join every row before the page only to throw it away (the
    last page of 100,000 users joined 99,950 rows to show 50), so the page's 50
    keys come from a subquery, ``id IN (SELECT id … LIMIT 50 OFFSET n)``, which
    walks the user_list_*_idx index alone for the name and e-mail orders (and only
    the columns it orders by for the others), and the rows are read by key.
    """
    page = Paginator(users.values_list("pk", flat=True), per_page).get_page(number)
    page.object_list = list(
        User.objects.filter(pk__in=page.object_list)
        .select_related("tenant", "plan", "payment_profile__pending_change")
        .order_by(*users.query.order_by)
    )
    return page


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
