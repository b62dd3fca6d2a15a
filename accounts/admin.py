"""Django's admin site (/django-admin/) for the installation's operators (superusers).

Tenant admins never come here: they have the admin area of the console itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from accounts.forms import ThrottledAdminPasswordChangeForm
from accounts.models import Plan, Tenant, User
from accounts.security import PasswordChangeView


def _superusers_only(request) -> bool:
    """Only superusers reach the admin site; `is_staff` alone is not enough, so no
    half-privileged staff account can see the tenants' data."""
    user = request.user
    return bool(user.is_active and user.is_superuser)


admin.site.has_permission = _superusers_only


class AdminLoginForm(AdminAuthenticationForm):
    """The admin site's login, for superusers only (as `_superusers_only`). Anyone
    else's right password is refused with the words of a wrong one and counted as a
    failed log-in, so no answer tells a right password from a wrong one."""

    def confirm_login_allowed(self, user: User) -> None:
        if not (user.is_active and user.is_superuser):
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self.cleaned_data.get("username")},
                request=self.request,
            )
            raise self.get_invalid_login_error()


def _password_change(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """AdminSite.password_change, with the current password checked as a log-in is
    (accounts.forms.ThrottledOldPassword)."""
    request.current_app = admin.site.name
    return PasswordChangeView.as_view(
        form_class=ThrottledAdminPasswordChangeForm,
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context={**admin.site.each_context(request), **(extra_context or {})},
    )(request)


admin.site.login_form = AdminLoginForm
admin.site.password_change = _password_change


class PlanInline(admin.TabularInline):
    model = Plan
    extra = 0
    fields = ("name", "kind")


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "require_payment_profile")
    list_filter = ("require_payment_profile",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [PlanInline]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "tenant")
    list_filter = ("kind", "tenant")
    search_fields = ("name", "tenant__name")
    list_select_related = ("tenant",)


class UserCreateAdminForm(AdminUserCreationForm):
    """Django's creation form, with the e-mail address as the login."""

    class Meta:
        model = User
        fields = ("email", "name", "tenant", "plan", "is_tenant_admin")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(f"A user with the e-mail {email} already exists.")
        return email


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"A user with the e-mail {email} already exists.")
        return email


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's UserAdmin, adapted to log in by e-mail and to tenants."""

    form = UserChangeAdminForm
    add_form = UserCreateAdminForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("name",)}),
        ("Tenant", {"fields": ("tenant", "plan", "is_tenant_admin", "terms_accepted_at")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "name",
                    "tenant",
                    "plan",
                    "is_tenant_admin",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("email", "name", "tenant", "plan", "is_tenant_admin", "is_active")
    list_filter = ("tenant", "is_tenant_admin", "is_active", "is_superuser")
    list_select_related = ("tenant", "plan")
    search_fields = ("email", "name")
    ordering = ("email",)
