"""Django's admin site (/django-admin/) for the installation's operators (superusers).

Tenant admins never come here: they have the admin area of the console itself.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from mailer.admin import MessageAdmin
from mailer.models import PRIORITY_DEFERRED, Message

from accounts.forms import ThrottledAdminPasswordChangeForm
from accounts.mail import Failures, failures_of, next_try_at, requeue
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


# --- Mail queue (django-mailer's Message) -----------------------------------------
# What operators look at when mail is stuck (see accounts/mail.py): who, what, when
# queued, how often delivery failed and why, and "Retry now".


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


admin.site.unregister(Message)


@admin.register(Message)
class QueuedMessageAdmin(MessageAdmin):
    list_display = (
        "id",
        "recipients",
        "subject",
        "queued",
        "is_deferred",
        "failed_attempts",
        "last_error",
        "next_try",
    )
    list_filter = ("priority",)
    list_per_page = 50
    date_hierarchy = None
    ordering = ("when_added",)
    actions = ["retry_now"]
    fields = ("recipients", "subject", "when_added", "priority", "retry_count", "plain_text_body")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # only the app queues mail

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a queued message is looked at, retried or deleted, not edited

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        failures = failures_of(changelist.result_list)  # one look-up for the page
        for message in changelist.result_list:
            message.failures = failures.get(message.pk)
        return changelist

    def _failures(self, message: Message) -> Failures | None:
        if not hasattr(message, "failures"):
            message.failures = failures_of([message]).get(message.pk)
        return message.failures

    @admin.display(description="To")
    def recipients(self, message: Message) -> str:
        return ", ".join(message.to_addresses)

    @admin.display(description="Queued", ordering="when_added")
    def queued(self, message: Message) -> datetime:
        return message.when_added

    @admin.display(description="Deferred", boolean=True, ordering="priority")
    def is_deferred(self, message: Message) -> bool:
        return message.priority == PRIORITY_DEFERRED

    @admin.display(description="Failed attempts")
    def failed_attempts(self, message: Message) -> int:
        failures = self._failures(message)
        return failures.count if failures else 0

    @admin.display(description="Last error")
    def last_error(self, message: Message) -> str:
        failures = self._failures(message)
        if failures is None:
            return "—"
        return f"{_when(failures.last_at)}: {failures.last_error}"

    @admin.display(description="Next try")
    def next_try(self, message: Message) -> str:
        if message.priority != PRIORITY_DEFERRED:
            return "next round"
        return _when(next_try_at(message, self._failures(message)))

    @admin.action(description="Retry now")
    def retry_now(self, request, queryset) -> None:
        count = requeue(queryset)
        self.message_user(
            request,
            f"{count} deferred message(s) put back in the queue: the mail worker sends them "
            "on its next round.",
            messages.SUCCESS,
        )
