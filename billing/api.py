"""The API for tenant admins' scripts and ERP systems: /api/v1/ (django-ninja).

It reads what the Users page and a user's billing and history pages show, and runs
the same acts through the same services (billing.services): tenant scoping, who may
act, row locks and e-mails are theirs. A call is authorized only by an API token
(accounts.tokens), never by a session cookie, so there is no CSRF surface; it acts
as the admin who made the token, logged "via API".

Answers are JSON. A refused act says why in the pages' own words: 409 when the
profile's state does not allow it, 403 when this admin may not (their own
profile). Another tenant's user is a 404. The schema is served at
/api/v1/openapi.json and read at /api/v1/docs/.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, ValidationError
from ninja.openapi.docs import DocsBase
from ninja.security import HttpBearer
from pydantic import StringConstraints, create_model

from accounts.models import ApiToken, IdempotencyKey, User
from accounts.selectors import user_for_admin
from accounts.tokens import TokenRefused, TokenThrottled, api_token_authenticate
from billing import services
from billing.acts import ACTS, NOT_ALLOWED, OWN_PROFILE, Decision, offered_acts, service_of
from billing.addresses import address_lines
from billing.forms import UserFilterForm
from billing.models import INVOICE_FIELDS
from billing.selectors import profile_history_entries
from billing.standing import STATUS_FILTERS
from billing.tax_ids import tax_id_display
from billing.user_list import DEFAULT_SORT, NULLABLE, SORT_VALUES, USER_SORTS, user_list_for_admin

VIA = "API"
NO_TOKEN = (
    "Send an API token with every call: Authorization: Bearer ccm_<id>_<secret> "
    "(Admin > API tokens). A logged-in browser session does not authorize the API."
)
IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_PAGE = 200


# --- Authentication ----------------------------------------------------------------


class TokenAuth(HttpBearer):
    """``Authorization: Bearer ccm_<id>_<secret>``. A refused token raises, and the
    handlers below answer it in words; no header at all is a 401 too."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        return api_token_authenticate(token)


