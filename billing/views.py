from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_fsm_log.models import StateLog

from accounts.admin_area import admin_next_url, is_popup_request, tenant_admin_required
from accounts.exports import csv_stream, export_filename
from accounts.holds import PAYMENT_PROFILE, TERMS, open_while
from accounts.models import User
from accounts.selectors import user_for_admin
from accounts.timezones import tenant_zone
from billing import processor, webhooks
from billing.acts import ACTS, BULK_ACTS, REVIEW, Act, offered_acts, service_of
from billing.bulk import bulk_claim, bulk_preview, bulk_process, bulk_result, bulk_start
from billing.forms import (
    DEFAULT_PAGE_SIZE,
    FIRST_DAY,
    LAST_DAY,
    PAGE_SIZES,
    ActForm,
    ActivityFilterForm,
    BulkConfirmForm,
    BulkSelectionForm,
    KeyPageForm,
    PaymentProfileForm,
    UserFilterForm,
)
from billing.models import BulkAction, PaymentProfile, State
from billing.processor import CardError
from billing.selectors import (
    ACT_LABELS,
    ACTIVITY_PAGE_SIZE,
    HISTORY_PAGE_SIZE,
    Delivery,
    KeyPage,
    add_owners,
    key_page,
    label_entries,
    profile_activators,
    profile_emails,
    profile_history_entries,
    profile_log,
    tenant_activity,
    with_owners,
)
from billing.services import (
    PaymentProfileError,
    changed_fields,
    payment_profile_change_withdraw,
    payment_profile_remind_admins,
    payment_profile_submit,
    remind_available_at,
)
from billing.standing import STATUS_FILTERS, card_expiring, user_is_held
from billing.user_list import (
    DEFAULT_SORT,
    NO_PLAN,
    USER_COLUMNS,
    UserListPage,
    user_csv_rows,
    user_list_for_admin,
    user_list_page,
)

# How many of the latest entries of their profile's log the owner sees.
TIMELINE_LENGTH = 20


def _saved_message(was: PaymentProfile, who: str) -> str:
    """What a save did, told by the state the profile was in before it; `who`
    activates it (``_who_activates``)."""
    if was.state == State.ACTIVE:
        return (
            f"Your change is saved and awaits approval by {who}. Your payment profile "
            "stays active with its current details meanwhile."
        )
    held = " You cannot use CloudCenter until it is active."
    return (
        f"Your payment profile is saved and pending activation by {who}."
        f"{held if was.needed else ''}"
    )


def _who_activates(user, activators: list) -> str:
    """Who activates `user`'s profile, as the pages say it."""
    if not activators:
        return "a CloudCenter operator"
    return "another admin of your tenant" if user.is_tenant_admin else "your admin"


def _allows_stripe_js(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The page's Content-Security-Policy also allows Stripe.js's origins
    (settings.STRIPE_CSP, read for each response, not once at import)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        return csp_update(settings.STRIPE_CSP)(lambda: response)()

    return wrapped


@open_while(PAYMENT_PROFILE)
@_allows_stripe_js
@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    """The Payment Information page: choose Credit Card or Invoice, fill in, Save.

    A card is typed into Stripe's Card Element and confirmed with Stripe by the
    browser (``profile_card_setup`` gives it a SetupIntent); the form posts the
    SetupIntent's id, and the card is read from Stripe before the save."""
    profile = request.user.payment_profile
    who = _who_activates(request.user, profile_activators(request.user))
    if request.method == "POST":
        form = PaymentProfileForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                card = None
                if form.card_requested():
                    card = processor.confirmed_card(
                        user=request.user,
                        setup_intent_id=data["setup_intent"],
                        cardholder=data["cardholder_name"],
                    )
                payment_profile_submit(
                    user=request.user,
                    method=data["method"],
                    details=form.invoice_details(),
                    card=card,
                )
            except CardError as error:
                form.add_error("setup_intent", str(error))
            except PaymentProfileError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _saved_message(profile, who))
                return redirect("billing:profile_edit")
    else:
        latest = profile.pending_change or profile  # what the owner saved last
        form = PaymentProfileForm(initial=PaymentProfileForm.initial_from(latest))
    change = profile.pending_change
    return render(
        request,
        "billing/profile_edit.html",
        {
            "form": form,
            "profile": profile,
            "latest": profile.pending_change or profile,
            "who_activates": who,
            "change_rows": changed_fields(profile, change) if change else [],
            "remind_again_at": remind_available_at(profile),
            "timeline": profile_history_entries(profile, limit=TIMELINE_LENGTH),
            "card_entry": {
                "configured": processor.is_configured(),
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
                "js_url": settings.STRIPE_JS_URL,
            },
            "nav": "account",
            "State": State,
        },
    )


