from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.middleware import is_exempt_path, resolve_request
from billing.selectors import user_is_gated

# What a user who needs a payment profile may still open before it is active.
GATE_EXEMPT = {
    "accounts:login",
    "accounts:logout",
    "accounts:terms",
    "accounts:account",
    "accounts:password_change",
    "accounts:password_change_done",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    "billing:profile_edit",
    "billing:gate",
}


def gate_allows(request: HttpRequest) -> bool:
    if is_exempt_path(request):
        return True
    match = resolve_request(request)
    if match is None:
        return True  # let it 404
    # The admin area (views marked by accounts.decorators.tenant_admin_required) is
    # how a tenant gets profiles activated, so a tenant admin keeps it even while
    # held at the gate themselves; otherwise a lone admin could lock the tenant out.
    return match.view_name in GATE_EXEMPT or getattr(match.func, "admin_area", False)


class PaymentProfileGateMiddleware:
    """Holds a user who needs a payment profile at the gate until it is active."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if user_is_gated(request.user) and not gate_allows(request):
            return redirect("billing:gate")
        return self.get_response(request)
