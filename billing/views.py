from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from billing.forms import PaymentProfileForm
from billing.gateway import CardError
from billing.models import State
from billing.selectors import profile_of, user_is_gated
from billing.services import PaymentProfileError, payment_profile_submit


@sensitive_post_parameters("card_number", "cvc")
@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    """The Payment Information page: choose Credit Card or Invoice, fill in, Save."""
    profile = profile_of(request.user)
    if request.method == "POST":
        form = PaymentProfileForm(request.POST)
        if form.is_valid():
            try:
                payment_profile_submit(
                    user=request.user,
                    method=form.cleaned_data["method"],
                    details=form.invoice_details(),
                    card=form.card_input(),
                )
            except CardError as error:
                form.add_error("card_number", str(error))
            except PaymentProfileError as error:
                messages.error(request, str(error))
            else:
                messages.success(
                    request,
                    "Your payment profile is saved and pending activation by your admin. "
                    "You cannot use CloudCenter until your admin activates it.",
                )
                return redirect("billing:profile_edit")
    else:
        form = PaymentProfileForm(initial=PaymentProfileForm.initial_from(profile))
    return render(
        request,
        "billing/profile_edit.html",
        {"form": form, "profile": profile, "nav": "account", "State": State},
    )


@login_required
def gate(request: HttpRequest) -> HttpResponse:
    """Where a user who needs an active payment profile is held, told what to do next."""
    if not user_is_gated(request.user):
        return redirect("accounts:home")
    return render(
        request, "billing/gate.html", {"profile": profile_of(request.user), "State": State}
    )
