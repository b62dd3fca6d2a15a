"""A profile's status as a badge: the one place its colours are chosen (the Users
page's rows call it for each row; templates through ``{% status_badge %}``)."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.models import Status

_COLOURS = {
    Status.ACTIVE: "text-bg-success",
    Status.CHANGE_PENDING: "text-bg-success",
    Status.PENDING: "text-bg-warning",
    Status.DECLINED: "text-bg-danger",
    Status.INACTIVE: "text-bg-secondary",
}
_PLAIN = "text-bg-light border"  # not set up, not required

# One string per status, built once: the badge does not depend on anything else.
_BADGES = {
    status: format_html(
        '<span class="badge status-badge status-{} {}">{}</span>',
        status.value,
        _COLOURS.get(status, _PLAIN),
        status.label,
    )
    for status in Status
}


def status_badge(status: Status) -> SafeString:
    return _BADGES[Status(status)]
