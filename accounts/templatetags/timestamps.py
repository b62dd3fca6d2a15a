"""``{% timestamp value %}``: a time as people read it, in the active (the tenant's)
time zone and naming it, "2026-11-26 14:05 CET"; inside a ``<time>`` whose
``datetime`` is ISO 8601 in UTC to the second, "2026-11-26T13:05:07Z" (the HTML
standard allows at most three fractional digits; we show none)."""

from __future__ import annotations

import datetime

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def timestamp(value: datetime.datetime | None, seconds: bool = False) -> str:
    if not value:
        return ""
    shown = dateformat.format(
        timezone.localtime(value), "Y-m-d H:i:s T" if seconds else "Y-m-d H:i T"
    )
    machine = value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return format_html('<time datetime="{}">{}</time>', machine, shown)
