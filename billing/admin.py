"""The payment profile in Django's admin site: details to look at, state read-only,
and the acts of billing.acts that need no reason (Activate, Deactivate) as admin
actions, through the same services as the console (so the same checks, log entry
and e-mail)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_fsm_log.admin import StateLogInline

from billing.acts import ACTS, Act, service_of
from billing.models import PaymentProfile
from billing.services import PaymentProfileError


def _admin_action(act: Act):
    """A Django admin action running `act` on each selected profile."""

    def run(model_admin, request: HttpRequest, queryset: QuerySet) -> None:
        changed = 0
        for profile in queryset.select_related("user"):
            try:
                service_of(act.decision())(actor=request.user, user=profile.user)
            except PaymentProfileError as error:
                model_admin.message_user(request, str(error), level=messages.ERROR)
            else:
                changed += 1
        if changed:
            model_admin.message_user(
                request,
                f"{changed} payment profile{'s' if changed != 1 else ''} {act.bulk.done}.",
            )

    run.__name__ = act.name  # the action's key on the changelist
    return admin.action(description=act.bulk.button)(run)


@admin.register(PaymentProfile)
class PaymentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "method", "state", "state_changed_at")
    list_filter = ("state", "method", "user__tenant")
    list_select_related = ("user__tenant",)
    search_fields = ("user__email", "user__name", "company_name")
    ordering = ("-state_changed_at",)
    inlines = [StateLogInline]
    actions = [_admin_action(act) for act in ACTS.values() if act.in_django_admin]
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
