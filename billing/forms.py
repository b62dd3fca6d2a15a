from __future__ import annotations

import re
from datetime import date

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django_countries import countries
from django_countries.fields import LazyTypedChoiceField

from accounts.forms import _QueryParameter
from accounts.models import Plan, Tenant
from billing.acts import BULK_ACTS, CHOOSE_BULK_ACT, DECLINE_REASON, Act, Decision, Reason
from billing.addresses import normalise_postal_code, postal_rules
from billing.models import INVOICE_FIELDS, BillingDetails, Method
from billing.selectors import ACT_LABELS, Cursor
from billing.standing import STATUS_FILTERS
from billing.tax_ids import InvalidTaxId, clean_tax_id, tax_id_display
from billing.user_list import DEFAULT_SORT, NO_PLAN, SORT_VALUES

POSTAL_HELP = "Required where the country has postal codes."
TAX_ID_HELP = "Checked for the country chosen: an EU VAT number with its country prefix."


# Card entry is Stripe.js's (templates/billing/_card_entry.html, static/js/app.js):
# this form never has a card number or CVC field. It carries the SetupIntent Stripe
# confirmed, and the server reads the card from Stripe (billing.processor).
ENTER_CARD = (
    "Enter the card: type its number, expiry and CVC in the card box and save. Card "
    "entry needs JavaScript; if it is off in your browser, turn it on or choose Invoice."
)
ENTER_COUNTRY = "Choose the country of the billing address."

_REQUIRED_FOR = {
    Method.CREDIT_CARD: {
        "cardholder_name": "Enter the cardholder name as it appears on the card.",
        "setup_intent": ENTER_CARD,
    },
    Method.INVOICE: {
        "company_name": "Enter the company name to put on the invoices.",
        "billing_contact": "Enter the name of the person who receives the invoices.",
        "billing_email": "Enter the e-mail address the invoices go to.",
        "address": "Enter the billing address.",
        "city": "Enter the city.",
        "postal_code": "Enter the postal code.",
        "country": ENTER_COUNTRY,
    },
}


