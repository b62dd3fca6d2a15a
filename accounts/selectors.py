"""Reads for the admin area: the Users page and the one tenant-scoped user lookup."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Plan, Tenant, User
from billing.models import PaymentProfile

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
ADMIN_TRANSITIONS = ("activate", "deactivate")


def user_list_for_admin(
    *, tenant: Tenant, q: str = "", status: str = "", sort: str = DEFAULT_SORT
) -> QuerySet[User]:
    """The tenant's users for the Users page, in the page's order; `status` and `q`
    filter (either may be empty). Read a page of it with ``user_list_page``."""
    users = User.objects.filter(tenant=tenant)
    if q:
        users = users.filter(Q(name__icontains=q) | Q(email__icontains=q))
    if status:
        users = users.filter(payment_profile__state=status)
    descending = sort.startswith("-")
    first, *rest = USER_SORTS[sort.lstrip("-")]
    ordering = [
        first.desc(nulls_last=True) if descending else first.asc(nulls_last=True),
        *rest,
        F("pk"),
    ]
    return users.order_by(*ordering)


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
        .select_related("plan", "payment_profile")
        .order_by(*users.query.order_by)
    )
    return page


def admin_actions(profile: PaymentProfile, actor: User) -> tuple[str, ...]:
    """The transitions `actor` may run on `profile` now: ("activate",), ("deactivate",)
    or ().

    Read from the model's own transition declarations (sources and permission), the
    same ones the service checks on POST, so the dropdown cannot drift from what
    would be allowed. Needs no query when the profile's user is joined in.
    """
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
