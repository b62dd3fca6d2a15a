from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.timezones import validate_time_zone

# The numeric settings of the scheduled jobs and the range each one allows: the one
# statement of it (the fields' validators, the Settings form and the service read it).
SETTING_RANGES = {"pending_digest_after_hours": (1, 720), "card_grace_days": (0, 60)}


def _in_range(field: str) -> list:
    low, high = SETTING_RANGES[field]
    return [MinValueValidator(low), MaxValueValidator(high)]


class Tenant(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    require_payment_profile = models.BooleanField(
        "Require users on paid subscription plans to set up a payment profile",
        default=False,
    )
    time_zone = models.CharField(
        "Time zone",
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Times in CloudCenter are shown in this zone to every user of the tenant.",
    )
    # What the scheduled jobs (billing/jobs.py) do for this tenant; the Settings page
    # (accounts.forms.TenantSettingsForm) says each in a sentence.
    pending_digest = models.BooleanField("Daily digest of what waits for the admins", default=True)
    pending_digest_after_hours = models.PositiveSmallIntegerField(
        "Waiting longer than (hours)",
        default=24,
        validators=_in_range("pending_digest_after_hours"),
    )
    setup_reminders = models.BooleanField(
        "Remind users who have not set up a payment profile", default=True
    )
    card_grace_days = models.PositiveSmallIntegerField(
        "Days an expired card is still accepted",
        default=7,
        validators=_in_range("card_grace_days"),
    )
    # Sign-in (identity/): admins must have a second factor before the admin area; a
    # user added at a first SSO sign-in gets the default plan (none: bundles only).
    admins_must_use_two_factor = models.BooleanField(
        "Admins must use two-factor sign-in", default=False
    )
    default_plan = models.ForeignKey(
        "Plan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="Default plan",
    )
    # How many users the tenant has: the "122 users" of the Users page, read with the
    # request's user (its tenant is joined in) instead of counting the tenant's users
    # on every page (bench/results.md has what that cost).
    # Kept by database triggers (accounts.0009) on every insert, delete and change of
    # tenant of a user, whichever way it is written (the ORM, bulk_create, COPY, raw
    # SQL), in the writing transaction. Never written from Python (see save()), nor
    # dumped: loaddata starts a tenant at 0 and its users' rows count themselves in.
    user_count = models.PositiveIntegerField(default=0, editable=False, serialize=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Saves every field but ``user_count`` of an existing tenant: the copy in
        memory may be older than the triggers' count (a user added since it was
        read), and writing it back would undo their work."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "user_count"
            ]
        super().save(*args, **kwargs)


class Plan(models.Model):
    class Kind(models.TextChoices):
        SUBSCRIPTION = "subscription", "Paid subscription plan"
        BUNDLE = "bundle", "Bundle"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Ignoring case, so the list stays readable: the one check of the rule.
            models.UniqueConstraint(
                "tenant",
                Lower("name"),
                name="plan_unique_name_per_tenant_ci",
                violation_error_message="This tenant already has a plan with this name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_paid_subscription(self) -> bool:
        return self.kind == self.Kind.SUBSCRIPTION


# E-mail addresses are the login names of the whole installation, kept lower-case
# (UserManager and User.clean normalise them), so the column's unique constraint is
# the one check; every form and service shows its refusal in these words. They do
# not say which tenant the other account is in.
EMAIL_TAKEN = "A user with this e-mail address already exists. Use another address."


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("Users need an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        extra.setdefault("terms_accepted_at", timezone.now())
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in to the console: by e-mail, within one tenant.

    Superusers (operators of the whole installation) may have no tenant.
    """

    email = models.EmailField("Email", unique=True, error_messages={"unique": EMAIL_TAKEN})
    name = models.CharField(max_length=150)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    is_tenant_admin = models.BooleanField("Tenant admin", default=False)
    plan = models.ForeignKey(
        Plan,
        on_delete=models.SET_NULL,
        related_name="users",
        null=True,
        blank=True,
        help_text="Leave empty for users on bundles only.",
    )
    # A copy of the plan's name ("" for no plan, which sorts first as no plan does),
    # for the Users page's sort by plan: read from an index led by the tenant
    # (user_list_plan_name_idx) instead of joining every user of the tenant to their
    # plan and sorting them all. Kept by save() and, when a plan is renamed or
    # deleted, by accounts.signals. The database's default too, for rows written by
    # SQL (the bench seed, raw INSERTs).
    plan_name = models.CharField(
        max_length=100, blank=True, default="", db_default="", editable=False
    )
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name", "email"]
        # The Users page's default order and its order by e-mail, each ending in the
        # primary key as the page does: a page's keys come from the index alone
        # (an index-only scan on PostgreSQL), however deep the page. The e-mail one
        # holds the name too: for the sorts on a profile column SQLite picks the
        # narrower index, and without the name it reads every user's row.
        # The plan filter in the default order, and the sort by plan (its name, then
        # the default order).
        indexes = [
            models.Index(fields=["tenant", "name", "email", "id"], name="user_list_name_idx"),
            models.Index(fields=["tenant", "email", "name", "id"], name="user_list_email_name_idx"),
            models.Index(
                fields=["tenant", "plan", "name", "email", "id"], name="user_list_plan_idx"
            ),
            models.Index(
                fields=["tenant", "plan_name", "name", "email", "id"],
                name="user_list_plan_name_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def save(self, *args, **kwargs) -> None:
        """Saves the copy of the plan's name with the plan, however few fields the
        save names (not on a login's last_login, which names only that)."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"plan", "plan_id"} & set(update_fields):
            self.plan_name = self.plan.name if self.plan_id else ""
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "plan_name"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()
        if self.plan_id and self.plan.tenant_id != self.tenant_id:
            raise ValidationError({"plan": "Pick a plan of the user's own tenant."})

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class PasswordLinkRequest(models.Model):
    """One "Forgot your password" request, for at most PASSWORD_LINKS_PER_HOUR links
    to one address an hour. Kept for every address typed, known or not (so the
    limit says nothing about which addresses have accounts), and only as a keyed
    hash of it; rows older than a day are deleted as new ones come in."""

    email_digest = models.CharField(max_length=64)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["email_digest", "requested_at"], name="password_link_idx")]

    def __str__(self) -> str:
        return f"Password link requested at {self.requested_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A tenant admin's key to the API (billing/api.py). It acts as the admin who made
    it, in their tenant, for as long as they are an active tenant admin and it is
    neither revoked nor expired. Only a SHA-256 of its secret is kept: the token
    itself ("ccm_<id>_<secret>") is shown once, when it is made.

    ``window_started_at`` and ``window_count`` are the throttle's fixed window,
    kept on the row every call updates anyway (``last_used_at``), so the limit
    holds across processes and hosts without a shared cache."""

    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return self.name

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class IdempotencyKey(models.Model):
    """The first answer to an act sent with an ``Idempotency-Key`` header, per token:
    a repeat with the same key gets it back instead of acting again. ``fingerprint``
    (a SHA-256 of method, path and body) tells a repeat from another request reusing
    the key. The unique constraint is what makes concurrent repeats wait for the
    first; keys are forgotten after a day (billing.api.IDEMPOTENCY_TTL)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"Idempotency key {self.key}"
