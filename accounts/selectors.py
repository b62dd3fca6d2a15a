"""Reads for the admin area: the Users page and the one tenant-scoped user lookup."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Plan, Tenant, User
from billing.models import PaymentProfile, State

# A user with no profile row reads as "none" (status) and "" (method), as shown.
_STATUS = Coalesce(F("payment_profile__state"), Value(State.NONE))
_METHOD = Coalesce(F("payment_profile__method"), Value(""))

# The sortable columns of the Users page: the `sort` parameter's allowed values and
# the order each one means. Anything else falls back to DEFAULT_SORT, so a crafted
# parameter can never reach order_by().
USER_SORTS: dict[str, tuple[F | Coalesce, ...]] = {
    "name": (F("name"), F("email")),
    "email": (F("email"),),
    "plan": (F("plan__name"), F("name")),
    "method": (_METHOD, F("name")),
    "status": (_STATUS, F("name")),
    "changed": (F("payment_profile__state_changed_at"), F("name")),
}
DEFAULT_SORT = "name"

# The profile status filter: `?status=pending` is what the dashboard and the admin's
# e-mail link to.
STATUS_FILTERS = tuple(State.values)

# The transitions an admin drives from the Users page, in the order they are offered.
ADMIN_TRANSITIONS = ("activate", "deactivate")


def clean_sort(sort: str | None) -> str:
    """The `sort` parameter if it names a column (optionally with a leading '-')."""
    if sort and sort.lstrip("-") in USER_SORTS and sort.count("-") <= 1:
        return sort
    return DEFAULT_SORT


class UserListQuerySet(QuerySet):
    """The Users page's rows, paged by key: a slice (what Paginator takes for a page)
    reads the page's 50 primary keys first, then only those rows with their joins.

    A plain slice is ``LIMIT 50 OFFSET n`` over the whole join, so the database reads
    and joins every row before the page only to throw it away: the last page of
    100,000 users joined 99,950 rows to show 50. Paged by key, the subquery
    ``id IN (SELECT id … LIMIT 50 OFFSET n)`` walks the user_list_*_idx index alone
    for the name and e-mail orders (and only the columns it orders by for the
    others), and the page's rows are read by primary key. Still one query.
    """

    def __getitem__(self, k):
        if not isinstance(k, slice) or self._iterable_class is not ModelIterable:
            return super().__getitem__(k)
        keys = self.values_list("pk", flat=True)[k]
        return (
            User.objects.filter(pk__in=keys)
            .select_related("plan", "payment_profile")
            .order_by(*self.query.order_by)
        )


def user_list_for_admin(
    *, tenant: Tenant, q: str = "", status: str = "", sort: str = DEFAULT_SORT
) -> QuerySet[User]:
    """The tenant's users for the Users page, with plan and payment profile joined in.

    One query for a page's rows whatever their number: the plan and the profile
    come through joins (`select_related`). The profile is joined into the count
    only when the status filter needs it; the sort expressions are not part of the
    count at all.
    """
    users = UserListQuerySet(User).filter(tenant=tenant).select_related("plan", "payment_profile")
    sort = clean_sort(sort)
    descending = sort.startswith("-")
    first, *rest = USER_SORTS[sort.lstrip("-")]
    q = (q or "").strip()
    if q:
        users = users.filter(Q(name__icontains=q) | Q(email__icontains=q))
    if status == State.NONE:
        users = users.filter(Q(payment_profile__isnull=True) | Q(payment_profile__state=status))
    elif status in STATUS_FILTERS:
        # The profile's own column, not the Coalesce: its index can serve the filter.
        users = users.filter(payment_profile__state=status)
    ordering = [
        first.desc(nulls_last=True) if descending else first.asc(nulls_last=True),
        *rest,
        F("pk"),
    ]
    return users.order_by(*ordering)


def profile_of_loaded(user: User) -> PaymentProfile | None:
    """The profile joined in by the selector (no query), or None if there is none."""
    try:
        return user.payment_profile
    except PaymentProfile.DoesNotExist:
        return None


def admin_actions(profile: PaymentProfile | None, actor: User) -> tuple[str, ...]:
    """The transitions `actor` may run on `profile` now: ("activate",), ("deactivate",)
    or ().

    Read from the model's own transition declarations (sources and permission), the
    same ones the service checks on POST, so the dropdown cannot drift from what
    would be allowed. Needs no query: the profile's user is the joined row.
    """
    if profile is None:
        return ()
    available = {t.name for t in profile.get_available_user_state_transitions(actor)}
    return tuple(name for name in ADMIN_TRANSITIONS if name in available)


def user_for_admin(*, admin: User, pk: int) -> User:
    """The user `pk` of the admin's own tenant, or 404: another tenant's user does not
    exist as far as this admin is concerned."""
    if not admin.tenant_id:
        raise Http404("No tenant.")
    return get_object_or_404(
        User.objects.select_related("plan", "tenant", "payment_profile"),
        pk=pk,
        tenant_id=admin.tenant_id,
    )


def plans_for_tenant(tenant: Tenant) -> QuerySet[Plan]:
    return Plan.objects.filter(tenant=tenant).order_by("name")