class _NotWrittenBack(forms.HiddenInput):
    """A hidden input that never writes its value back into a page sent back."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


def _text(label: str, max_length: int, **attrs) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=False,
        widget=forms.TextInput(attrs=attrs) if attrs else None,
    )


class PaymentProfileForm(forms.Form):
    """The Payment Information page. Validates; the service does the saving."""

    method = forms.ChoiceField(
        label="Payment Method",
        choices=Method.choices,
        initial=Method.CREDIT_CARD,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a payment method: Credit Card or Invoice.",
            "invalid_choice": "Choose a payment method: Credit Card or Invoice.",
        },
    )

    cardholder_name = _text("Cardholder Name", 200, autocomplete="cc-name")
    # The SetupIntent Stripe.js confirmed: an id, never card data. Not written back
    # into a page sent back with errors: the card is entered (and confirmed) again.
    setup_intent = forms.RegexField(
        regex=re.compile(r"^seti_[A-Za-z0-9_]{1,240}$", re.ASCII),
        required=False,
        widget=_NotWrittenBack,
        error_messages={"invalid": ENTER_CARD},
    )

    company_name = _text("Company Name", 200, autocomplete="organization")
    billing_contact = _text("Billing Contact", 200, autocomplete="name")
    billing_email = forms.EmailField(
        label="Billing Email",
        max_length=254,
        required=False,
        error_messages={"invalid": "Enter a valid e-mail address, like billing@example.com."},
    )
    address = _text("Address", 300, autocomplete="address-line1")
    city = _text("City", 100, autocomplete="address-level2")
    region = _text("State / Province (optional)", 100, autocomplete="address-level1")
    postal_code = _text("Postal Code", 20, autocomplete="postal-code")
    country = LazyTypedChoiceField(
        label="Country",
        choices=[("", "Choose a country"), *countries],
        required=False,
        widget=forms.Select(attrs={"autocomplete": "country"}),
        error_messages={"invalid_choice": ENTER_COUNTRY},
    )
    po_number = _text("Purchase Order Number (optional)", 100)
    tax_id = _text("Tax ID (optional)", 50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mark_required()
        self.fields["postal_code"].help_text = POSTAL_HELP
        self.fields["tax_id"].help_text = TAX_ID_HELP
        self.helper = FormHelper()
        self.helper.form_id = "payment-profile-form"
        self.helper.layout = Layout(
            HTML('<p class="form-text mt-0">* required</p>'),
            "method",
            Fieldset(
                "Credit Card",
                "cardholder_name",
                HTML('{% include "billing/_card_entry.html" %}'),
                "setup_intent",
                css_class="js-card-fields",
            ),
            Fieldset(
                "Invoice",
                "company_name",
                "billing_contact",
                "billing_email",
                "address",
                Div(
                    Div("city", css_class="col-sm-6"),
                    Div("region", css_class="col-sm-6"),
                    css_class="row",
                ),
                Div(
                    Div("postal_code", css_class="col-sm-6"),
                    Div("country", css_class="col-sm-6"),
                    css_class="row",
                ),
                Div(
                    Div("po_number", css_class="col-sm-6"),
                    Div("tax_id", css_class="col-sm-6"),
                    css_class="row",
                ),
                css_class="js-invoice-fields",
            ),
        )
        self.helper.add_input(Submit("save", "Save", css_class="px-4"))

    def _mark_required(self) -> None:
        """An asterisk on every field its method requires (_REQUIRED_FOR), like the
        one crispy puts on Payment Method. The fields stay optional to Django and the
        browser (no `required`: the other method's fields are hidden, and empty); the
        asterisk is hidden from screen readers, which hear aria-required instead. (The
        postal code is required only where the country has them: its help says so.)"""
        for method in _REQUIRED_FOR:
            for name in _REQUIRED_FOR[method]:
                field = self.fields[name]
                if isinstance(field.widget, forms.HiddenInput):
                    continue
                field.label = format_html(
                    '{}<span class="asteriskField" aria-hidden="true">*</span>', field.label
                )
                field.widget.attrs["aria-required"] = "true"

    @classmethod
    def initial_from(cls, profile: BillingDetails) -> dict:
        if not profile.method:
            return {}
        initial = {"method": profile.method, "cardholder_name": profile.cardholder_name}
        initial.update({field: getattr(profile, field) for field in INVOICE_FIELDS})
        initial["tax_id"] = tax_id_display(profile.country, profile.tax_id)
        return initial

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("method")
        if method not in _REQUIRED_FOR:
            return cleaned
        required = dict(_REQUIRED_FOR[method])
        if method == Method.INVOICE:
            self._clean_invoice(cleaned, required)
        for field, message in required.items():
            if field not in self.errors and not (cleaned.get(field) or "").strip():
                self.add_error(field, message)
        return cleaned

    def _clean_invoice(self, cleaned: dict, required: dict) -> None:
        """The postal code and the tax ID by the rules of the chosen country."""
        country = cleaned.get("country") or ""
        if not country:
            return
        postal = postal_rules(country)
        code = normalise_postal_code(cleaned.get("postal_code") or "")
        if not postal.required:
            del required["postal_code"]
        if not postal.used:
            code = ""  # a country without postal codes: nothing to keep
        elif code and not postal.valid(code):
            like = " or ".join(postal.examples)
            self.add_error(
                "postal_code",
                f"This is not a postal code of {countries.name(country)}"
                f"{f': enter one like {like}' if like else ''}.",
            )
        cleaned["postal_code"] = code
        if "tax_id" not in self.errors:
            try:
                cleaned["tax_id"] = clean_tax_id(country, cleaned.get("tax_id") or "")
            except InvalidTaxId as error:
                self.add_error("tax_id", str(error))

    def card_requested(self) -> bool:
        return self.cleaned_data.get("method") == Method.CREDIT_CARD

    def invoice_details(self) -> dict[str, str]:
        if self.cleaned_data.get("method") != Method.INVOICE:
            return {}
        return {field: self.cleaned_data.get(field, "") for field in INVOICE_FIELDS}


def _reason_field(reason: Reason, *, bulk: bool = False, required: bool) -> forms.CharField:
    return forms.CharField(
        label=reason.bulk_label if bulk else reason.label,
        required=required,
        max_length=reason.max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=reason.bulk_help if bulk else reason.help,
        error_messages={
            "required": DECLINE_REASON,
            "max_length": f"Keep the reason under {reason.max_length} characters.",
        },
    )


class _ChosenByButton(forms.HiddenInput):
    """A value sent by the submit button that was pressed (name="decision"): the
    form renders nothing for it."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        return ""


class ActForm(forms.Form):
    """The confirmation of an admin act (billing.acts), built from its entry: the
    reason it takes, if any; for an act with several decisions (Review change) the
    button pressed (``decision``) and the change the admin was shown (``change``),
    so a change the owner replaced meanwhile is not decided unseen."""

    def __init__(self, *args, act: Act, **kwargs):
        super().__init__(*args, **kwargs)
        self.act = act
        if any("change_id" in decision.takes for decision in act.decisions):
            self.fields["change"] = forms.IntegerField(
                widget=forms.HiddenInput, min_value=1, required=False
            )
        if act.reason:
            # Required where its only decision needs it; else checked in clean().
            alone = len(act.decisions) == 1 and act.reason.required
            self.fields["reason"] = _reason_field(act.reason, required=alone)
        if len(act.decisions) > 1:
            choose = f"Choose {' or '.join(d.button for d in act.decisions)}."
            self.fields["decision"] = forms.ChoiceField(
                choices=[(d.choice, d.button) for d in act.decisions],
                widget=_ChosenByButton,
                error_messages={"required": choose, "invalid_choice": choose},
            )

    def clean(self):
        cleaned = super().clean()
        if "decision" in self.fields and not cleaned.get("decision"):
            return cleaned
        reason = self.decision.reason
        missing = not (cleaned.get("reason") or "").strip()
        if reason and reason.required and missing and "reason" not in self.errors:
            self.add_error("reason", DECLINE_REASON)
        return cleaned

    @property
    def decision(self) -> Decision:
        """The decision the admin confirmed (the only one, or the button pressed)."""
        return self.act.decision(self.cleaned_data.get("decision") or None)

    def service_kwargs(self) -> dict:
        """What the decision's service takes from the form (billing.acts.Decision.takes)."""
        given = {
            "reason": self.cleaned_data.get("reason", ""),
            "note": "",
            "change_id": self.cleaned_data.get("change"),
        }
        return {key: given[key] for key in self.decision.takes}


# --- Bulk actions (billing/bulk.py) ---------------------------------------------------

# Rows chosen one by one come from one page of the Users page (at most 100); more
# than this is not a page's selection.
BULK_IDS_MAX = 500
_ID_MAX = 2_147_483_647  # an integer column: anything larger is no user's id

BAD_SELECTION = "The selection could not be read. Go back to the Users page and select again."


class _SelectedIds(forms.Field):
    """The ids of the rows ticked (``ids=1&ids=2``), each a whole number once."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple) or len(value) > BULK_IDS_MAX:
            raise forms.ValidationError(
                f"Select at most {BULK_IDS_MAX} users one by one, or use “Select all matching”."
            )
        ids = []
        for raw in value:
            raw = str(raw).strip()
            ok = raw.isascii() and raw.isdigit() and len(raw) <= len(str(_ID_MAX))
            if not ok or not 0 < int(raw) <= _ID_MAX:
                raise forms.ValidationError(BAD_SELECTION)
            ids.append(int(raw))
        return list(dict.fromkeys(ids))


class BulkSelectionForm(forms.Form):
    """What a bulk act is asked for: the act, and the users: the rows ticked
    (``ids``) or every user matching the Users page's filter (``all``, with the
    page's own parameters, cleaned by accounts.forms.UserFilterForm)."""

    act = forms.ChoiceField(
        choices=[(name, act.bulk.button) for name, act in BULK_ACTS.items()],
        error_messages={"required": CHOOSE_BULK_ACT, "invalid_choice": CHOOSE_BULK_ACT},
    )
    ids = _SelectedIds(required=False)
    all = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("all") and not cleaned.get("ids"):
            raise forms.ValidationError(
                "Select at least one user: tick their rows, or “Select all matching”."
            )
        return cleaned


class BulkConfirmForm(forms.Form):
    """The confirmation of a bulk act: the one reason for all (Decline needs it,
    Deactivate takes it) and the form's one-time key (a second POST of the same
    form finds the job the first one made)."""

    token = forms.RegexField(
        regex=r"^[0-9a-f]{32}$",
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form has expired: open the bulk action again.",
            "invalid": "This form has expired: open the bulk action again.",
        },
    )

    def __init__(self, *args, act: Act, **kwargs):
        super().__init__(*args, **kwargs)
        if act.reason:
            self.fields["reason"] = _reason_field(
                act.reason, bulk=True, required=act.reason.required
            )


