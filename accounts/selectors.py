"""Reads for the admin area: the Users page and the one tenant-scoped user lookup."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Plan, Tenant, User
from billing.models import PaymentProfile, State

# The sortable columns of the Users page: the `sort` parameter's allowed values and
# the order each one means. Anything else falls back to DEFAULT_SORT, so a crafted
# parameter can never reach order_by().
USER_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "email"),
    "email": ("email",),
    "plan": ("plan__name", "name"),
    "method": ("profile_method", "name"),
    "status": ("profile_status", "name"),
    "changed": ("payment_profile__state_changed_at", "name"),
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


def user_list_for_admin(
    *, tenant: Tenant, q: str = "", status: str = "", sort: str = DEFAULT_SORT
) -> QuerySet[User]:
    """The tenant's users for the Users page, with plan and payment profile joined in.

    One query for the rows whatever their number: the plan and the profile come
    through joins (`select_related`), and the status and method are annotated
    (when filtered or sorted on) so that users without a profile row count as
    "none" and "".
    """
    users = User.objects.filter(tenant=tenant).select_related("plan", "payment_profile")
    sort = clean_sort(sort)
    descending = sort.startswith("-")
    fields = USER_SORTS[sort.lstrip("-")]
    # Join the profile into the count query only when the filter or the order needs
    # it: the plain first page counts the tenant's users alone.
    if status in STATUS_FILTERS or fields[0] == "profile_status":
        users = users.annotate(
            profile_status=Coalesce(F("payment_profile__state"), Value(State.NONE))
        )
    if fields[0] == "profile_method":
        users = users.annotate(profile_method=Coalesce(F("payment_profile__method"), Value("")))
    q = (q or "").strip()
    if q:
        users = users.filter(Q(name__icontains=q) | Q(email__icontains=q))
    if status in STATUS_FILTERS:
        users = users.filter(profile_status=status)
    ordering = [
        F(fields[0]).desc(nulls_last=True) if descending else F(fields[0]).asc(nulls_last=True),
        *fields[1:],
        "pk",
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
