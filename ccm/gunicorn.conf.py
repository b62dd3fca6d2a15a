"""Gunicorn settings for serving the CCM in production (`make serve`).

    gunicorn -c ccm/gunicorn.conf.py [--bind HOST:PORT]

Read from the environment like ccm/settings.py: ``HOST`` and ``PORT`` (default
127.0.0.1:8000), ``WEB_CONCURRENCY`` (worker processes, default 2),
``GUNICORN_TIMEOUT`` (seconds, default 30) and ``BEHIND_TLS_PROXY``.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "ccm.wsgi:application"
# Loopback unless asked otherwise: the app is meant to sit behind a proxy.
bind = f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"
# Each worker is a process with its own database connection; keep the total of all
# web and mail processes under PostgreSQL's max_connections.
workers = _int("WEB_CONCURRENCY", 2)
timeout = _int("GUNICORN_TIMEOUT", 30)
# On TERM a worker finishes the requests it has before exiting.
graceful_timeout = 30
# Access log and errors to stdout/stderr, for the process manager to collect.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Gunicorn 25+ opens a control socket at one fixed path per user ($HOME/.gunicorn/):
# several instances on a host would take it from each other. Not needed here.
control_socket_disable = True

# Gunicorn trusts X-Forwarded-Proto from loopback by default (FORWARDED_ALLOW_IPS).
# Only a TLS-terminating proxy we were told about may say a request came over HTTPS;
# Django reads the header itself then (SECURE_PROXY_SSL_HEADER in ccm/settings.py).
if os.environ.get("BEHIND_TLS_PROXY", "").strip().lower() not in {"1", "true", "yes", "on"}:
    forwarded_allow_ips = ""
