"""``{% absolute_url "app:name" arg=... %}``: an absolute link for an e-mail, built by
accounts.mail.absolute_url like every other link in our e-mails."""

from __future__ import annotations

from django import template
from django.urls import reverse

from accounts.mail import absolute_url as _absolute_url

register = template.Library()


@register.simple_tag
def absolute_url(view_name: str, *args, **kwargs) -> str:
    return _absolute_url(reverse(view_name, args=args, kwargs=kwargs))
