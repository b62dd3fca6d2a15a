from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts import services
from accounts.admin_area import admin_next_url, tenant_admin_required
from accounts.forms import (
    ApiTokenForm,
    LoginForm,
    PlanCreateForm,
    TenantSettingsForm,
    TermsForm,
    UserCreateForm,
    UserPlanForm,
)
from accounts.holds import PAYMENT_PROFILE, TERMS, open_while, start_url
from accounts.selectors import plans_for_tenant, user_for_admin
from accounts.services import AccountError
from accounts.tokens import api_token_create as api_token_create_service
from accounts.tokens import api_token_revoke as api_token_revoke_service
from accounts.tokens import token_for_admin, tokens_for_admin
from identity.policy import has_device, sudo_refusal, sudo_required
from identity.selectors import sso_names
from identity.sign_in import password_signed_in, sso_begin


class LoginView(auth_views.LoginView):
    """Our login page, the one way in: the password checked by Django (throttled by
    django-axes), then allauth's login stages (the second factor of anyone who has
    set one up); or, for an address whose domain has SSO, on to its provider."""

    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:
        if form.sso is not None:
            return sso_begin(self.request, form.sso, next_url=self.get_success_url())
        return password_signed_in(self.request, form.get_user(), next_url=self.get_success_url())


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard (for admins, what waits for them: billing's admin_menu context)."""
    return render(request, "accounts/home.html", {"nav": "home"})


@open_while(TERMS, PAYMENT_PROFILE)
@login_required
@require_http_methods(["GET", "POST"])
def terms(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.terms_accepted_at is not None:
        return redirect("accounts:home")
    form = TermsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user.terms_accepted_at = timezone.now()
        user.save(update_fields=["terms_accepted_at"])
        messages.success(request, "Thank you for accepting the terms of agreement.")
        return redirect(start_url(user))  # the gate, if the next hold is the payment profile
    return render(request, "accounts/terms.html", {"form": form})


@open_while(PAYMENT_PROFILE)
@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/account.html",
        {
            "nav": "account",
            "two_factor_on": has_device(request.user),
            "sso_accounts": sso_names(request.user),
        },
    )


# --- Admin area ---------------------------------------------------------------


def _form_error(form, error: AccountError) -> None:
    """Show a service's refusal next to the field it is about."""
    form.add_error(error.field if error.field in form.fields else None, str(error))


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    """Add user: they get an e-mail with a link to set their password."""
    tenant = request.user.tenant
    form = UserCreateForm(request.POST if request.method == "POST" else None, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                actor=request.user,
                tenant=tenant,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                plan=form.cleaned_data["plan"],
                is_tenant_admin=form.cleaned_data["is_tenant_admin"],
            )
        except AccountError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"{user.name} added. An e-mail to {user.email} asks them to set a password.",
            )
            return redirect("billing:user_list")
    return render(
        request,
        "accounts/user_create.html",
        {"form": form, "nav": "admin", "admin_nav": "users"},
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def user_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """Change plan: move a user of the tenant to another of its plans."""
    target = user_for_admin(admin=request.user, pk=pk)
    next_url = admin_next_url(request)
    form = UserPlanForm(
        request.POST if request.method == "POST" else None,
        tenant=request.user.tenant,
        initial={"plan": target.plan_id},
    )
    if request.method == "POST" and form.is_valid():
        plan = form.cleaned_data["plan"]
        try:
            services.user_change_plan(actor=request.user, user=target, plan=plan)
        except AccountError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"{target.name} is now on {plan.name if plan else 'no plan (bundles only)'}.",
            )
            return redirect(next_url)
    return render(
        request,
        "accounts/user_plan.html",
        {
            "form": form,
            "target": target,
            "next": next_url,
            "unavailable": services.user_plan_refusal(actor=request.user, user=target),
            "nav": "admin",
            "admin_nav": "users",
        },
    )


@tenant_admin_required
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    plans = plans_for_tenant(request.user.tenant).annotate(user_count=Count("users"))
    return render(
        request,
        "accounts/plan_list.html",
        {"plans": plans, "nav": "admin", "admin_nav": "plans"},
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def plan_create(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    form = PlanCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_create(
                tenant=tenant, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"]
            )
        except AccountError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Plan {plan.name} added.")
            return redirect("accounts:plan_list")
    return render(
        request,
        "accounts/plan_create.html",
        {"form": form, "nav": "admin", "admin_nav": "plans"},
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def tenant_settings(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    form = TenantSettingsForm(
        request.POST if request.method == "POST" else None,
        initial={
            "require_payment_profile": tenant.require_payment_profile,
            "time_zone": tenant.time_zone,
            "pending_digest": tenant.pending_digest,
            "pending_digest_after_hours": tenant.pending_digest_after_hours,
            "setup_reminders": tenant.setup_reminders,
            "card_grace_days": tenant.card_grace_days,
            "admins_must_use_two_factor": tenant.admins_must_use_two_factor,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Sudo acts: turning the payment requirement off, changing two-factor's rule.
        two_factor = data["admins_must_use_two_factor"]
        if (tenant.require_payment_profile and not data["require_payment_profile"]) or (
            two_factor != tenant.admins_must_use_two_factor
        ):
            refusal = sudo_refusal(request)
            if refusal:
                return refusal
        try:
            services.tenant_update_settings(
                tenant=tenant,
                require_payment_profile=data["require_payment_profile"],
                time_zone=data["time_zone"] or None,
                pending_digest=data["pending_digest"],
                pending_digest_after_hours=data["pending_digest_after_hours"],
                setup_reminders=data["setup_reminders"],
                card_grace_days=data["card_grace_days"],
                admins_must_use_two_factor=two_factor,
            )
        except AccountError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("accounts:tenant_settings")
    return render(
        request,
        "accounts/tenant_settings.html",
        {"form": form, "tenant": tenant, "nav": "admin", "admin_nav": "settings"},
    )


# --- Admin > API tokens ------------------------------------------------------------


@tenant_admin_required
@require_GET
def api_token_list(request: HttpRequest) -> HttpResponse:
    """The tenant's API tokens: name, who made it, when, last used, expiry, revoked."""
    return render(
        request,
        "accounts/api_token_list.html",
        {
            "tokens": tokens_for_admin(request.user),
            "now": timezone.now(),
            "nav": "admin",
            "admin_nav": "tokens",
        },
    )


@tenant_admin_required
@sudo_required
@require_http_methods(["GET", "POST"])
def api_token_create(request: HttpRequest) -> HttpResponse:
    """New token. The POST answers with the token itself, once, rather than a
    redirect: carrying the secret to another page would mean storing it."""
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        new = api_token_create_service(
            admin=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at
        )
        return render(
            request,
            "accounts/api_token_created.html",
            {"token": new.token, "plaintext": new.plaintext, "nav": "admin", "admin_nav": "tokens"},
        )
    return render(
        request,
        "accounts/api_token_create.html",
        {"form": form, "nav": "admin", "admin_nav": "tokens"},
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke: a confirmation page, and the POST that revokes at once."""
    token = token_for_admin(admin=request.user, pk=pk)
    if request.method == "POST":
        api_token_revoke_service(admin=request.user, token=token)
        messages.success(request, f"API token {token.name} revoked. Calls with it are refused.")
        return redirect("accounts:api_token_list")
    return render(
        request,
        "accounts/api_token_revoke.html",
        {"token": token, "nav": "admin", "admin_nav": "tokens"},
    )
