from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def tenant_admin_required(view):
    """Admin area views: log in first; then tenant admins only (others get 403).

    The ``admin_area`` mark tells the payment-profile gate to let admins through.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (user.is_tenant_admin and user.tenant_id):
            raise PermissionDenied("Only tenant admins can open the admin area.")
        return view(request, *args, **kwargs)

    protected = login_required(wrapped)
    protected.admin_area = True
    return protected
