"""Logging filters, named in ccm/settings.py LOGGING. Logging is set up before the apps
are loaded, so this module imports nothing of Django's or of ours."""

from __future__ import annotations

import logging


class RefusalsAsInfo(logging.Filter):
    """django.request logs a PermissionDenied (403) as a WARNING with its traceback,
        and a 404 as a WARNING. Both are a visitor asking for what they may not have, not
        a fault of ours: one INFO line each, without the traceback. The API's refusals
    (401 no token, 409 a refused act, 422 a malformed call, 429 throttled) likewise."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in (401, 403, 404, 409, 422, 429):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.exc_info = None
            record.exc_text = None
        return True
