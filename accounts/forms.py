from __future__ import annotations

from datetime import datetime, time

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, PasswordResetForm
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import SETTING_RANGES, Plan, Tenant, User
from accounts.services import (
    PASSWORD_LINKS_PER_HOUR,
    password_link_available_at,
    password_link_requested,
)
from accounts.timezones import NOT_A_TIME_ZONE, time_zone_choices
from identity.selectors import sso_for_email, sso_only_refusal


class LoginForm(AuthenticationForm):
    """Email and password. Someone whose e-mail domain signs in through their tenant's
    identity provider leaves the password empty and is sent there (``self.sso``);
    a tenant that signs in through SSO only refuses passwords, except from the admins
    it named as break-glass accounts (identity.selectors.sso_only_refusal)."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Your organisation signs in through single sign-on? Leave it empty.",
    )
    error_messages = {
        "invalid_login": "That e-mail address and password do not match. Check both and try again.",
        "inactive": "This account is disabled. Contact your admin.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sso = None
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Log in", css_class="w-100"))

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        email = self.cleaned_data.get("username")
        if not email:
            return self.cleaned_data
        if not self.cleaned_data.get("password"):
            self.sso = sso_for_email(email)
            if self.sso is None:
                self.add_error("password", "Enter your password.")
            return self.cleaned_data
        refusal = sso_only_refusal(email)
        if refusal:
            raise forms.ValidationError(refusal, code="sso_only")
        return super().clean()


class PasswordLinkForm(PasswordResetForm):
    """Forgot your password: also for users an admin added who have not set one yet
    (Django's own form skips users without a usable password), so an expired
    welcome link is never a dead end. Disabled accounts (is_active off) get nothing."""

    def get_users(self, email):
        return User.objects.filter(email__iexact=email.strip(), is_active=True)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        again = password_link_available_at(email)
        if again is not None:
            raise forms.ValidationError(
                f"We have sent {PASSWORD_LINKS_PER_HOUR} links to this address in the last "
                "hour. Check your inbox and spam folder, or ask again after "
                f"{timezone.localtime(again):%H:%M}."
            )
        return email

    def save(self, *args, **kwargs) -> None:
        password_link_requested(self.cleaned_data["email"])
        super().save(*args, **kwargs)


class ThrottledOldPassword:
    """A password change checks the current password through authenticate(), as a
    log-in does, so wrong guesses count towards the same lockout (django-axes) and a
    locked-out account gets the lockout page whatever it typed. Django's own form
    calls check_password(), which nothing counts."""

    def __init__(self, user, *args, request: HttpRequest, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        user = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if user is None or user.pk != self.user.pk:
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class ThrottledPasswordChangeForm(ThrottledOldPassword, PasswordChangeForm):
    pass


class ThrottledAdminPasswordChangeForm(ThrottledOldPassword, AdminPasswordChangeForm):
    """The same, for the password change of Django's admin site."""


class TermsForm(forms.Form):
    accept = forms.BooleanField(
        label="I accept the terms of agreement",
        error_messages={"required": "Tick the box to accept the terms of agreement."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Accept"))


# --- Admin area ----------------------------------------------------------------


class TenantPlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, plan: Plan) -> str:
        return f"{plan.name} ({plan.get_kind_display()})"


def _plan_field(tenant: Tenant) -> TenantPlanChoiceField:
    """Only the tenant's own plans can be chosen; a forged id of another tenant's plan
    is refused as not one of the choices."""
    return TenantPlanChoiceField(
        label="Plan",
        queryset=Plan.objects.filter(tenant=tenant).order_by("name"),
        required=False,
        empty_label="No plan (bundles only)",
        error_messages={"invalid_choice": "Pick one of your tenant's plans."},
    )


class _QueryParameter(forms.CharField):
    """A GET parameter of a list page: optional, and never an error. A NUL is dropped
    (no name or e-mail holds one, and PostgreSQL refuses one in a query) and the
    rest is cut to `max_length`."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> str:
        value = super().to_python(value).replace("\x00", "").strip()
        return value[: self.max_length] if self.max_length else value


class _AdminForm(forms.Form):
    """A form of the admin area, laid out by crispy inside the page's own <form>."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class _Name(forms.CharField):
    """A name typed on one line: runs of whitespace become one space, so a blank one
    is `missing` (the message that says what to type)."""

    def __init__(self, *, missing: str, **kwargs):
        super().__init__(error_messages={"required": missing}, **kwargs)

    def to_python(self, value) -> str:
        return " ".join(super().to_python(value).split())


class UserCreateForm(_AdminForm):
    name = _Name(label="Name", max_length=150, missing="Enter the user's name.")
    email = forms.EmailField(
        label="Email",
        max_length=254,
        error_messages={
            "required": "Enter the user's e-mail address; it is their login.",
            "invalid": "Enter a valid e-mail address, like name@example.com.",
        },
    )
    is_tenant_admin = forms.BooleanField(
        label="Tenant admin (can open Admin: users, plans, settings)", required=False
    )

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"] = _plan_field(tenant)
        self.order_fields(["name", "email", "plan", "is_tenant_admin"])

    def clean_email(self) -> str:
        # Whether the address is taken is the service's to say (the unique constraint).
        return self.cleaned_data["email"].strip().lower()


class UserPlanForm(_AdminForm):
    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"] = _plan_field(tenant)


class PlanCreateForm(_AdminForm):
    name = _Name(label="Name", max_length=100, missing="Enter the plan's name.")
    kind = forms.ChoiceField(
        label="Kind",
        choices=Plan.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a kind: paid subscription plan or bundle.",
            "invalid_choice": "Choose a kind: paid subscription plan or bundle.",
        },
    )


def _setting_number(field: str, unit: str, **kwargs) -> forms.IntegerField:
    """A number of the Settings page, in its range (accounts.models.SETTING_RANGES);
    left out of a POST, it stays as it is."""
    low, high = SETTING_RANGES[field]
    refusal = f"Enter a number of {unit} from {low} to {high}."
    return forms.IntegerField(
        required=False,
        min_value=low,
        max_value=high,
        error_messages={"min_value": refusal, "max_value": refusal, "invalid": refusal},
        **kwargs,
    )


class TenantSettingsForm(_AdminForm):
    require_payment_profile = forms.BooleanField(
        label="Require users on paid subscription plans to set up a payment profile",
        required=False,
        help_text=(
            "When on, users on a paid subscription plan must save a payment profile and "
            "have it activated by an admin before they can use CloudCenter. Users on "
            "bundles only never need one."
        ),
    )
    # Left out of a POST, the zone stays as it is; a name not in the list is refused.
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        required=False,
        help_text=(
            "Times in CloudCenter are shown in this zone (IANA name, for example "
            "Europe/Berlin) to every user of your tenant, with its abbreviation."
        ),
        error_messages={"invalid_choice": NOT_A_TIME_ZONE},
    )
    # The scheduled jobs (billing/jobs.py). The numbers, left out of a POST, stay as
    # they are; the ranges are the model's validators'.
    pending_digest = forms.BooleanField(
        label="Send the admins a daily digest of what waits for them",
        required=False,
        help_text=(
            "Once a day, while payment profiles await activation or changes await approval "
            "for longer than the hours below, every admin gets one e-mail listing them, "
            "oldest first. Nothing is sent on days when nothing has waited that long."
        ),
    )
    pending_digest_after_hours = _setting_number(
        "pending_digest_after_hours",
        "hours",
        label="Put a request in the digest after it has waited (hours)",
        help_text="How long a profile or change may wait before the digest lists it: "
        "from 1 to 720 hours (30 days); 24 by default.",
    )
    setup_reminders = forms.BooleanField(
        label="Remind users who have not set up a payment profile",
        required=False,
        help_text=(
            "A user who must set up a payment profile and has not is e-mailed a reminder "
            "1, 3 and 7 days after their account was created, and no more."
        ),
    )
    admins_must_use_two_factor = forms.BooleanField(
        label="Admins must use two-factor sign-in",
        required=False,
        help_text=(
            "When on, an admin opens the admin area only after setting up an authenticator "
            "app or a security key, and gives it at every sign-in. Changing this, or turning "
            "the payment profile requirement off, asks for your second factor again."
        ),
    )
    card_grace_days = _setting_number(
        "card_grace_days",
        "days",
        label="Keep an expired card active for (days)",
        help_text=(
            "A card is good through the last day of its expiry month; its owner is e-mailed "
            "30 and 7 days before. If no new card is saved, the payment profile is "
            "deactivated this many days after the card expired, and the user and the admins "
            "are e-mailed. From 0 to 60; 7 by default."
        ),
    )


class ApiTokenForm(_AdminForm):
    """Admin > API tokens > New token: a name to tell it by, and an optional expiry."""

    name = _Name(
        label="Name",
        max_length=100,
        help_text="What the token is for, e.g. the ERP system that uses it.",
        missing="Give the token a name, to tell it apart later.",
    )
    expires_on = forms.DateField(
        label="Expires on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The token stops working at the start of this day (your tenant's time "
        "zone). Leave empty for a token that works until it is revoked.",
        error_messages={"invalid": "Enter a date, like 2027-01-31."},
    )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day <= timezone.localdate():
            raise forms.ValidationError("Pick a day after today.")
        return day

    @property
    def expires_at(self):
        """The start of the chosen day in the current (tenant's) time zone, or None."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time.min))