@open_while(PAYMENT_PROFILE)
@login_required
@require_POST
def profile_card_setup(request: HttpRequest) -> JsonResponse:
    """A SetupIntent for the card the owner is about to enter on Payment Information,
    asked for by its script when they press Save: ``{"client_secret": …}``, which
    Stripe.js confirms the card with; or ``{"error": …}`` (503) saying what to do."""
    try:
        started = processor.setup_intent_start(user=request.user)
    except CardError as error:
        return JsonResponse({"error": str(error)}, status=503)
    return JsonResponse({"client_secret": started.client_secret})


@open_while(TERMS, PAYMENT_PROFILE)  # Stripe has no session; no hold applies
@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events (billing/webhooks.py): 400 for one whose signature does not
    verify (wrong, missing, or too old), 200 once it is processed or ignored."""
    try:
        event = webhooks.verified_event(request.body, request.headers.get("Stripe-Signature", ""))
    except webhooks.BadEvent as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    try:
        webhooks.process(event)
    except webhooks.RetryLater as error:
        return HttpResponse(str(error), status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


@open_while(PAYMENT_PROFILE)
@login_required
@require_POST
def profile_change_withdraw(request: HttpRequest) -> HttpResponse:
    """The owner takes back the change that awaits approval."""
    with _told(request, "Your change is withdrawn. Your profile keeps its details."):
        payment_profile_change_withdraw(user=request.user)
    return redirect("billing:profile_edit")


@open_while(PAYMENT_PROFILE)
@login_required
@require_POST
def profile_remind(request: HttpRequest) -> HttpResponse:
    """Remind my admins: at most once a day, while the profile or a change waits."""
    with _told(request, "Your admins have been reminded by e-mail."):
        payment_profile_remind_admins(user=request.user)
    return redirect(_local_next(request) or "billing:profile_edit")


def _local_next(request: HttpRequest) -> str:
    """The page the owner acted from (the gate or Payment Information), when it is one
    of those two."""
    candidate = request.POST.get("next", "")
    allowed = {reverse("billing:gate"), reverse("billing:profile_edit")}
    return candidate if candidate in allowed else ""


@open_while(PAYMENT_PROFILE)
@login_required
@require_GET
def gate(request: HttpRequest) -> HttpResponse:
    """Where a user who needs an active payment profile is held, told what to do next."""
    if not user_is_held(request.user):
        return redirect("accounts:home")
    profile = request.user.payment_profile
    activators = profile_activators(request.user)
    return render(
        request,
        "billing/gate.html",
        {
            "profile": profile,
            "activators": activators,
            "who_activates": _who_activates(request.user, activators),
            "remind_again_at": remind_available_at(profile),
            "State": State,
        },
    )


# --- Admin area: a tenant admin acts on a user's payment profile ---------------


def _read_only() -> HttpResponse:
    """405 for a page that only shows, answered after the tenant-scoped lookup so that
    another tenant's user is a 404 whatever the method (unlike @require_GET)."""
    return HttpResponseNotAllowed(["GET", "HEAD"])


def _confirmation(
    request: HttpRequest, template: str, *, target: User, form, next_url: str, **shown
) -> HttpResponse:
    """A confirmation of an act on `target`'s profile as the popup's content (fetched
    by the Actions dropdown) or, for a browser without JavaScript, as a page of its
    own. `shown`: its title, buttons, question and why it is unavailable (if so)."""
    context = {
        "target": target,
        "profile": target.payment_profile,
        "form": form,
        "next": next_url,
        "action_url": request.path,
        "nav": "admin",
        "admin_nav": "users",
        **shown,
    }
    if is_popup_request(request):
        return render(request, "billing/_profile_action_modal.html", context)
    return render(request, template, context)


