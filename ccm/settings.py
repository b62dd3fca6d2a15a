"""Settings for the CCM, read from the environment.

The defaults are for local development on 127.0.0.1 only (DEBUG on, a throwaway
key, SQLite, mail printed to the console). Production is asked for explicitly with
``DEBUG=false``: then ``SECRET_KEY`` and ``ALLOWED_HOSTS`` are required and secure
cookies, HSTS and the HTTPS redirect switch on.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# Local development (DEBUG on) gets a throwaway key; anything else must set one.
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS (comma-separated) when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Absolute links in e-mails are built from this.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_fsm_log",
    "django_countries",
    "mailer",
    "axes",
    "csp",
    "ninja",  # the API's Swagger UI files (static/ninja/)
    # Sign-in (identity/): allauth's accounts, its OpenID Connect and SAML providers
    # (configured per tenant in the database as SocialApps) and its two-factor app.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "accounts",
    "billing",
    "identity",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Permissions-Policy, and no-store for logged-in users: before WhiteNoise, so that
    # static files get the policy and keep their own cache headers.
    "accounts.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.timezones.TenantTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything reads the body or the query string (views, CSRF's process_view,
    # axes); after the middleware that put headers on every response, the 400 too.
    "accounts.security.RequestCharsetMiddleware",
    "axes.middleware.AxesMiddleware",
    # allauth's sign-in state (its login stages, the request for its adapters).
    "allauth.account.middleware.AccountMiddleware",
    # Superusers' second factor before /django-admin/ (identity/policy.py).
    "identity.policy.SuperuserTwoFactorMiddleware",
    "accounts.holds.HoldMiddleware",
]

ROOT_URLCONF = "ccm.urls"
WSGI_APPLICATION = "ccm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing.context_processors.admin_menu",
                "billing.context_processors.card_expiry",
                "accounts.holds.navigation",
            ],
        },
    },
    {
        # The Users page's rows only (billing/jinja2.py says why).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "billing.jinja2.environment"},
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the other writer instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login throttling: after AXES_FAILURE_LIMIT failures for one e-mail address from one
# IP address, that pair is locked out for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
# One key per address on every path that takes a password (/login/, the admin site's
# login, password changes): stripped and lower-cased, as the login form does.
AXES_USERNAME_CALLABLE = "accounts.security.axes_username"
AXES_LOCKOUT_CALLABLE = "accounts.security.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)
# The client's address, as django-ipware reads it for axes. PROXY_COUNT is the number of
# reverse proxies in front that each append the address they got the request from to
# X-Forwarded-For (nginx: $proxy_add_x_forwarded_for). The client is then the
# PROXY_COUNT-th entry from the right: what the first proxy saw. Entries to its left
# are the client's own words and are skipped (IPWARE_STRICT off, or a client sending
# X-Forwarded-For would be refused a chain and fall back to the proxy's address).
# In ipware's terms the entries after the client are proxy_count, one fewer: the last
# proxy is REMOTE_ADDR, not in the header. With no proxy, X-Forwarded-For is ignored.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
if PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"PROXY_COUNT must be 0 or more, not {PROXY_COUNT}")
if PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR",)
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT - 1
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
    AXES_IPWARE_PROXY_COUNT = None
# A request without a usable X-Forwarded-For (it did not come through the proxies) is
# keyed by its connection's address, not by None (accounts.security.client_address).
AXES_CLIENT_IP_CALLABLE = "accounts.security.client_address"
AXES_VERBOSE = False

# --- Sign-in through allauth: SSO per tenant and two-factor (identity/) -------------
# Our own login page (accounts.views.LoginView) stays the way in; allauth supplies the
# identity providers' protocols, the two-factor devices and its login stages. Nobody
# signs up on their own: users are added by an admin, or at a first SSO sign-in when
# the tenant allows it (identity.adapters).
ACCOUNT_ADAPTER = "identity.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "identity.adapters.SocialAccountAdapter"
MFA_ADAPTER = "identity.adapters.MFAAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
# A sudo act (identity.policy.sudo_required) asks for the second factor again when the
# last one is older than this (seconds).
SUDO_MAX_AGE = env_int("SUDO_MAX_AGE_MINUTES", 15) * 60
ACCOUNT_REAUTHENTICATION_METHODS = ["mfa"]
ACCOUNT_REAUTHENTICATION_TIMEOUT = SUDO_MAX_AGE
# Wrong codes are counted by django-axes, as wrong passwords are (identity/forms.py),
# in the database for every process; allauth's own limits live in a per-process cache.
ACCOUNT_RATE_LIMITS = False
SOCIALACCOUNT_ENABLED = True
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS = {
    # OpenID Connect with a nonce, PKCE and the ID token's signature always checked.
    "openid_connect": {
        "provider_class": "identity.oidc.TenantOIDCProvider",
        "OAUTH_PKCE_ENABLED": True,
    },
    "saml": {"provider_class": "identity.saml.TenantSAMLProvider"},
}
# Outgoing calls to identity providers (discovery, keys, tokens, SAML metadata).
SOCIALACCOUNT_REQUESTS_TIMEOUT = env_int("SSO_REQUESTS_TIMEOUT", 10)
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "CloudCenter")
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_PASSKEY_SIGNUP_ENABLED = False
MFA_FORMS = {
    "authenticate": "identity.forms.ThrottledAuthenticateForm",
    "reauthenticate": "identity.forms.ThrottledReauthenticateForm",
}
# WebAuthn needs a secure origin; http://127.0.0.1 and localhost count as one for
# browsers, and allauth is told so only with DEBUG on (development and tests).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Local development and tests serve static files straight from static/ (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Mail -------------------------------------------------------------------
# Every message is queued as a row (django-mailer) in the caller's transaction and
# delivered by the mail worker (`manage.py mail_worker`).
EMAIL_BACKEND = "accounts.mail.QueueBackend"  # django-mailer's, Message-ID fixed when queued
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CloudCenter <no-reply@ccm.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAILER_EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
# Several workers on several hosts are safe: each message is claimed with a row lock.
MAILER_USE_FILE_LOCK = False
MAILER_WORKER_INTERVAL = env_int("MAILER_WORKER_INTERVAL", 5)  # seconds between queue checks
# A failed message is retried until it is delivered (no MAILER_EMAIL_MAX_RETRIES: mail
# is never given up on): MAILER_RETRY_INTERVAL seconds after its first failure, then
# twice as long after each further one, at most MAILER_RETRY_MAX_INTERVAL.
MAILER_RETRY_INTERVAL = env_int("MAILER_RETRY_INTERVAL", 60)
MAILER_RETRY_MAX_INTERVAL = env_int("MAILER_RETRY_MAX_INTERVAL", 3600)
# Not delivered this many seconds after it was queued: logged as an ERROR, once.
MAILER_STUCK_AFTER = env_int("MAILER_STUCK_AFTER", 3600)
# The mail worker also runs the scheduled jobs (billing/jobs.py: digests, reminders,
# expiring cards) every JOBS_INTERVAL seconds; 0 leaves them to cron (`run_jobs`).
JOBS_INTERVAL = env_int("JOBS_INTERVAL", 300)
if JOBS_INTERVAL < 0:
    raise ImproperlyConfigured(f"JOBS_INTERVAL must be 0 or more, not {JOBS_INTERVAL}")

# Bulk actions on the Users page (billing/bulk.py): a selection of up to
# BULK_INLINE_MAX users runs in the request; a larger one is run by the mail worker
# (or `manage.py run_jobs bulk_actions`) while its page shows the progress. At most
# BULK_MAX_USERS users in one bulk action.
BULK_INLINE_MAX = env_int("BULK_INLINE_MAX", 200)
BULK_MAX_USERS = env_int("BULK_MAX_USERS", 10_000)
# A message that cannot be sent is deferred, not allowed to stop the queue behind it.
MAILER_ERROR_HANDLER = "accounts.mail.defer_on_error"

# --- Card payments: Stripe (billing/processor.py, billing/webhooks.py) ------------
# The card goes from the browser to Stripe (Stripe.js); this server reads back what it
# keeps (brand, last four, expiry, ids). Production sets the three keys of its Stripe
# account and nothing else. Without keys, card entry says it is not set up (Invoice
# still works). `make run` and the tests point STRIPE_API_BASE and STRIPE_JS_URL at
# localstripe, a stand-in on loopback.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Empty: Stripe's own (https://api.stripe.com); else a stand-in's address.
STRIPE_API_BASE = env_str("STRIPE_API_BASE").rstrip("/")
STRIPE_JS_URL = env_str("STRIPE_JS_URL", "https://js.stripe.com/v3/")
STRIPE_TIMEOUT = env_int("STRIPE_TIMEOUT", 20)  # seconds per call to Stripe
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2)
# An event whose signature is older than this many seconds is refused (a replay).
STRIPE_WEBHOOK_TOLERANCE = env_int("STRIPE_WEBHOOK_TOLERANCE", 300)


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""


# What the Payment Information page's Content-Security-Policy adds for Stripe.js
# (billing.views.profile_edit; no other page loads it): the origins Stripe documents
# for Stripe.js with the Card Element (the script and its frames from js.stripe.com
# and its subdomains, the 3-D Secure frames from hooks.stripe.com, its calls to
# api.stripe.com), or the stand-in's one origin.
if STRIPE_JS_URL == "https://js.stripe.com/v3/":
    STRIPE_CSP = {
        "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
        "frame-src": [
            "https://js.stripe.com",
            "https://*.js.stripe.com",
            "https://hooks.stripe.com",
        ],
        "connect-src": ["https://api.stripe.com"],
    }
else:
    STRIPE_CSP = {
        directive: [_origin(STRIPE_JS_URL)]
        for directive in ("script-src", "frame-src", "connect-src")
    }

# --- API ---------------------------------------------------------------------
# Calls one API token may make per minute (counted on the token's row, so the limit
# holds across processes and hosts); the next gets 429 with Retry-After.
API_CALLS_PER_MINUTE = env_int("API_CALLS_PER_MINUTE", 120)

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading is a promise to browsers that is slow to undo, for the owner of the
    # domain to make (SECURE_HSTS_PRELOAD=true); not a deployment mistake to warn about.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
if env_bool("BEHIND_TLS_PROXY", False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No inline scripts or styles anywhere: everything comes from our own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A 403 or 404 is a visitor asking for what they may not have: one INFO line.
    "filters": {"refusals_as_info": {"()": "accounts.logs.RefusalsAsInfo"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"level": "INFO", "filters": ["refusals_as_info"]},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # The SDK logs each answer's whole body at DEBUG (a SetupIntent's client secret,
        # a card's billing details): never that, whatever LOG_LEVEL says.
        "stripe": {"level": "INFO"},
    },
}
