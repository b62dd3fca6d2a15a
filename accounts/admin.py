"""Django's admin site (/django-admin/) for the installation's operators (superusers).

Tenant admins never come here: they have the admin area of the console itself.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.models import Plan, Tenant, User


def _superusers_only(request) -> bool:
    """Only superusers reach the admin site; `is_staff` alone is not enough, so no
    half-privileged staff account can see the tenants' data."""
    user = request.user
    return bool(user.is_active and user.is_superuser)


admin.site.has_permission = _superusers_only


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
    """Django's creation form, with the e-mail address as the login. User.clean()
    lower-cases it; the model's unique constraint refuses one that is taken."""

    class Meta:
        model = User
        fields = ("email", "name", "tenant", "plan", "is_tenant_admin")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


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