@contextmanager
def _told(request: HttpRequest, success: str) -> Iterator[None]:
    """Runs the act in its block and tells the person what came of it: `success`, or
    the service's refusal (never a 500)."""
    try:
        yield
    except PaymentProfileError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def profile_act(request: HttpRequest, pk: int, act: str) -> HttpResponse:
    """An admin act on a user's payment profile (billing.acts: Activate, Deactivate,
    Decline Pay Profile, Review change): GET shows its confirmation, in the popup or
    as a page; POST runs the decision confirmed and goes back to the Users page."""
    spec = ACTS[act]
    target = user_for_admin(admin=request.user, pk=pk)
    next_url = admin_next_url(request)
    profile = target.payment_profile
    form = ActForm(
        request.POST if request.method == "POST" else None,
        act=spec,
        initial={"change": profile.pending_change_id},
    )
    if request.method == "POST" and form.is_valid():
        decision = form.decision
        with _told(request, decision.done.format(user=target)):
            service_of(decision)(actor=request.user, user=target, **form.service_kwargs())
        return redirect(next_url)
    change = profile.pending_change
    return _confirmation(
        request,
        "billing/profile_act.html",
        target=target,
        form=form,
        next_url=next_url,
        title=spec.label,
        buttons=[
            {
                "label": decision.button,
                "name": "decision" if len(spec.decisions) > 1 else "",
                "value": decision.choice,
                "danger": decision.danger,
            }
            for decision in spec.decisions
        ],
        question=spec.ask(target=target),
        changes=changed_fields(profile, change) if spec is REVIEW and change else [],
        unavailable=spec.refusal(profile=profile, actor=request.user),
    )


@tenant_admin_required
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Billing details: what the user saved (a card only as brand, last four, expiry)."""
    target = user_for_admin(admin=request.user, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    context = {
        "target": target,
        "profile": target.payment_profile,
        "next": admin_next_url(request),
        "nav": "admin",
        "admin_nav": "users",
    }
    if is_popup_request(request):
        return render(request, "billing/_profile_detail_modal.html", context)
    return render(request, "billing/profile_detail.html", context)


def _page_links(page: KeyPage, params: dict[str, str]) -> dict[str, str]:
    """The query strings of a keyed list's "Newer" and "Older" links (and of its
    newest page), keeping the list's filters `params`."""
    kept = {key: value for key, value in params.items() if value}
    links = {"newest": urlencode(kept)}
    if page.newer:
        links["newer"] = urlencode({**kept, "after": str(page.newer)})
    if page.older:
        links["older"] = urlencode({**kept, "before": str(page.older)})
    return links


