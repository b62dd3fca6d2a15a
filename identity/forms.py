from __future__ import annotations

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from axes.handlers.proxy import AxesProxyHandler
from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth.signals import user_login_failed

from accounts.models import Plan, Tenant, User
from identity.models import TenantSso

# A text field, not type="url": what the admin typed wrong comes back as typed, which
# a url input may not hold (the Nu checker refuses "not a url" as its value).
URL_INPUT = forms.TextInput(attrs={"inputmode": "url", "spellcheck": "false"})

WRONG_CODE = "That code is not right. Enter the 6 digits your app shows now, or a recovery code."


class ThrottledCode:
    """Two-factor codes are counted by django-axes like passwords: a wrong code is a
    failed log-in of the same key (the address and the client's IP address), so codes
    and passwords share one lockout, kept in the database for every process. While
    locked out, no code is checked, and AxesMiddleware answers with the lockout page."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = "Code"
        self.fields[
            "code"
        ].help_text = "The 6 digits of your authenticator app, or one of your recovery codes."
        self.fields["code"].widget.attrs.update(
            {"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        )
        self.fields["code"].error_messages["required"] = "Enter the code."
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_code(self) -> str:
        request = context.request
        credentials = {"username": self.user.email}
        if not AxesProxyHandler.is_allowed(request, credentials):
            request.axes_locked_out = True
            raise forms.ValidationError("Too many wrong codes.")
        try:
            return super().clean_code()
        except forms.ValidationError:
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            raise forms.ValidationError(WRONG_CODE) from None


class ThrottledAuthenticateForm(ThrottledCode, AuthenticateForm):
    pass


class ThrottledReauthenticateForm(ThrottledCode, ReauthenticateForm):
    pass


# --- Admin > Sign-in (SSO) -----------------------------------------------------------


class _Helper:
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class OidcForm(_Helper, forms.Form):
    issuer = forms.URLField(
        label="Issuer URL",
        max_length=500,
        assume_scheme="https",
        widget=URL_INPUT,
        help_text="Your provider's issuer, e.g. https://acme.okta.com. We read its endpoints "
        "from its discovery document (/.well-known/openid-configuration).",
        error_messages={
            "required": "Enter the issuer URL.",
            "invalid": "Enter a URL, like https://login.example.com.",
        },
    )
    client_id = forms.CharField(
        label="Client ID",
        max_length=191,
        error_messages={"required": "Enter the client ID your provider gave this app."},
    )
    client_secret = forms.CharField(
        label="Client secret",
        max_length=191,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Left empty, the secret on file is kept.",
    )


class SamlForm(_Helper, forms.Form):
    metadata_url = forms.URLField(
        label="IdP metadata URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        widget=URL_INPUT,
        help_text="Where your identity provider publishes its SAML metadata. Or paste the "
        "XML below.",
        error_messages={"invalid": "Enter a URL, like https://idp.example.com/metadata."},
    )
    metadata_xml = forms.CharField(
        label="IdP metadata XML",
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
    )

    def clean(self):
        data = super().clean()
        if not self.errors and not (
            data.get("metadata_url") or data.get("metadata_xml", "").strip()
        ):
            raise forms.ValidationError("Enter the metadata URL, or paste the metadata XML.")
        return data


class AdminChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user: User) -> str:
        return f"{user.name} ({user.email})"


class SsoOptionsForm(_Helper, forms.Form):
    first_sign_in = forms.ChoiceField(
        label="When someone of your domains signs in for the first time",
        choices=TenantSso.FirstSignIn.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what happens at a first sign-in."},
    )
    sso_only = forms.BooleanField(
        label="SSO only: refuse password sign-in",
        required=False,
        help_text="Your users then sign in through your identity provider alone, except the "
        "break-glass admins below.",
    )

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_plan"] = forms.ModelChoiceField(
            label="Plan of a user added at a first sign-in",
            queryset=Plan.objects.filter(tenant=tenant).order_by("name"),
            required=False,
            empty_label="No plan (bundles only)",
            error_messages={"invalid_choice": "Pick one of your tenant's plans."},
        )
        self.fields["break_glass"] = AdminChoice(
            label="Break-glass admins (may still sign in with a password)",
            queryset=User.objects.filter(tenant=tenant, is_tenant_admin=True, is_active=True),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            error_messages={"invalid_choice": "Pick admins of your tenant."},
        )
        self.order_fields(["first_sign_in", "default_plan", "sso_only", "break_glass"])


class DomainForm(_Helper, forms.Form):
    domain = forms.CharField(
        label="E-mail domain",
        max_length=253,
        help_text="Everyone whose address ends in @this domain signs in through your "
        "identity provider, once a CloudCenter operator has confirmed the domain is yours.",
        error_messages={"required": "Enter a domain like example.com."},
    )
