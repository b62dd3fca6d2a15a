"""``{% status_badge status %}``: a profile's status as a badge (billing.badges)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from billing.badges import status_badge as _status_badge

register = template.Library()


@register.simple_tag
def status_badge(status) -> SafeString:
    return _status_badge(status)
