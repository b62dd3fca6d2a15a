"""What the admin area's views share, in accounts and billing alike: who may open
it, where an action goes back to, and whether the page was fetched for a popup.
(Views never import another app's views; they import this.)"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.holds import PAYMENT_PROFILE, open_while
from identity.policy import admin_area_redirect


def tenant_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Admin area views: log in first; then tenant admins only (others get 403).

    The admin area is how a tenant gets profiles activated, so a tenant admin keeps
    it even while held at the payment-profile gate themselves; otherwise a lone
    admin could lock the tenant out.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not (user.is_tenant_admin and user.tenant_id):
            raise PermissionDenied("Only tenant admins can open the admin area.")
        # "Admins must use two-factor sign-in": set it up (or give it) first.
        return admin_area_redirect(request) or view(request, *args, **kwargs)

    return open_while(PAYMENT_PROFILE)(login_required(wrapped))


def admin_next_url(request: HttpRequest) -> str:
    """Where an admin area action goes afterwards: the Users page as the admin left it
    (search, filter, sort, page), if `next` is a local URL; the plain Users page
    otherwise."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site: redirect() would take anything else without a "/" for a
    # URL name ("a b" → NoReverseMatch, a 500) or a path relative to the action's URL.
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("billing:user_list")


def is_popup_request(request: HttpRequest) -> bool:
    """The Actions dropdown's popups fetch a page with this header (static/js/app.js)
    and get only its content."""
    return request.headers.get("X-Requested-With") == "fetch"