@tenant_admin_required
def profile_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The user's payment profile history (newest first, 50 entries a page by key),
    the e-mails sent about it with their delivery status, and the current details."""
    target = user_for_admin(admin=request.user, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    profile = target.payment_profile
    form = KeyPageForm(request.GET)
    form.is_valid()  # always valid: a bad cursor is dropped and noted
    page = key_page(
        profile_log(profile),
        size=HISTORY_PAGE_SIZE,
        before=form.cleaned_data["before"],
        after=form.cleaned_data["after"],
    )
    emails, email_count = profile_emails(profile)
    next_url = admin_next_url(request)
    return render(
        request,
        "billing/profile_history.html",
        {
            "target": target,
            "profile": profile,
            "entries": label_entries(page.rows),
            # Where "Back to Users" goes, kept as admin_next_url cleaned it.
            "page_links": _page_links(page, {"next": next_url if "next" in request.GET else ""}),
            "bad_cursor": form.bad_cursor,
            "emails": emails,
            "email_count": email_count,
            "Delivery": Delivery,
            "next": next_url,
            "nav": "admin",
            "admin_nav": "users",
        },
    )


# --- Admin > Users ---------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    """One line of the Users page: the user (with their profile), the acts its
    Actions dropdown offers, and whether its card is expiring."""

    user: User
    acts: list[Act]
    card_expiring: bool


@tenant_admin_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    """Admin > Users: the tenant's users with search, filters, sorting, pages and
    each one's Actions."""
    tenant = request.user.tenant
    filters = UserFilterForm(request.GET, tenant=tenant)
    filters.is_valid()  # always valid: each parameter falls back to its default
    chosen = filters.cleaned_data
    page = user_list_page(
        tenant=tenant, number=chosen["page"], per_page=chosen["size"], **filters.query()
    )
    now, zone = timezone.now(), tenant_zone(tenant)
    rows = []
    for user in page.users:
        profile = user.payment_profile
        expiring = card_expiring(
            state=profile.state,
            method=profile.method,
            month=profile.card_exp_month,
            year=profile.card_exp_year,
            tz=zone,
            now=now,
        )
        rows.append(UserRow(user, offered_acts(profile, request.user), expiring is not None))
    here = request.get_full_path()
    rows_html = render_to_string(
        "billing/_user_rows.html",
        {"rows": rows, "next": quote(here, safe=""), "admin_pk": request.user.pk},
        using="jinja2",
    )
    q, status, plan, sort, size = (chosen[key] for key in ("q", "status", "plan", "sort", "size"))
    shown_size = str(size) if size != DEFAULT_PAGE_SIZE else ""
    shown_sort = sort if sort != DEFAULT_SORT else ""
    return render(
        request,
        "billing/user_list.html",
        {
            "nav": "admin",
            "admin_nav": "users",
            "page": page,
            "rows": rows,
            "rows_html": mark_safe(rows_html),  # Jinja2's, autoescaped
            "q": q,
            "status": status,
            "plan": plan,
            "sort": sort,
            "size": size,
            "filtered": filters.is_filtered,
            "count_text": _count_text(page, tenant.user_count, filtered=filters.is_filtered),
            "status_choices": STATUS_FILTERS.items(),
            "plan_choices": [(str(p.pk), p.name) for p in filters.plans],
            "no_plan": NO_PLAN,
            "page_sizes": PAGE_SIZES,
            "page_numbers": _page_numbers(page),
            "columns": _columns(sort),
            "bulk_acts": BULK_ACTS.values(),
            "filter_query": _query(q=q, status=status, plan=plan, size=shown_size),
            "page_query": _query(q=q, status=status, plan=plan, sort=shown_sort, size=shown_size),
            "export_query": _query(q=q, status=status, plan=plan, sort=shown_sort).rstrip("&"),
            "here": here,
        },
    )


@tenant_admin_required
@require_GET
def user_export(request: HttpRequest) -> StreamingHttpResponse:
    """The Users page's list as CSV: every user of the current search, filters and
    sort (not only a page), written as it is read from the database."""
    tenant = request.user.tenant
    filters = UserFilterForm(request.GET, tenant=tenant)
    filters.is_valid()  # always valid, as on the page
    users = user_list_for_admin(tenant=tenant, **filters.query())
    response = StreamingHttpResponse(
        csv_stream(USER_COLUMNS, user_csv_rows(users, tenant)),
        content_type="text/csv; charset=utf-8",
    )
    today = timezone.localdate(timezone=tenant_zone(tenant))
    response["Content-Disposition"] = (
        f'attachment; filename="{export_filename("users", tenant, today)}"'
    )
    return response


def _count_text(page: UserListPage, total: int, *, filtered: bool) -> str:
    """ "41 of 122 users" when a filter is on ("10,000+ of 1,000,000 users" past the
    count's cap), "122 users" when not ("1 user")."""
    users = "user" if total == 1 else "users"
    if not filtered:
        return f"{total:,} {users}"
    return f"{page.total:,}{'' if page.exact else '+'} of {total:,} {users}"


PAGE_WINDOW = 2  # page numbers shown either side of the current one (1 on a phone)


def _page_numbers(page: UserListPage) -> list[dict]:
    """The page numbers around the current one, for the pagination: each with
    whether it is the current page and whether it is the window's outer pair
    (hidden on a phone), and a gap where pages are left out (after the last known
    page too, when the count is not exact)."""
    last = page.known_pages
    low, high = max(1, page.number - PAGE_WINDOW), min(last, page.number + PAGE_WINDOW)
    high = max(high, page.number)
    numbers = []
    if low > 1:
        numbers.append({"gap": True})
    for number in range(low, high + 1):
        numbers.append(
            {
                "number": number,
                "current": number == page.number,
                "far": abs(number - page.number) > 1,
            }
        )
    if high < last or not page.exact:
        numbers.append({"gap": True})
    return numbers


_COLUMNS = (
    ("name", "Name"),
    ("email", "Email"),
    ("plan", "Plan"),
    ("method", "Payment Method"),
    ("status", "Profile Status"),
    ("changed", "Last Changed"),
)


