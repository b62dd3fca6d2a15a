"""Operators confirm the tenants' domain claims here (/django-admin/)."""

from __future__ import annotations

from django.contrib import admin, messages

from identity import services
from identity.models import SsoDomain, TenantSso


@admin.register(SsoDomain)
class SsoDomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "claimed_at", "claimed_by", "confirmed_at", "confirmed_by")
    list_filter = (("confirmed_at", admin.EmptyFieldListFilter), "tenant")
    search_fields = ("domain", "tenant__name")
    list_select_related = ("tenant", "claimed_by", "confirmed_by")
    readonly_fields = (
        "tenant",
        "domain",
        "claimed_at",
        "claimed_by",
        "confirmed_at",
        "confirmed_by",
    )
    actions = ["confirm", "unconfirm"]

    def has_add_permission(self, request) -> bool:
        return False  # tenants claim domains on Admin > Sign-in

    @admin.action(description="Confirm: the tenant owns these domains")
    def confirm(self, request, queryset) -> None:
        done = 0
        for claim in queryset:
            try:
                services.domain_confirm(claim=claim, operator=request.user)
                done += 1
            except services.DomainConfirmError as error:
                self.message_user(request, str(error), messages.ERROR)
        if done:
            self.message_user(request, f"{done} domain claim(s) confirmed.", messages.SUCCESS)

    @admin.action(description="Withdraw the confirmation")
    def unconfirm(self, request, queryset) -> None:
        for claim in queryset:
            services.domain_unconfirm(claim=claim, operator=request.user)
        self.message_user(request, "Confirmation withdrawn.", messages.SUCCESS)


@admin.register(TenantSso)
class TenantSsoAdmin(admin.ModelAdmin):
    list_display = ("tenant", "protocol", "first_sign_in", "sso_only", "updated_at")
    list_select_related = ("tenant",)
    readonly_fields = ("tenant", "protocol", "app", "updated_at")
    filter_horizontal = ("break_glass",)

    def has_add_permission(self, request) -> bool:
        return False