# --- The lists read by key: a user's history, the tenant's activity log ---------------


class KeyPageForm(forms.Form):
    """``before``/``after``: the cursor of an "Older"/"Newer" link
    (``billing.selectors.Cursor``). One that is not a cursor (edited, cut short) is
    dropped and noted in `bad_cursor`, and the list shows its newest page."""

    before = _QueryParameter(max_length=40)
    after = _QueryParameter(max_length=40)

    bad_cursor = False

    def _cursor(self, name: str) -> Cursor | None:
        text = self.cleaned_data[name]
        cursor = Cursor.parse(text) if text else None
        if text and cursor is None:
            self.bad_cursor = True
        return cursor

    def clean_before(self) -> Cursor | None:
        return self._cursor("before")

    def clean_after(self) -> Cursor | None:
        return self._cursor("after")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("before") and data.get("after"):  # no link has both
            self.bad_cursor = True
            data["before"] = data["after"] = None
        return data


# The days the activity log's filter takes: every day a log entry can have, with a
# margin at each end, so that the start of a day in any zone (and the day after the
# last) is still a datetime (9999-12-31 gave an OverflowError).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def day_in_words(day: date) -> str:
    """ "26 November 2026": how a date is said in a message, since the date inputs
    show each browser's own format, not ours."""
    return date_format(day, "j F Y")


