"""Admin > Sign-in: a tenant admin sets up single sign-on. Every change is a sudo act
(identity.policy): it asks for a fresh second factor."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.admin_area import tenant_admin_required
from identity import services
from identity.forms import DomainForm, OidcForm, SamlForm, SsoOptionsForm
from identity.models import SsoDomain, TenantSso
from identity.policy import sudo_refusal, sudo_required
from identity.selectors import sso_of_tenant

_NAV = {"nav": "admin", "admin_nav": "sso"}


def _form_error(form, error: services.SsoError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error))


def sp_details(request: HttpRequest, tenant) -> dict:
    """What an admin copies into their identity provider."""
    slug = tenant.slug
    return {
        "oidc_redirect_uri": request.build_absolute_uri(
            reverse("openid_connect_callback", args=[slug])
        ),
        "oidc_logout_uri": request.build_absolute_uri(reverse("accounts:login")),
        "saml_metadata_url": request.build_absolute_uri(reverse("saml_metadata", args=[slug])),
        "saml_acs_url": request.build_absolute_uri(reverse("saml_acs", args=[slug])),
        "saml_sls_url": request.build_absolute_uri(reverse("saml_sls", args=[slug])),
    }


@tenant_admin_required
@require_GET
def sso_settings(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    sso = sso_of_tenant(tenant)
    return render(
        request,
        "identity/sso_settings.html",
        {
            "tenant": tenant,
            "sso": sso,
            "domains": SsoDomain.objects.filter(tenant=tenant),
            "break_glass": list(sso.break_glass.all()) if sso else [],
            "idp": (sso.app.settings.get("parsed_idp") if sso and sso.protocol == "saml" else None),
            **sp_details(request, tenant),
            **_NAV,
        },
    )


@tenant_admin_required
@sudo_required
@require_http_methods(["GET", "POST"])
def sso_oidc(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    sso = sso_of_tenant(tenant)
    initial = {}
    if sso and sso.protocol == TenantSso.Protocol.OIDC:
        initial = {"issuer": sso.app.settings.get("server_url", ""), "client_id": sso.app.client_id}
    form = OidcForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.sso_set_oidc(
                tenant=tenant,
                actor=request.user,
                issuer=form.cleaned_data["issuer"],
                client_id=form.cleaned_data["client_id"],
                client_secret=form.cleaned_data["client_secret"],
            )
        except services.SsoError as error:
            _form_error(form, error)
        else:
            messages.success(request, "OpenID Connect saved. Your users sign in through it.")
            return redirect("identity:sso_settings")
    return render(
        request,
        "identity/sso_oidc.html",
        {"form": form, "sso": sso, **sp_details(request, tenant), **_NAV},
    )


@tenant_admin_required
@sudo_required
@require_http_methods(["GET", "POST"])
def sso_saml(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    sso = sso_of_tenant(tenant)
    initial = {}
    if sso and sso.protocol == TenantSso.Protocol.SAML:
        initial = {"metadata_url": sso.app.settings.get("idp", {}).get("metadata_url", "")}
    form = SamlForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.sso_set_saml(
                tenant=tenant,
                actor=request.user,
                metadata_url=form.cleaned_data["metadata_url"],
                metadata_xml=form.cleaned_data["metadata_xml"],
            )
        except services.SsoError as error:
            _form_error(form, error)
        else:
            messages.success(request, "SAML 2.0 saved. Your users sign in through it.")
            return redirect("identity:sso_settings")
    return render(
        request,
        "identity/sso_saml.html",
        {"form": form, "sso": sso, **sp_details(request, tenant), **_NAV},
    )


@tenant_admin_required
@sudo_required
@require_http_methods(["GET", "POST"])
def sso_options(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    sso = sso_of_tenant(tenant)
    if sso is None:
        messages.error(request, "Set up your identity provider first.")
        return redirect("identity:sso_settings")
    form = SsoOptionsForm(
        request.POST if request.method == "POST" else None,
        tenant=tenant,
        initial={
            "first_sign_in": sso.first_sign_in,
            "default_plan": tenant.default_plan_id,
            "sso_only": sso.sso_only,
            "break_glass": list(sso.break_glass.values_list("pk", flat=True)),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.sso_set_options(
                tenant=tenant,
                actor=request.user,
                first_sign_in=data["first_sign_in"],
                default_plan=data["default_plan"],
                sso_only=data["sso_only"],
                break_glass=list(data["break_glass"]),
            )
        except services.SsoError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Sign-in options saved.")
            return redirect("identity:sso_settings")
    return render(request, "identity/sso_options.html", {"form": form, **_NAV})


@tenant_admin_required
@sudo_required
@require_http_methods(["GET", "POST"])
def sso_remove(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    sso = sso_of_tenant(tenant)
    if sso is None:
        messages.info(request, "Your tenant has no single sign-on to remove.")
        return redirect("identity:sso_settings")
    if request.method == "POST":
        services.sso_remove(tenant=tenant, actor=request.user)
        messages.success(request, "Single sign-on removed. Your users sign in with passwords.")
        return redirect("identity:sso_settings")
    return render(request, "identity/sso_remove.html", {"sso": sso, **_NAV})


@tenant_admin_required
@sudo_required
@require_http_methods(["GET", "POST"])
def domain_add(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    form = DomainForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            claim = services.domain_claim(
                tenant=tenant, actor=request.user, domain=form.cleaned_data["domain"]
            )
        except services.SsoError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"{claim.domain} claimed. It takes effect once a CloudCenter operator has "
                "confirmed that it is yours.",
            )
            return redirect("identity:sso_settings")
    return render(request, "identity/domain_add.html", {"form": form, **_NAV})


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def domain_remove(request: HttpRequest, pk: int) -> HttpResponse:
    claim = get_object_or_404(SsoDomain, pk=pk, tenant=request.user.tenant)
    refusal = sudo_refusal(request)  # after the look-up: a stranger's claim is a 404
    if refusal:
        return refusal
    if request.method == "POST":
        services.domain_withdraw(tenant=request.user.tenant, actor=request.user, pk=claim.pk)
        messages.success(request, f"{claim.domain} removed: its users sign in with passwords.")
        return redirect("identity:sso_settings")
    return render(request, "identity/domain_remove.html", {"claim": claim, **_NAV})
