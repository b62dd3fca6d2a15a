from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import tenant_admin_required
from accounts.models import User
from accounts.selectors import user_for_admin
from accounts.views import admin_next_url
from billing.forms import PaymentProfileForm, ProfileActivateForm, ProfileDeactivateForm
from billing.gateway import CardError
from billing.models import State
from billing.selectors import profile_history_entries, profile_of, user_is_gated
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_refusal,
    payment_profile_submit,
)


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
@require_GET
def gate(request: HttpRequest) -> HttpResponse:
    """Where a user who needs an active payment profile is held, told what to do next."""
    if not user_is_gated(request.user):
        return redirect("accounts:home")
    return render(
        request, "billing/gate.html", {"profile": profile_of(request.user), "State": State}
    )


# --- Admin area: a tenant admin acts on a user's payment profile ---------------


def _read_only() -> HttpResponse:
    """405 for a page that only shows, answered after the tenant-scoped lookup so that
    another tenant's user is a 404 whatever the method (unlike @require_GET)."""
    return HttpResponseNotAllowed(["GET", "HEAD"])


def _is_fetch(request: HttpRequest) -> bool:
    """The Actions dropdown's popups fetch the page with this header (static/js/app.js)."""
    return request.headers.get("X-Requested-With") == "fetch"


def _profile_action(
    request: HttpRequest,
    pk: int,
    *,
    action: str,
    title: str,
    button: str,
    form_class,
    run,
    done: str,
) -> HttpResponse:
    """Shared by Activate and Deactivate: GET shows the confirmation (a page, or the
    popup's content when fetched); POST runs the service and goes back to the list."""
    target = user_for_admin(admin=request.user, pk=pk)
    next_url = admin_next_url(request)
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                run(target, form.cleaned_data)
            except PaymentProfileError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, done.format(name=target))
            return redirect(next_url)
    else:
        form = form_class()
    profile = profile_of(target)
    context = {
        "target": target,
        "profile": profile,
        "form": form,
        "title": title,
        "button": button,
        "action": action,
        "action_url": request.path,
        "next": next_url,
        "unavailable": payment_profile_refusal(
            user=target, profile=profile, actor=request.user, action=action
        ),
        "nav": "admin",
        "admin_nav": "users",
    }
    if _is_fetch(request):
        return render(request, "billing/_profile_action_modal.html", context)
    return render(request, f"billing/profile_{action}.html", context)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def profile_activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Activate Pay Profile: confirm, then Save."""

    def run(target: User, data: dict) -> None:
        payment_profile_activate(actor=request.user, user=target)

    return _profile_action(
        request,
        pk,
        action="activate",
        title="Activate Pay Profile",
        button="Save",
        form_class=ProfileActivateForm,
        run=run,
        done="Payment profile of {name} activated.",
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def profile_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate Pay Profile: confirm (with an optional reason), then OK."""

    def run(target: User, data: dict) -> None:
        payment_profile_deactivate(actor=request.user, user=target, reason=data["reason"])

    return _profile_action(
        request,
        pk,
        action="deactivate",
        title="Deactivate Pay Profile",
        button="OK",
        form_class=ProfileDeactivateForm,
        run=run,
        done="Payment profile of {name} deactivated.",
    )


@tenant_admin_required
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Billing details: what the user saved (a card only as brand, last four, expiry)."""
    target = user_for_admin(admin=request.user, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    context = {
        "target": target,
        "profile": profile_of(target),
        "next": admin_next_url(request),
        "nav": "admin",
        "admin_nav": "users",
    }
    if _is_fetch(request):
        return render(request, "billing/_profile_detail_modal.html", context)
    return render(request, "billing/profile_detail.html", context)


@tenant_admin_required
def profile_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Every transition of the user's profile, newest first, and the current details."""
    target = user_for_admin(admin=request.user, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    profile = profile_of(target)
    return render(
        request,
        "billing/profile_history.html",
        {
            "target": target,
            "profile": profile,
            "entries": profile_history_entries(profile),
            "next": admin_next_url(request),
            "nav": "admin",
            "admin_nav": "users",
        },
    )
