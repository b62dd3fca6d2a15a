from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import awaiting_admin_badge


def admin_menu(request: HttpRequest) -> dict:
    """What the Admin menu counts for a tenant admin: profiles and changes that wait
    for an admin, capped ("99+"). Lazy: the query runs only on pages that show the
    menu."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not (user.is_tenant_admin and user.tenant_id):
        return {}
    return {"awaiting_admin_badge": SimpleLazyObject(lambda: awaiting_admin_badge(user.tenant))}