def _columns(sort: str) -> list[dict]:
    """Header cells: clicking a column sorts by it, clicking it again reverses."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for key, label in _COLUMNS:
        active = key == current
        columns.append(
            {
                "label": label,
                "sort": f"-{key}" if active and not descending else key,
                "active": active,
                "descending": active and descending,
            }
        )
    return columns


def _query(**params: str) -> str:
    """A query string of the non-empty parameters, ending in '&' when not empty so a
    template can append one more parameter."""
    kept = {key: value for key, value in params.items() if value}
    return urlencode(kept) + "&" if kept else ""


# --- Bulk actions: many users' profiles at once (billing/bulk.py) -------------------

# How many users of each skipped group the result page names.
BULK_LISTED = 100


def _bulk_page(request: HttpRequest, template: str, context: dict, status: int = 200):
    context = {"nav": "admin", "admin_nav": "users", **context}
    if is_popup_request(request) and template == "billing/bulk_confirm.html":
        return render(request, "billing/_bulk_confirm_modal.html", context, status=status)
    return render(request, template, context, status=status)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def bulk_confirm(request: HttpRequest) -> HttpResponse:
    """Activate, Deactivate or Decline the selected users' profiles: GET shows how
    many will change and how many will be skipped and why (in the popup, or as a
    page without JavaScript), asking Decline's and Deactivate's one reason; POST
    runs it (here, or by the worker when large) and shows its page."""
    data = request.POST if request.method == "POST" else request.GET
    next_url = admin_next_url(request)
    selection = BulkSelectionForm(data)
    context = {"next": next_url, "action_url": request.path, "title": "Bulk action"}
    if not selection.is_valid():
        errors = [error for errors in selection.errors.values() for error in errors]
        return _bulk_page(
            request, "billing/bulk_confirm.html", {**context, "errors": errors}, status=400
        )
    act = BULK_ACTS[selection.cleaned_data["act"]]
    tenant = request.user.tenant
    # The users asked for, evaluated again here on the server, of the admin's own
    # tenant only: every user matching the Users page's filter, or the rows ticked.
    matching = {}
    if selection.cleaned_data["all"]:
        filters = UserFilterForm(data, tenant=tenant)
        filters.is_valid()  # always valid: bad values fall back to their defaults
        matching = filters.filters()
        users = user_list_for_admin(tenant=tenant, **matching)
    else:
        users = User.objects.filter(tenant=tenant, pk__in=selection.cleaned_data["ids"])
    form = BulkConfirmForm(
        request.POST if request.method == "POST" else None,
        act=act,
        initial={"token": uuid.uuid4().hex},
    )
    if request.method == "POST" and form.is_valid():
        try:
            bulk, created = bulk_start(
                actor=request.user,
                act=act.name,
                user_ids=users,
                reason=form.cleaned_data.get("reason", ""),
                token=form.cleaned_data["token"],
                back_url=next_url,
            )
        except PaymentProfileError as error:
            messages.error(request, str(error))
            return redirect(next_url)
        # A small one runs here and now; a large one is the worker's (run_bulk_actions).
        worker = uuid.uuid4().hex
        if created and bulk.total <= settings.BULK_INLINE_MAX and bulk_claim(bulk, worker=worker):
            bulk_process(bulk, worker=worker)
        return redirect("billing:bulk_detail", pk=bulk.pk)
    preview = bulk_preview(actor=request.user, act=act.name, users=users)
    return _bulk_page(
        request,
        "billing/bulk_confirm.html",
        {
            **context,
            "title": f"{act.bulk.button} payment profiles",
            "act": act.name,
            "spec": act.bulk,
            "preview": preview,
            "form": form,
            "too_many": preview.total > settings.BULK_MAX_USERS,
            "max_users": settings.BULK_MAX_USERS,
            "background": preview.total > settings.BULK_INLINE_MAX,
            "selection_all": selection.cleaned_data["all"],
            "ids": selection.cleaned_data["ids"],
            "filter_items": matching.items(),
        },
    )


def _bulk_for_admin(request: HttpRequest, pk: int) -> BulkAction:
    """A bulk action of the admin's own tenant, or 404."""
    return get_object_or_404(
        BulkAction.objects.select_related("actor"), pk=pk, tenant_id=request.user.tenant_id
    )


