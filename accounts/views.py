from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.decorators import tenant_admin_required
from accounts.forms import LoginForm, TermsForm
from billing.selectors import pending_count, profile_of, user_is_gated


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {"nav": "home", "profile": profile_of(request.user)}
    if request.user.is_tenant_admin and request.user.tenant_id:
        context["pending_count"] = pending_count(request.user.tenant)
    return render(request, "accounts/home.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def terms(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.terms_accepted_at is not None:
        return redirect("accounts:home")
    form = TermsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user.terms_accepted_at = timezone.now()
        user.save(update_fields=["terms_accepted_at"])
        messages.success(request, "Thank you for accepting the terms of agreement.")
        if user_is_gated(user):
            return redirect("billing:gate")
        return redirect("accounts:home")
    return render(request, "accounts/terms.html", {"form": form})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/account.html",
        {"profile": profile_of(request.user), "nav": "account"},
    )


# --- Admin area ---------------------------------------------------------------


@tenant_admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # replaced by the admin-side work
