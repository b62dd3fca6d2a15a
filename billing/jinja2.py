"""The Jinja2 environment of the Users page's rows (templates/jinja2/): the one
part of the product rendered with Jinja2 rather than the Django template language,
because its 50 rows are the page's dearest part (README, "Performance", has the
figures). The globals and filters are the DTL tags the rows would otherwise use:
``url`` (Django's reverse), ``timestamp`` and ``status_badge``."""

from __future__ import annotations

from django.urls import reverse
from jinja2 import Environment

from accounts.templatetags.timestamps import timestamp
from billing.badges import status_badge


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(url=lambda name, *args: reverse(name, args=args))
    env.filters.update(timestamp=timestamp, status_badge=status_badge)
    return env