@tenant_admin_required
def bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A bulk action's page: its progress while it runs (refreshing itself), then what
    it did per group, with the skipped users named."""
    bulk = _bulk_for_admin(request, pk)
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    result = bulk_result(bulk, listed=BULK_LISTED if bulk.finished_at else 0)
    return _bulk_page(
        request,
        "billing/bulk_detail.html",
        {
            "bulk": bulk,
            "result": result,
            "spec": BULK_ACTS[bulk.act].bulk,
            "listed": BULK_LISTED,
            "back_url": bulk.back_url or reverse("billing:user_list"),
        },
    )


@tenant_admin_required
def bulk_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """How far a bulk action is, for its page's progress bar (JSON)."""
    bulk = _bulk_for_admin(request, pk)
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    result = bulk_result(bulk)
    return JsonResponse(
        {"done": result.done, "total": result.total, "finished": result.finished},
        headers={"Cache-Control": "no-store"},
    )


# --- The tenant's activity log ------------------------------------------------------


@tenant_admin_required
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """Admin > Activity: every act on the tenant's payment profiles, newest first, 50
    a page by key, filtered by act, user and dates; exported as CSV."""
    form = ActivityFilterForm(request.GET)
    page = None
    if form.is_valid():
        page = key_page(
            tenant_activity(request.user.tenant, **form.filters()),
            size=ACTIVITY_PAGE_SIZE,
            before=form.cleaned_data["before"],
            after=form.cleaned_data["after"],
        )
        label_entries(add_owners(page.rows))
    # With errors, the filters as they came: the page shows what is wrong with them.
    params = _filter_params(form) if page else _raw_filters(request)
    return render(
        request,
        "billing/activity.html",
        {
            "form": form,
            "page": page,
            "page_links": _page_links(page, params) if page else {},
            "export_query": urlencode({key: value for key, value in params.items() if value}),
            "filtered": any(params.values()),
            "act_choices": list(ACT_LABELS.items()),
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
            "bad_cursor": form.bad_cursor,
            "nav": "admin",
            "admin_nav": "activity",
        },
    )


def _raw_filters(request: HttpRequest) -> dict[str, str]:
    """The activity log's filters as they came (cut short), for a form with errors."""
    return {key: request.GET.get(key, "")[:100] for key in ("act", "user", "since", "until")}


def _filter_params(form: ActivityFilterForm) -> dict[str, str]:
    """The activity log's cleaned filters as they go into its links."""
    data = form.cleaned_data
    return {
        "act": data["act"],
        "user": data["user"],
        "since": data["since"].isoformat() if data["since"] else "",
        "until": data["until"].isoformat() if data["until"] else "",
    }


CSV_HEADER = [
    "When",
    "Act",
    "Whose profile",
    "Their e-mail",
    "From",
    "To",
    "Who",
    "Who's e-mail",
    "Reason or details",
]


def activity_csv_rows(entries: QuerySet[StateLog], zone) -> Iterator[list[str]]:
    """The CSV rows of `entries`, read a chunk at a time (never all in memory)."""
    for entry in entries.iterator(chunk_size=CSV_CHUNK_ROWS):
        label_entries([entry])
        yield [
            entry.timestamp.astimezone(zone).isoformat(timespec="seconds"),
            entry.act_label,
            entry.owner_name or "",
            entry.owner_email or "",
            entry.source_label,
            entry.target_label,
            entry.who,
            entry.by.email if entry.by_id else "",
            entry.description or "",
        ]


CSV_CHUNK_ROWS = 1000


@tenant_admin_required
@require_GET
def activity_export(request: HttpRequest) -> HttpResponse:
    """The activity log of the current filter as CSV, newest first, streamed. Times
    in ISO 8601 with the tenant's offset."""
    form = ActivityFilterForm(request.GET)
    if not form.is_valid():  # the page says what to fix
        kept = {key: value for key, value in _raw_filters(request).items() if value}
        return redirect(f"{reverse('billing:activity')}?{urlencode(kept)}")
    tenant = request.user.tenant
    entries = with_owners(tenant_activity(tenant, **form.filters())).order_by("-timestamp", "-pk")
    zone = tenant_zone(tenant)
    response = StreamingHttpResponse(
        csv_stream(CSV_HEADER, activity_csv_rows(entries, zone)),
        content_type="text/csv; charset=utf-8",
    )
    filename = export_filename("activity", tenant, timezone.now().astimezone(zone).date())
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
