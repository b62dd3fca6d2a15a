"""``{% status_badge status %}``: a profile's status as a badge (billing.badges).
``{% awaiting_admin as awaiting %}``: what waits for the tenant's admins (the
dashboard: billing.user_list.awaiting_admin), for a tenant admin; None for others.
``details|address_lines`` and ``details|tax_id``: an invoice's address in its
country's order and its tax ID formatted (billing.addresses, billing.tax_ids), as
everywhere else they are shown."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from billing.addresses import address_lines as _address_lines
from billing.badges import status_badge as _status_badge
from billing.tax_ids import tax_id_display
from billing.user_list import Awaiting
from billing.user_list import awaiting_admin as _awaiting_admin

register = template.Library()


@register.simple_tag
def status_badge(status) -> SafeString:
    return _status_badge(status)


@register.simple_tag(takes_context=True)
def awaiting_admin(context) -> Awaiting | None:
    user = context["request"].user
    if not (user.is_authenticated and user.is_tenant_admin and user.tenant_id):
        return None
    return _awaiting_admin(user.tenant)


@register.filter
def address_lines(details) -> list[str]:
    return _address_lines(details)


@register.filter
def tax_id(details) -> str:
    return tax_id_display(details.country, details.tax_id)
