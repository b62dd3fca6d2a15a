"""The API (billing/api.py): every endpoint for every kind of caller, the acts
through the services, idempotency, the throttle, keyed pages, and no session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import ApiToken, IdempotencyKey
from accounts.tokens import api_token_create
from billing.models import Method, PaymentProfile, State
from billing.services import payment_profile_activate, payment_profile_submit
from billing.user_list import USER_SORTS, user_list_for_admin
from tests.helpers import INVOICE_POST, db_snapshot, make_user

INVOICE_DETAILS = {k: v for k, v in INVOICE_POST.items() if k != "method"}
ROLES = ("none", "revoked", "expired", "other_tenant", "user", "admin")


def api_client(token: str | None) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"} if token else {})


@pytest.fixture
def tokens(alice, bob, charlie, make_profile) -> dict[str, str | None]:
    make_profile(bob, State.PENDING)
    revoked = api_token_create(admin=alice, name="old", expires_at=None)
    ApiToken.objects.filter(pk=revoked.token.pk).update(revoked_at=timezone.now())
    expired = api_token_create(admin=alice, name="x", expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now())
    return {
        "none": None,
        "revoked": revoked.plaintext,
        "expired": expired.plaintext,
        "other_tenant": api_token_create(admin=charlie, name="g", expires_at=None).plaintext,
        # A token whose maker is not (or no longer) a tenant admin.
        "user": api_token_create(admin=bob, name="b", expires_at=None).plaintext,
        "admin": api_token_create(admin=alice, name="a", expires_at=None).plaintext,
    }


# name: (method, path with {pk} = bob, body, statuses for ROLES). An act's 200 acts.
EXPECTED = {
    "user_list": ("GET", "/api/v1/users", None, (401, 401, 401, 200, 403, 200)),
    "profile_detail": ("GET", "/api/v1/users/{pk}/profile", None, (401, 401, 401, 404, 403, 200)),
    "profile_history": ("GET", "/api/v1/users/{pk}/history", None, (401, 401, 401, 404, 403, 200)),
    "profile_activate": (
        "POST",
        "/api/v1/users/{pk}/activate",
        {},
        (401, 401, 401, 404, 403, 200),
    ),
    # bob's profile is pending: nothing to deactivate (409, the page's words).
    "profile_deactivate": (
        "POST",
        "/api/v1/users/{pk}/deactivate",
        {"reason": "x"},
        (401, 401, 401, 404, 403, 409),
    ),
    "profile_decline": (
        "POST",
        "/api/v1/users/{pk}/decline",
        {"reason": "Wrong company"},
        (401, 401, 401, 404, 403, 200),
    ),
    "profile_change_approve": (
        "POST",
        "/api/v1/users/{pk}/change/approve",
        {},
        (401, 401, 401, 404, 403, 409),
    ),
    "profile_change_decline": (
        "POST",
        "/api/v1/users/{pk}/change/decline",
        {"reason": "No"},
        (401, 401, 401, 404, 403, 409),
    ),
}

WHY = {
    "none": "Send an API token",
    "revoked": "was revoked",
    "expired": "has expired",
    "other_tenant": "No such user in your tenant.",
    "user": "can no longer use the admin area",
}


def api_url_names() -> set[str]:
    names = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "api":
            names |= {p.name for p in entry.url_patterns if p.name}
    return names


def test_every_api_endpoint_is_in_the_matrix():
    from billing.api import api

    operations = {
        op["operationId"]
        for path in api.get_openapi_schema()["paths"].values()
        for op in path.values()
    }
    assert operations == set(EXPECTED), "add the new endpoints to EXPECTED"
    # Besides the endpoints: the schema and the docs page, open to anyone.
    assert {"openapi-json", "openapi-view"} <= api_url_names()


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_endpoint_answers_every_caller_as_expected(tokens, bob, name, who):
    method, path, body, statuses = EXPECTED[name]
    path = path.format(pk=bob.pk)
    expected = statuses[ROLES.index(who)]
    client = api_client(tokens[who])
    before = db_snapshot()
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, body, content_type="application/json")
    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    if expected != 200:
        detail = response.json()["detail"]
        assert detail and (who not in WHY or WHY[who] in detail), detail
    if not (method == "POST" and expected == 200):
        assert db_snapshot() == before


def test_a_session_does_not_authorize_the_api_and_there_is_no_csrf_surface(alice, bob, tokens):
    """A logged-in admin's browser (cookie, no token) gets 401 and changes nothing;
    a token call needs no CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    before = db_snapshot()
    response = browser.post(f"/api/v1/users/{bob.pk}/activate", {}, content_type="application/json")
    assert response.status_code == 401
    assert "session does not authorize" in response.json()["detail"]
    assert db_snapshot() == before
    script = Client(
        enforce_csrf_checks=True, headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert (
        script.post(f"/api/v1/users/{bob.pk}/activate", {}, "application/json").status_code == 200
    )
    assert "sessionid" not in script.cookies


def test_a_held_admin_with_a_token_is_not_sent_to_the_gate(acme, paid_plan, bob, make_profile):
    """The API's caller is the token, not a session: holds are about the pages."""
    held = make_user("held@acme.example", acme, admin=True, plan=paid_plan)
    make_profile(bob, State.PENDING)
    token = api_token_create(admin=held, name="t", expires_at=None).plaintext
    assert api_client(token).get("/api/v1/users").status_code == 200


def test_a_wrong_secret_or_garbage_is_refused_in_words(tokens):
    good = tokens["admin"]
    for token in (good[:-2] + "xx", "ccm_999999_abc", "nonsense", "ccm__", "ccm_1_"):
        response = api_client(token).get("/api/v1/users")
        assert response.status_code == 401, token
        assert "Send a valid API token" in response.json()["detail"]


def test_an_act_runs_through_the_service_logged_as_the_admin_via_api(tokens, alice, bob):
    response = api_client(tokens["admin"]).post(
        f"/api/v1/users/{bob.pk}/decline",
        {"reason": "Wrong company name"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["user"]["status"] == "declined"
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.INACTIVE and profile.deactivation_reason == "Wrong company name"
    (entry,) = StateLog.objects.for_(profile)
    assert entry.by == alice and entry.description == "Wrong company name (via API)"
    (mail,) = Message.objects.all()
    assert "Wrong company name" in mail.email.body and "via API" not in mail.email.body
    history = api_client(tokens["admin"]).get(f"/api/v1/users/{bob.pk}/history").json()
    assert history[0]["by_email"] == alice.email and history[0]["act"] == "decline"


def test_a_refused_act_says_what_the_page_says(tokens, alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    client = api_client(tokens["admin"])
    response = client.post(f"/api/v1/users/{bob.pk}/activate", {}, "application/json")
    assert response.status_code == 409
    assert response.json() == {"detail": "The payment profile of Bob User is already active."}
    # Her own profile: another admin must act (403).
    response = client.post(f"/api/v1/users/{alice.pk}/deactivate", {}, "application/json")
    assert response.status_code == 403
    response = client.post(f"/api/v1/users/{bob.pk}/decline", {"reason": "  "}, "application/json")
    assert response.status_code == 422 and "reason" in response.json()["detail"]


def test_activating_a_card_that_ended_is_a_409_in_the_pages_words(
    tokens, bob, make_profile, time_machine
):
    time_machine.move_to(datetime(2030, 6, 1, tzinfo=UTC), tick=False)
    make_profile(bob, State.PENDING, Method.CREDIT_CARD)
    PaymentProfile.objects.filter(user=bob).update(card_exp_month=4, card_exp_year=2030)
    response = api_client(tokens["admin"]).post(
        f"/api/v1/users/{bob.pk}/activate", {}, "application/json"
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        "The card of Bob User (Visa ending in 4242, expiry 04/30) has ended and its grace "
        "period is over"
    )
    assert PaymentProfile.objects.get(user=bob).state == State.PENDING


def test_the_profile_shows_the_card_as_brand_last_four_and_expiry_only(tokens, bob, make_profile):
    make_profile(bob, State.ACTIVE, method=Method.CREDIT_CARD)
    response = api_client(tokens["admin"]).get(f"/api/v1/users/{bob.pk}/profile")
    body = response.json()
    assert body["card"] == {"brand": "Visa", "last4": "4242", "expiry": "04/31", "cardholder": ""}
    assert "tok_test" not in response.content.decode()


def test_a_pending_change_shows_old_and_new_and_is_approved_via_api(tokens, alice, acme, paid_plan):
    carol = make_user("carol@acme.example", acme, plan=paid_plan, name="Carol")
    payment_profile_submit(user=carol, method=Method.INVOICE, details=INVOICE_DETAILS)
    payment_profile_activate(actor=alice, user=carol)
    payment_profile_submit(
        user=carol, method=Method.INVOICE, details={**INVOICE_DETAILS, "city": "Shelbyville"}
    )
    client = api_client(tokens["admin"])
    change = client.get(f"/api/v1/users/{carol.pk}/profile").json()["pending_change"]
    assert change["fields"] == [
        {
            "field": "Address",
            "old": "1 Main Street, Springfield, IL 62701, United States of America",
            "new": "1 Main Street, Shelbyville, IL 62701, United States of America",
        }
    ]
    response = client.post(
        f"/api/v1/users/{carol.pk}/change/approve", {"change_id": change["id"]}, "application/json"
    )
    assert response.status_code == 200 and response.json()["pending_change"] is None
    assert PaymentProfile.objects.get(user=carol).city == "Shelbyville"
    entry = StateLog.objects.for_(PaymentProfile.objects.get(user=carol)).latest("pk")
    assert entry.transition == "change_approve" and entry.description.endswith("(via API)")


# --- Idempotency ----------------------------------------------------------------------


def test_the_same_key_twice_acts_once_and_answers_the_same(tokens, bob):
    client = api_client(tokens["admin"])
    path = f"/api/v1/users/{bob.pk}/activate"
    headers = {"Idempotency-Key": "activate-bob-1"}
    first = client.post(path, {}, "application/json", headers=headers)
    second = client.post(path, {}, "application/json", headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    profile = PaymentProfile.objects.get(user=bob)
    assert [e.transition for e in StateLog.objects.for_(profile)] == ["activate"]
    assert Message.objects.count() == 1
    # Without the key, the repeat is a new request: refused, the state being active.
    assert client.post(path, {}, "application/json").status_code == 409


def test_the_same_key_with_another_body_is_refused(tokens, bob):
    client = api_client(tokens["admin"])
    path = f"/api/v1/users/{bob.pk}/decline"
    headers = {"Idempotency-Key": "k"}
    assert (
        client.post(path, {"reason": "a"}, "application/json", headers=headers).status_code == 200
    )
    response = client.post(path, {"reason": "b"}, "application/json", headers=headers)
    assert response.status_code == 422 and "Idempotency-Key" in response.json()["detail"]


def test_a_refusal_is_the_first_answer_too_and_keys_expire_after_a_day(tokens, bob):
    client = api_client(tokens["admin"])
    path = f"/api/v1/users/{bob.pk}/deactivate"
    headers = {"Idempotency-Key": "d"}
    assert client.post(path, {}, "application/json", headers=headers).status_code == 409
    assert client.post(path, {}, "application/json", headers=headers).status_code == 409
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    client.post(f"/api/v1/users/{bob.pk}/activate", {}, "application/json")
    assert client.post(path, {}, "application/json", headers=headers).status_code == 200


def test_keys_are_per_token(tokens, alice, bob):
    other = api_token_create(admin=alice, name="2", expires_at=None).plaintext
    path = f"/api/v1/users/{bob.pk}/activate"
    headers = {"Idempotency-Key": "same"}
    assert (
        api_client(tokens["admin"]).post(path, {}, "application/json", headers=headers).status_code
        == 200
    )
    assert api_client(other).post(path, {}, "application/json", headers=headers).status_code == 409


# --- Throttle, last use ---------------------------------------------------------------


def test_it_throttles_per_token_with_a_reason_and_retry_after(tokens, settings):
    settings.API_CALLS_PER_MINUTE = 3
    client = api_client(tokens["admin"])
    assert [client.get("/api/v1/users").status_code for _ in range(3)] == [200] * 3
    response = client.get("/api/v1/users")
    assert response.status_code == 429
    assert "3 calls in the last minute" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another token has its own count.
    assert api_client(tokens["other_tenant"]).get("/api/v1/users").status_code == 200
    ApiToken.objects.update(window_started_at=timezone.now() - timedelta(minutes=2))
    assert client.get("/api/v1/users").status_code == 200


def test_a_call_stamps_the_tokens_last_use(tokens):
    token = ApiToken.objects.get(name="a")
    assert token.last_used_at is None
    api_client(tokens["admin"]).get("/api/v1/users")
    token.refresh_from_db()
    assert token.last_used_at is not None


# --- Keyed pages ----------------------------------------------------------------------


@pytest.mark.parametrize("sort", sorted(USER_SORTS) + [f"-{key}" for key in sorted(USER_SORTS)])
def test_pages_by_cursor_walk_the_users_pages_order(tokens, acme, alice, paid_plan, bundle, sort):
    for i in range(9):
        user = make_user(
            f"u{i}@acme.example", acme, plan=[paid_plan, bundle, None][i % 3], name=f"U {i % 4}"
        )
        if i % 2:
            payment_profile_submit(user=user, method=Method.INVOICE, details=INVOICE_DETAILS)
    client = api_client(tokens["admin"])
    seen, cursor = [], ""
    while True:
        body = client.get("/api/v1/users", {"sort": sort, "limit": 2, "cursor": cursor}).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    expected = list(user_list_for_admin(tenant=acme, sort=sort).values_list("pk", flat=True))
    assert seen == expected


def test_the_list_filters_and_searches_as_the_users_page(tokens, bob):
    client = api_client(tokens["admin"])
    assert [u["email"] for u in client.get("/api/v1/users?status=pending").json()["items"]] == [
        bob.email
    ]
    assert [u["email"] for u in client.get("/api/v1/users?q=BOB").json()["items"]] == [bob.email]
    assert client.get("/api/v1/users?status=nope").status_code == 422
    assert client.get("/api/v1/users?cursor=garbage").status_code == 422
    assert client.get("/api/v1/users?q=%00").status_code == 200


def test_the_list_takes_a_constant_number_of_queries(
    tokens, acme, paid_plan, django_assert_max_num_queries
):
    for i in range(30):
        make_user(f"q{i}@acme.example", acme, plan=paid_plan)
    client = api_client(tokens["admin"])
    with django_assert_max_num_queries(3):
        assert len(client.get("/api/v1/users?limit=25").json()["items"]) == 25


# --- Schema and docs ------------------------------------------------------------------


def test_the_schema_and_docs_are_served_without_a_token_or_a_cdn(db):
    schema = Client().get("/api/v1/openapi.json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    docs = Client().get("/api/v1/docs/")
    html = docs.content.decode()
    assert docs.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in html and "/static/js/api-docs.js" in html
    from tests.test_security import find_inline_code

    assert find_inline_code(html) == []
    assert Client().get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_an_unknown_api_path_answers_json(db):
    response = Client().get("/api/v1/nothing-here")
    assert response.status_code == 404 and "detail" in response.json()
