"""Reads for the admin area: the one tenant-scoped user lookup and the tenant's plans.
(The Users page's reads are billing's: billing/user_list.py.)"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Plan, Tenant, User


def user_for_admin(*, admin: User, pk: int) -> User:
    """The user `pk` of the admin's own tenant, or 404: another tenant's user does not
    exist as far as this admin is concerned. With their tenant, plan and payment
    profile (and its pending change) loaded."""
    if not admin.tenant_id:
        raise Http404("No tenant.")
    return get_object_or_404(
        User.objects.select_related("plan", "tenant", "payment_profile__pending_change"),
        pk=pk,
        tenant_id=admin.tenant_id,
    )


def plans_for_tenant(tenant: Tenant) -> QuerySet[Plan]:
    return Plan.objects.filter(tenant=tenant).order_by("name")
