from __future__ import annotations

from functools import wraps

from django.shortcuts import redirect

from billing.selectors import user_is_gated


def payment_profile_required(view):
    """For views that must always be gated, whatever the middleware's exemptions."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if user_is_gated(request.user):
            return redirect("billing:gate")
        return view(request, *args, **kwargs)

    return wrapped
