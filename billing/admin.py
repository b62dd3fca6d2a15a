"""The payment profile in Django's admin site: details to look at, state read-only,
and Activate/Deactivate as admin actions that go through the same services as the
console (so the same checks, log entry and e-mail)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_fsm_log.admin import StateLogInline

from billing.models import PaymentProfile
from billing.services import (
    PaymentProfileError,
    payment_profile_activate,
    payment_profile_deactivate,
)


@admin.register(PaymentProfile)
class PaymentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "method", "state", "state_changed_at")
    list_filter = ("state", "method", "user__tenant")
    list_select_related = ("user__tenant",)
    search_fields = ("user__email", "user__name", "company_name")
    ordering = ("-state_changed_at",)
    inlines = [StateLogInline]
    actions = ["activate", "deactivate"]
    # Nothing here is edited by hand: the state only moves through the services, and
    # the details are the user's to change (they go back to pending when they do).
    # The Stripe customer and PaymentMethod ids are shown: an operator looks them up
    # in Stripe's dashboard (they are references, not card data).

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Tenant", ordering="user__tenant__name")
    def tenant(self, profile: PaymentProfile):
        return profile.user.tenant

    def _run(self, request: HttpRequest, queryset: QuerySet, service, done: str) -> None:
        changed = 0
        for profile in queryset.select_related("user"):
            try:
                service(actor=request.user, user=profile.user)
            except PaymentProfileError as error:
                self.message_user(request, str(error), level=messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(
                request, f"{changed} payment profile{'s' if changed != 1 else ''} {done}."
            )

    @admin.action(description="Activate")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, payment_profile_activate, "activated")

    @admin.action(description="Deactivate")
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, payment_profile_deactivate, "deactivated")
