from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from accounts import services
from accounts.admin_area import admin_next_url, tenant_admin_required
from accounts.exports import USER_COLUMNS, csv_stream, export_filename, user_rows
from accounts.forms import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    ApiTokenForm,
    LoginForm,
    PlanCreateForm,
    TenantSettingsForm,
    TermsForm,
    UserCreateForm,
    UserFilterForm,
    UserPlanForm,
)
from accounts.holds import PAYMENT_PROFILE, TERMS, open_while
from accounts.selectors import (
    DEFAULT_SORT,
    NO_PLAN,
    STATUS_FILTERS,
    awaiting_admin,
    plans_for_tenant,
    user_for_admin,
    user_list_for_admin,
    user_list_page,
)
from accounts.services import AccountError
from accounts.timezones import tenant_zone
from accounts.tokens import api_token_create as api_token_create_service
from accounts.tokens import api_token_revoke as api_token_revoke_service
from accounts.tokens import token_for_admin, tokens_for_admin
from accounts.user_rows import RowBuilder
from billing.selectors import user_is_gated
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
    context = {"nav": "home", "profile": request.user.payment_profile}
    if request.user.is_tenant_admin and request.user.tenant_id:
        context["awaiting"] = awaiting_admin(request.user.tenant)
    return render(request, "accounts/home.html", context)


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
        if user_is_gated(user):
            return redirect("billing:gate")
        return redirect("accounts:home")
    return render(request, "accounts/terms.html", {"form": form})


@open_while(PAYMENT_PROFILE)
@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/account.html",
        {
            "profile": request.user.payment_profile,
            "nav": "account",
            "two_factor_on": has_device(request.user),
            "sso_accounts": sso_names(request.user),
        },
    )


# --- Admin area ---------------------------------------------------------------


@tenant_admin_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    """Admin > Users: the tenant's users with search, filters, sorting, pages."""
    tenant = request.user.tenant
    filters = UserFilterForm(request.GET, tenant=tenant)
    filters.is_valid()  # always valid: each parameter falls back to its default
    chosen = filters.cleaned_data
    page = user_list_page(
        tenant=tenant,
        number=chosen["page"],
        per_page=chosen["size"],
        **{key: chosen[key] for key in ("q", "status", "plan", "sort")},
    )
    return render(request, "accounts/user_list.html", user_list_context(request, filters, page))


def user_list_context(request: HttpRequest, filters: UserFilterForm, page) -> dict:
    """What the Users page shows of `page` (``user_list_page``) under `filters` (a
    cleaned UserFilterForm whose plans are read), built from memory: no query. The
    bench's floor (c) renders the page with it from a page read before the timing."""
    q, status, plan, sort, size = (
        filters.cleaned_data[key] for key in ("q", "status", "plan", "sort", "size")
    )
    here = request.get_full_path()
    builder = RowBuilder(admin=request.user, here=here)
    rows = [builder.row(user) for user in page.object_list]
    shown_size = str(size) if size != DEFAULT_PAGE_SIZE else ""
    shown_sort = sort if sort != DEFAULT_SORT else ""
    return {
        "nav": "admin",
        "admin_nav": "users",
        "page": page,
        "rows": rows,
        "rows_html": mark_safe("\n".join(row.html for row in rows)),  # each one escaped
        "q": q,
        "status": status,
        "plan": plan,
        "sort": sort,
        "size": size,
        "filtered": filters.is_filtered,
        "count_text": _count_text(
            page.paginator.count, request.user.tenant.user_count, filtered=filters.is_filtered
        ),
        "status_choices": STATUS_FILTERS.items(),
        "plan_choices": [(str(p.pk), p.name) for p in filters.plans],
        "no_plan": NO_PLAN,
        "page_sizes": PAGE_SIZES,
        "page_numbers": _page_numbers(page),
        "columns": _columns(sort),
        "filter_query": _query(q=q, status=status, plan=plan, size=shown_size),
        "page_query": _query(q=q, status=status, plan=plan, sort=shown_sort, size=shown_size),
        "export_query": _query(q=q, status=status, plan=plan, sort=shown_sort).rstrip("&"),
        "here": here,
    }


@tenant_admin_required
@require_GET
def user_export(request: HttpRequest) -> StreamingHttpResponse:
    """The Users page's list as CSV: every user of the current search, filters and
    sort (not only a page), written as it is read from the database."""
    tenant = request.user.tenant
    filters = UserFilterForm(request.GET, tenant=tenant)
    filters.is_valid()  # always valid, as on the page
    users = user_list_for_admin(
        tenant=tenant, **{key: filters.cleaned_data[key] for key in ("q", "status", "plan", "sort")}
    )
    response = StreamingHttpResponse(
        csv_stream(USER_COLUMNS, user_rows(users, tenant)), content_type="text/csv; charset=utf-8"
    )
    today = timezone.localdate(timezone=tenant_zone(tenant))
    filename = export_filename("users", tenant, today)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _count_text(count: int, total: int, *, filtered: bool) -> str:
    """ "41 of 122 users" when a filter is on, "122 users" when not ("1 user")."""
    users = "user" if total == 1 else "users"
    return f"{count:,} of {total:,} {users}" if filtered else f"{count:,} {users}"


PAGE_WINDOW = 2  # page numbers shown either side of the current one (1 on a phone)


def _page_numbers(page) -> list[dict]:
    """The page numbers around the current one, for the pagination: each with
    whether it is the current page and whether it is the window's outer pair
    (hidden on a phone), and a gap where pages are left out."""
    last = page.paginator.num_pages
    low, high = max(1, page.number - PAGE_WINDOW), min(last, page.number + PAGE_WINDOW)
    numbers = []
    if low > 1:
        numbers.append({"gap": True})
    for number in range(low, high + 1):
        numbers.append(
            {
                "number": number,
                "current": number == page.number,
                "far": abs(number - page.number) > 1,
            }
        )
    if high < last:
        numbers.append({"gap": True})
    return numbers


_COLUMNS = (
    ("name", "Name"),
    ("email", "Email"),
    ("plan", "Plan"),
    ("method", "Payment Method"),
    ("status", "Profile Status"),
    ("changed", "Last Changed"),
)


def _columns(sort: str) -> list[dict]:
    """Header cells: clicking a column sorts by it, clicking it again reverses."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for key, label in _COLUMNS:
        active = key == current
        columns.append(
            {
                "label": label,
                "sort": f"-{key}" if active and not descending else key,
                "active": active,
                "descending": active and descending,
            }
        )
    return columns


def _query(**params: str) -> str:
    """A query string of the non-empty parameters, ending in '&' when not empty so a
    template can append one more parameter."""
    kept = {key: value for key, value in params.items() if value}
    return urlencode(kept) + "&" if kept else ""


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
            return redirect("accounts:user_list")
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
