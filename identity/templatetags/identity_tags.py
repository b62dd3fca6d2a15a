import json

from django import template

register = template.Library()


@register.filter
def as_json(value) -> str:
    """A value as JSON, for a data- attribute (autoescaped there): how the WebAuthn
    options reach static/js/webauthn.js under a CSP without inline scripts."""
    return json.dumps(value)