class _Day(forms.DateField):
    """A day of the activity filter, as ``<input type="date">`` sends it (always
    year-month-day, whatever the browser shows); its error says what came and what to
    pick, never a format to type."""

    def __init__(self, which: str) -> None:
        super().__init__(required=False, input_formats=["%Y-%m-%d"])
        self.which = which

    def to_python(self, value):
        try:
            day = super().to_python(value)
        except ValidationError:
            shown = str(value)[:30] + ("…" if len(str(value)) > 30 else "")
            raise ValidationError(
                f"The {self.which} date ({shown}) is not a day of the calendar: pick one "
                "in the date field.",
                code="invalid",
            ) from None
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(
                f"The {self.which} date ({day_in_words(day)}) is outside this log: pick "
                f"a day from {day_in_words(FIRST_DAY)} to {day_in_words(LAST_DAY)}.",
                code="out_of_range",
            )
        return day


class ActivityFilterForm(KeyPageForm):
    """The activity log's filters (also its CSV export's): act, user (part of a name or
    e-mail: of the profile's owner or of who acted), and a date range in the tenant's
    zone, both days included. A wrong act or search is dropped like the Users page's;
    a date that is not one, one out of FIRST_DAY..LAST_DAY, or a range that ends
    before it starts, is an error the page shows (and lists nothing until it is
    fixed)."""

    act = _QueryParameter(max_length=30)
    user = _QueryParameter(max_length=100)
    since = _Day("start")
    until = _Day("end")

    def _shown_day(self, name: str) -> str:
        """What the page puts back into the `name` date input: the day that came, if it
        is one (an ``<input type="date">`` holds a valid date or nothing; its error
        message says what came instead)."""
        try:
            day = forms.DateField(input_formats=["%Y-%m-%d"]).to_python(self.data.get(name))
        except ValidationError:
            return ""
        return day.isoformat() if day else ""

    @property
    def shown_since(self) -> str:
        return self._shown_day("since")

    @property
    def shown_until(self) -> str:
        return self._shown_day("until")

    def clean_act(self) -> str:
        act = self.cleaned_data["act"]
        return act if act in ACT_LABELS else ""

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error(
                "until",
                f"The end date ({day_in_words(until)}) is before the start date "
                f"({day_in_words(since)}): pick an end on or after the start.",
            )
        return data

    def filters(self) -> dict:
        """The cleaned filters, as ``billing.selectors.tenant_activity`` takes them."""
        data = self.cleaned_data
        return {key: data.get(key) or None for key in ("since", "until")} | {
            "act": data.get("act", ""),
            "user": data.get("user", ""),
        }