class Docs(DocsBase):
    """Swagger UI from django-ninja's own static files, started by our own script
    (static/js/api-docs.js): no CDN, no inline code, under the site's CSP."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        return render(
            request,
            "billing/api_docs.html",
            {"api": api, "openapi_url": self.get_openapi_url(api, kwargs)},
        )


class Api(NinjaAPI):
    def create_response(self, request: HttpRequest, data: Any, *args, **kwargs) -> HttpResponse:
        response = super().create_response(request, data, *args, **kwargs)
        response["Cache-Control"] = "no-store"  # tenant data: kept in no cache
        return response


api = Api(
    title="CloudCenter payment profiles API",
    version="1",
    description=(
        "For tenant admins' scripts: the tenant's users and their payment profiles, and "
        "the admin acts on them. Authorize with an API token from Admin > API tokens: "
        "`Authorization: Bearer ccm_<id>_<secret>`. Acts accept an `Idempotency-Key` "
        "header: a repeat with the same key returns the first answer without acting again."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs=Docs(),
    docs_url="/docs/",
)


class Error(Schema):
    detail: str = Field(description="Why the call was refused, in words fit to show.")


ERRORS: dict[int, type[Schema]] = {401: Error, 403: Error, 404: Error, 422: Error, 429: Error}
# 400: a body that is not JSON at all; 409: the profile's state refuses the act.
ACT_ERRORS: dict[int, type[Schema]] = {**ERRORS, 400: Error, 409: Error}


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return api.create_response(request, {"detail": message}, status=status)


@api.exception_handler(AuthenticationError)
def _no_token(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, NO_TOKEN, 401)


@api.exception_handler(TokenRefused)
def _token_refused(request: HttpRequest, exc: TokenRefused) -> HttpResponse:
    return _error(request, str(exc), exc.status)


@api.exception_handler(TokenThrottled)
def _throttled(request: HttpRequest, exc: TokenThrottled) -> HttpResponse:
    response = _error(request, str(exc), 429)
    response["Retry-After"] = str(exc.wait)
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body",))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return _error(request, "The request is not valid. " + "; ".join(problems), 422)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # As on the pages: another tenant's user does not exist for this admin.
    return _error(request, "No such user in your tenant.", 404)


# --- Shapes ------------------------------------------------------------------------

StatusFilter = Enum("StatusFilter", {str(key): str(key) for key in STATUS_FILTERS}, type=str)
UserSort = Enum(
    "UserSort", {value.replace("-", "desc_"): value for value in sorted(SORT_VALUES)}, type=str
)
DEFAULT_USER_SORT = UserSort(DEFAULT_SORT)
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class PlanOut(Schema):
    name: str
    kind: str


class UserOut(Schema):
    id: int
    name: str
    email: str
    plan: PlanOut | None
    state: str = Field(description="none, pending, active or inactive")
    status: str = Field(description="The standing the Users page shows (Status)")
    status_label: str
    method: str
    state_changed_at: datetime | None
    change_pending: bool


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class CardOut(Schema):
    brand: str
    last4: str
    expiry: str = Field(description="MM/YY")
    cardholder: str


class InvoiceOut(Schema):
    company_name: str
    billing_contact: str
    billing_email: str
    address: str
    city: str
    region: str
    postal_code: str
    country: str
    po_number: str
    tax_id: str = Field(description="Compact, as stored (DE136695976)")
    country_name: str
    address_lines: list[str] = Field(
        description="The address in its country's order, one line each, the country last"
    )
    tax_id_formatted: str = Field(description="As people read it (CHE-100.155.212)")


class FieldChange(Schema):
    field: str
    old: str
    new: str


class ChangeOut(Schema):
    id: int
    submitted_at: datetime
    fields: list[FieldChange] = Field(description="Each detail that differs, old → new")


class ProfileOut(Schema):
    user: UserOut
    method: str
    card: CardOut | None
    invoice: InvoiceOut | None
    submitted_at: datetime | None
    activated_at: datetime | None
    deactivated_at: datetime | None
    declined_at: datetime | None
    reason: str = Field(description="Why it is declined or inactive, as the user reads it")
    pending_change: ChangeOut | None
    actions: list[str] = Field(description="The acts this token's admin may run now")


class HistoryEntry(Schema):
    id: int
    timestamp: datetime
    act: str
    act_label: str
    from_state: str
    to_state: str
    by: str | None = Field(description="Who acted (name)")
    by_email: str | None
    description: str


def _user_out(user: User) -> dict:
    profile = user.payment_profile
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "plan": {"name": user.plan.name, "kind": user.plan.kind} if user.plan_id else None,
        "state": profile.state,
        "status": profile.status.value,
        "status_label": profile.status.label,
        "method": profile.method,
        "state_changed_at": profile.state_changed_at,
        "change_pending": profile.pending_change_id is not None,
    }


def _profile_out(user: User, admin: User) -> dict:
    profile = user.payment_profile
    card = None
    if profile.card_last4:
        card = {
            "brand": profile.card_brand,
            "last4": profile.card_last4,
            "expiry": profile.card_expiry,
            "cardholder": profile.cardholder_name,
        }
    invoice = None
    if profile.method == "invoice":
        invoice = {field: getattr(profile, field) for field in INVOICE_FIELDS}
        invoice.update(
            country=profile.country.code,
            country_name=profile.country.name,
            address_lines=address_lines(profile),
            tax_id_formatted=tax_id_display(profile.country.code, profile.tax_id),
        )
    change = profile.pending_change
    return {
        "user": _user_out(user),
        "method": profile.method,
        "card": card,
        "invoice": invoice,
        "submitted_at": profile.submitted_at,
        "activated_at": profile.activated_at,
        "deactivated_at": profile.deactivated_at,
        "declined_at": profile.declined_at,
        "reason": profile.deactivation_reason,
        "pending_change": None
        if change is None
        else {
            "id": change.pk,
            "submitted_at": change.submitted_at,
            "fields": [
                {"field": label, "old": old, "new": new}
                for label, old, new in services.changed_fields(profile, change)
            ],
        },
        "actions": [act.name for act in offered_acts(profile, admin)],
    }


def _admin(request: HttpRequest) -> User:
    return request.auth.created_by


# --- Keyed pagination ----------------------------------------------------------------
#
# The Users page's orders (billing.user_list.USER_SORTS), each ending in the primary
# key: the cursor holds the last row's values of those columns, and the next page is
# the rows after it in that order. No OFFSET, no count: a page deep in 100,000 users
# costs what the first one does.

_INTEGERS = {"pk", "payment_profile__status_rank"}


def _columns(sort: str) -> list[str]:
    return [expression.name for expression in USER_SORTS[sort.lstrip("-")]] + ["pk"]


def _value_of(user: User, column: str) -> Any:
    value: Any = user
    for part in column.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _encode_cursor(sort: str, user: User) -> str:
    values = [_value_of(user, column) for column in _columns(sort)]
    values = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    raw = json.dumps([sort, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class BadCursor(Exception):
    pass


def _decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, values = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as error:
        raise BadCursor from error
    columns = _columns(sort)
    if cursor_sort != sort or not isinstance(values, list) or len(values) != len(columns):
        raise BadCursor
    for index, (column, value) in enumerate(zip(columns, values, strict=True)):
        if value is None:
            if column not in NULLABLE:
                raise BadCursor
        elif column in _INTEGERS:
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadCursor
        elif column.endswith("_at"):
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is None:
                raise BadCursor
            values[index] = parsed
        elif not isinstance(value, str) or "\x00" in value:
            raise BadCursor
    return values


def _after(sort: str, values: list[Any]) -> Q:
    """The rows after `values` in the order of `sort`: every column ascending, or
    every column descending, NULL as the smallest value (as user_list_for_admin
    orders)."""
    columns = _columns(sort)
    descending = sort.startswith("-")
    later = Q(pk__in=[])
    for index, column in enumerate(columns):
        same = Q()
        for previous, value in zip(columns[:index], values[:index], strict=True):
            same &= Q(**{f"{previous}__isnull": True}) if value is None else Q(**{previous: value})
        value = values[index]
        if value is None:
            if descending:
                continue  # nothing sorts after NULL descending but more NULLs
            step = Q(**{f"{column}__isnull": False})
        elif descending:
            step = Q(**{f"{column}__lt": value})
            if column in NULLABLE:
                step |= Q(**{f"{column}__isnull": True})
        else:
            step = Q(**{f"{column}__gt": value})
        later |= same & step
    first, value = columns[0], values[0]
    if value is not None and first not in NULLABLE:
        # The same condition, said so that an index on the first column bounds the scan.
        later &= Q(**{f"{first}__{'lte' if descending else 'gte'}": value})
    return later


def user_list_after(users: QuerySet[User], *, sort: str, cursor: str, limit: int) -> tuple:
    """A page of `users` (already in the order of `sort`) after `cursor`, and the
    cursor of the next page (None on the last). Raises BadCursor."""
    if cursor:
        users = users.filter(_after(sort, _decode_cursor(cursor, sort)))
    # The page's keys from a subquery that reads only the columns it orders by (an
    # index alone, for the name and e-mail orders), then those rows with their plan
    # and profile: joining them in before the LIMIT sorts the whole join (2 s at
    # 100,000 users on SQLite). One query, as billing.user_list.user_list_page.
    keys = users.values_list("pk", flat=True)[: limit + 1]
    rows = list(
        User.objects.filter(pk__in=keys)
        .select_related("tenant", "plan", "payment_profile__pending_change")
        .order_by(*users.query.order_by)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(sort, rows[-1]) if more and rows else None)


# --- Reads ----------------------------------------------------------------------------


@api.get("/users", response={200: UserPage, **ERRORS}, tags=["users"], operation_id="user_list")
def user_list(
    request: HttpRequest,
    q: Annotated[str, Query(max_length=100, description="Search in name and e-mail")] = "",
    status: StatusFilter | None = None,
    sort: UserSort = DEFAULT_USER_SORT,
    cursor: Annotated[str, Query(max_length=2000)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
):
    """The tenant's users with their plan and profile status: the Users page's search,
    status filter and sorts, read page by page with `cursor`."""
    admin = _admin(request)
    form = UserFilterForm(
        {"q": q, "status": status.value if status else "", "sort": sort.value},
        tenant=admin.tenant,
    )
    form.is_valid()  # always valid: it only normalises (NULs, lengths)
    cleaned = form.cleaned_data
    users = user_list_for_admin(tenant=admin.tenant, **form.query())
    try:
        rows, next_cursor = user_list_after(users, sort=cleaned["sort"], cursor=cursor, limit=limit)
    except BadCursor:
        return Status(
            422, {"detail": "This cursor is not one this list gave out: start again without it."}
        )
    return Status(200, {"items": [_user_out(user) for user in rows], "next_cursor": next_cursor})


@api.get(
    "/users/{user_id}/profile",
    response={200: ProfileOut, **ERRORS},
    tags=["profiles"],
    operation_id="profile_detail",
)
def profile_detail(request: HttpRequest, user_id: int):
    """One user's payment profile: the card as brand, last four and expiry only; the
    pending change with its old → new fields; the acts you may run now."""
    admin = _admin(request)
    return Status(200, _profile_out(user_for_admin(admin=admin, pk=user_id), admin))


@api.get(
    "/users/{user_id}/history",
    response={200: list[HistoryEntry], **ERRORS},
    tags=["profiles"],
    operation_id="profile_history",
)
def profile_history(request: HttpRequest, user_id: int):
    """Every act on the profile, newest first, as its History page shows it."""
    user = user_for_admin(admin=_admin(request), pk=user_id)
    entries = profile_history_entries(user.payment_profile)
    return [
        {
            "id": entry.pk,
            "timestamp": entry.timestamp,
            "act": entry.transition,
            "act_label": entry.act_label,
            "from_state": entry.source_label,
            "to_state": entry.target_label,
            "by": entry.by.name if entry.by else None,
            "by_email": entry.by.email if entry.by else None,
            "description": entry.description or "",
        }
        for entry in entries
    ]


# --- Acts ----------------------------------------------------------------------------
#
# One route per decision of each act of billing.acts (Review change has two:
# change/approve and change/decline), with its request body built from what the
# decision's service takes.


def _perform(request: HttpRequest, user_id: int, decision: Decision, body: Schema):
    admin = _admin(request)
    user = user_for_admin(admin=admin, pk=user_id)
    try:
        service_of(decision)(actor=admin, user=user, via=VIA, **body.dict())
    except services.PaymentProfileError as error:
        # 403 when this admin may not act on the profile at all, 409 when its state refuses.
        return (403 if error.code in (OWN_PROFILE, NOT_ALLOWED) else 409), {"detail": str(error)}
    return 200, _profile_out(user_for_admin(admin=admin, pk=user_id), admin)


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.body):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _act_once(request: HttpRequest, perform: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    """Run `perform`, once per ``Idempotency-Key``: the first request with a key stores
    its answer in the same transaction as the act, and a repeat gets that answer.
    A concurrent repeat waits on the key's unique row until the first commits."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return perform()
    if not (0 < len(key) <= 255) or not key.isprintable():
        return 422, {"detail": "An Idempotency-Key is 1 to 255 printable characters."}
    token, fingerprint = request.auth, _fingerprint(request)
    with transaction.atomic():
        IdempotencyKey.objects.filter(
            token=token, created_at__lt=timezone.now() - IDEMPOTENCY_TTL
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    token=token, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            record = IdempotencyKey.objects.get(token=token, key=key)
            if record.fingerprint != fingerprint:
                return 422, {
                    "detail": "This Idempotency-Key was used for another request in the last "
                    "24 hours: use a new key for a new request."
                }
            return record.status_code, record.body
        status, body = perform()
        record.status_code, record.body = status, json.loads(json.dumps(body, default=str))
        record.save(update_fields=["status_code", "body"])
    return status, body


IDEMPOTENCY_HEADER = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "Repeat a request with the same key to get its first answer "
            "back without acting twice (kept 24 hours).",
        }
    ]
}