# --- Admin > Users --------------------------------------------------------------------

# The Users page's page sizes; a stale or crafted `size` gets the default.
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50


class UserFilterForm(forms.Form):
    """The Users page's parameters (and its CSV export's, a bulk act's "all
    matching" and the API's list): search, status filter, plan, sort, page and page
    size. The one place they are cleaned; billing.user_list trusts what comes out.
    A stale or crafted value falls back to its default rather than failing the
    page, so this form is always valid.

    `plan` comes out as "" (all), "none" (no plan) or the id, as text, of one of
    `tenant`'s plans: another tenant's plan id is ignored like any unknown value.
    The tenant's plans are read when first needed (one query), by the plan's
    cleaning or the page's plan select, as ``self.plans``."""

    q = _QueryParameter(max_length=100)
    status = _QueryParameter(max_length=20)
    plan = _QueryParameter(max_length=20)
    sort = _QueryParameter(max_length=20)
    page = _QueryParameter(max_length=20)  # billing.user_list copes with the rest
    size = _QueryParameter(max_length=5)

    # What narrows the list (sort, page and size do not).
    FILTERS = ("q", "status", "plan")

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    @cached_property
    def plans(self) -> list[Plan]:
        return list(Plan.objects.filter(tenant=self.tenant).order_by("name"))

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        return status if status in STATUS_FILTERS else ""

    def clean_plan(self) -> str:
        plan = self.cleaned_data["plan"]
        if plan == NO_PLAN:
            return plan
        # Digits only before the query: junk never costs the plans' read.
        if plan.isascii() and plan.isdigit() and plan in {str(p.pk) for p in self.plans}:
            return plan
        return ""

    def clean_sort(self) -> str:
        sort = self.cleaned_data["sort"]
        return sort if sort in SORT_VALUES else DEFAULT_SORT

    def clean_size(self) -> int:
        size = self.cleaned_data["size"]
        return int(size) if size in {str(s) for s in PAGE_SIZES} else DEFAULT_PAGE_SIZE

    @property
    def is_filtered(self) -> bool:
        return any(self.cleaned_data[key] for key in self.FILTERS)

    def filters(self) -> dict[str, str]:
        """The filters that are set, as billing.user_list takes them."""
        return {key: self.cleaned_data[key] for key in self.FILTERS if self.cleaned_data[key]}

    def query(self) -> dict[str, str]:
        """The filters and the sort, as billing.user_list takes them."""
        return {
            **{key: self.cleaned_data[key] for key in self.FILTERS},
            "sort": self.cleaned_data["sort"],
        }