def _body_schema(decision: Decision) -> type[Schema]:
    """The request body of `decision`'s route: a field per input its service takes."""
    fields: dict[str, Any] = {}
    for name in decision.takes:
        if name == "note":
            fields["note"] = (Note, "")
        elif name == "reason":
            fields["reason"] = (Reason, ...) if decision.reason.required else (Note, "")
        elif name == "change_id":
            fields["change_id"] = (
                int | None,
                Field(
                    None,
                    description="The change you reviewed: refused if it was replaced meanwhile",
                ),
            )
    return create_model(decision.api_body, __base__=Schema, **fields)


def _act_route(decision: Decision) -> None:
    body_schema = _body_schema(decision)

    def act(request: HttpRequest, user_id: int, body):
        return Status(*_act_once(request, lambda: _perform(request, user_id, decision, body)))

    act.__name__ = decision.operation_id
    act.__doc__ = decision.api_summary
    act.__annotations__ = {"request": HttpRequest, "user_id": int, "body": body_schema}
    api.post(
        f"/users/{{user_id}}/{decision.api_path}",
        response={200: ProfileOut, **ACT_ERRORS},
        tags=["acts"],
        operation_id=decision.operation_id,
        openapi_extra=IDEMPOTENCY_HEADER,
    )(act)


for _act in ACTS.values():
    for _decision in _act.decisions:
        _act_route(_decision)
