"""Admin > Users: the table, its search, filter, sorting and pages, the Actions
dropdown, and a query count that does not grow with the number of users."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.forms import SORT_VALUES
from accounts.models import User
from accounts.selectors import STATUS_FILTERS, user_list_for_admin
from billing.models import STATUS_ORDER, Method, PaymentProfile, PendingChange, State, Status
from tests.helpers import client_for, links, make_user

URL = reverse("accounts:user_list")


def _row(html: str, email: str) -> str:
    """The <tr> of one user on the page."""
    match = re.search(rf'<tr data-user="{re.escape(email)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {email}"
    return match.group(1)


def _emails(response) -> list[str]:
    return re.findall(r'<tr data-user="([^"]+)">', response.content.decode())


@pytest.fixture
def cast(alice, dora, bob, betty, charlie):
    return {"alice": alice, "dora": dora, "bob": bob, "betty": betty, "charlie": charlie}


def test_it_lists_the_tenants_users_only(cast, make_profile):
    make_profile(cast["bob"], State.PENDING, Method.INVOICE)
    response = client_for(cast["alice"]).get(URL)
    assert response.status_code == 200
    assert sorted(_emails(response)) == sorted(
        ["alice@acme.example", "dora@acme.example", "bob@acme.example", "betty@acme.example"]
    )
    row = _row(response.content.decode(), "bob@acme.example")
    for text in ("Bob User", "Cloud Pro", "Invoice", "Pending activation"):
        assert text in row


def test_it_shows_the_admin_menu_and_an_empty_popup_for_the_actions(cast):
    html = client_for(cast["alice"]).get(URL).content.decode()
    shown = {text for text, _href in links(html)}
    assert {"Users", "Plans", "Settings", "Add user"} <= shown
    # The popup the Actions links open (static/js/app.js fills it; tests/e2e opens
    # it), named by the heading of what it is filled with.
    assert re.search(r'<div[^>]*\bid="action-modal"', html)


@pytest.mark.parametrize(
    ("state", "offered", "not_offered"),
    [
        (State.NONE, [], ["Activate Pay Profile", "Deactivate Pay Profile"]),
        (State.PENDING, ["Activate Pay Profile"], ["Deactivate Pay Profile"]),
        (State.ACTIVE, ["Deactivate Pay Profile"], ["Activate Pay Profile"]),
        (State.INACTIVE, ["Activate Pay Profile"], ["Deactivate Pay Profile"]),
    ],
)
def test_it_offers_the_actions_of_the_rows_state(cast, make_profile, state, offered, not_offered):
    if state != State.NONE:  # NONE: the profile as it was made with bob
        make_profile(cast["bob"], state)
    row = _row(client_for(cast["alice"]).get(URL).content.decode(), "bob@acme.example")
    for label in offered:
        assert row.count(label) == 1
    for label in not_offered:
        assert label not in row
    for label in ("Billing details", "History", "Change plan"):
        assert label in row


@pytest.mark.parametrize("state", [State.PENDING, State.INACTIVE, State.ACTIVE])
def test_it_offers_no_transition_on_the_admins_own_row(cast, make_profile, state):
    make_profile(cast["alice"], state)
    html = client_for(cast["alice"]).get(URL).content.decode()
    own = _row(html, "alice@acme.example")
    assert "Activate Pay Profile" not in own
    assert "Deactivate Pay Profile" not in own
    # Another admin sees it on alice's row.
    other = _row(client_for(cast["dora"]).get(URL).content.decode(), "alice@acme.example")
    expected = "Deactivate Pay Profile" if state == State.ACTIVE else "Activate Pay Profile"
    assert expected in other


def test_the_action_links_open_in_the_popup_and_come_back_to_the_list(cast, make_profile):
    make_profile(cast["bob"], State.PENDING)
    html = client_for(cast["alice"]).get(URL + "?q=bob&sort=-email").content.decode()
    row = _row(html, "bob@acme.example")
    activate = reverse("billing:profile_activate", args=[cast["bob"].pk])
    assert f'data-modal href="{activate}?next=%2Fadmin%2Fusers%2F%3Fq%3Dbob%26sort%3D-email"' in row


def test_it_searches_by_name_or_email(cast):
    client = client_for(cast["alice"])
    assert _emails(client.get(URL, {"q": "betty"})) == ["betty@acme.example"]
    assert _emails(client.get(URL, {"q": "BOB USER"})) == ["bob@acme.example"]
    assert _emails(client.get(URL, {"q": "globex"})) == []  # other tenant: never


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", ["bob@acme.example"]),
        ("active", ["betty@acme.example"]),
        ("inactive", ["dora@acme.example"]),
        ("not_required", ["alice@acme.example"]),  # an admin on a bundle: needs none
        ("", ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"]),
        (
            "bogus",
            ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"],
        ),
    ],
)
def test_it_filters_by_profile_status(cast, make_profile, status, expected):
    make_profile(cast["bob"], State.PENDING)
    make_profile(cast["betty"], State.ACTIVE, Method.CREDIT_CARD)
    make_profile(cast["dora"], State.INACTIVE)
    response = client_for(cast["alice"]).get(URL, {"status": status})
    assert response.status_code == 200
    assert sorted(_emails(response)) == expected


def test_the_pending_filter_is_labelled_pending_activation(cast):
    html = client_for(cast["alice"]).get(URL, {"status": "pending"}).content.decode()
    assert '<option value="pending" selected>Pending activation</option>' in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alice Admin", "Betty Bundle", "Bob User", "Dora Admin"]),
        ("-name", ["Dora Admin", "Bob User", "Betty Bundle", "Alice Admin"]),
        ("email", ["Alice Admin", "Betty Bundle", "Bob User", "Dora Admin"]),
        # Workflow order (billing.models.STATUS_ORDER), not alphabetical: dora's
        # pending, bob's active, alice's inactive, betty's not required (a bundle).
        ("status", ["Dora Admin", "Bob User", "Alice Admin", "Betty Bundle"]),
        ("-status", ["Betty Bundle", "Alice Admin", "Bob User", "Dora Admin"]),
        # No plan ("Bundles only" in the row) sorts first, as NULL does in every sort.
        ("plan", ["Dora Admin", "Bob User", "Alice Admin", "Betty Bundle"]),
        ("id; DROP TABLE", ["Alice Admin", "Betty Bundle", "Bob User", "Dora Admin"]),
    ],
)
def test_it_sorts_by_whitelisted_columns(cast, make_profile, sort, expected):
    make_profile(cast["bob"], State.ACTIVE)
    make_profile(cast["dora"], State.PENDING)
    make_profile(cast["alice"], State.INACTIVE)
    response = client_for(cast["alice"]).get(URL, {"sort": sort})
    assert response.status_code == 200
    names = [User.objects.get(email=e).name for e in _emails(response)]
    assert names == expected


def test_it_sorts_by_last_change_with_never_changed_as_the_oldest(cast, make_profile):
    make_profile(cast["bob"], State.PENDING)
    response = client_for(cast["alice"]).get(URL, {"sort": "-changed"})
    assert _emails(response)[0] == "bob@acme.example"
    response = client_for(cast["alice"]).get(URL, {"sort": "changed"})
    assert _emails(response)[-1] == "bob@acme.example"


def test_it_pages_fifty_at_a_time_and_keeps_the_filter(cast, acme):
    for i in range(60):
        make_user(f"u{i:03d}@acme.example", acme, name=f"User {i:03d}")
    client = client_for(cast["alice"])
    first = client.get(URL, {"q": "u0"})  # u000..u059 match: 60
    assert len(_emails(first)) == 50
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert 'href="?q=u0&amp;page=2"' in html
    second = client.get(URL, {"q": "u0", "page": 2})
    assert len(_emails(second)) == 10
    assert set(_emails(first)).isdisjoint(_emails(second))
    # A page past the end or not a number shows a page, never an error.
    assert client.get(URL, {"page": 99}).status_code == 200
    assert client.get(URL, {"page": "x"}).status_code == 200


def _users_page_queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, params or {})
    assert response.status_code == 200
    return len(ctx)


def _add_users(acme, plan, make_profile, count: int, start: int) -> None:
    """Users in every standing: pending, active (every other one on a card that
    expires this month), active with a change waiting, declined, deactivated, not
    set up, not required (no plan)."""
    standings = ["pending", "active", "change", "declined", "inactive", "none", "no plan"]
    for i in range(start, start + count):
        standing = standings[i % len(standings)]
        user = make_user(
            f"load{i:04d}@acme.example",
            acme,
            plan=None if standing == "no plan" else plan,
            name=f"Load {i:04d}",
        )
        if standing in ("none", "no plan"):
            continue
        state = {"change": State.ACTIVE, "declined": State.INACTIVE}.get(standing, standing)
        profile = make_profile(user, state, Method.CREDIT_CARD if i % 2 else Method.INVOICE)
        if standing == "change":
            change = PendingChange.objects.create(method=Method.INVOICE, city="Ogden")
            PaymentProfile.objects.filter(pk=profile.pk).update(pending_change=change)
        if standing == "declined":
            PaymentProfile.objects.filter(pk=profile.pk).update(declined_at=profile.submitted_at)
        if standing == "active" and profile.method == Method.CREDIT_CARD:
            today = timezone.now()
            PaymentProfile.objects.filter(pk=profile.pk).update(
                card_exp_month=today.month, card_exp_year=today.year
            )
        PaymentProfile.objects.filter(pk=profile.pk).refresh_sort_keys()  # after the UPDATEs


# Every kind of Users page: filters, searches, sorts (each column, both ways), and a
# page past the first. Each must cost the same few queries at 5 users and at 200.
PAGE_VARIANTS = [
    {},
    *({"status": status} for status in STATUS_FILTERS),
    {"q": "load"},
    {"q": "load0003@acme.example"},
    *({"sort": sort} for sort in sorted(SORT_VALUES)),
    {"page": 3},
    {"page": 2, "sort": "-status"},  # past the middle: read backwards
    {"q": "load", "status": "active", "sort": "-status", "page": 2},
]


@pytest.mark.parametrize("params", PAGE_VARIANTS, ids=lambda p: urlencode(p) or "plain")
def test_the_query_count_does_not_grow_with_the_users(
    cast, acme, paid_plan, make_profile, django_assert_max_num_queries, params
):
    client = client_for(cast["alice"])
    _add_users(acme, paid_plan, make_profile, 5, 0)
    with django_assert_max_num_queries(6):
        client.get(URL, params)
    small = _users_page_queries(client, params)

    _add_users(acme, paid_plan, make_profile, 195, 5)
    assert User.objects.filter(tenant=acme).count() > 200
    with django_assert_max_num_queries(6):
        client.get(URL, params)
    assert _users_page_queries(client, params) == small
    # And the same as the plain first page: no filter or sort adds a query.
    assert small == _users_page_queries(client)


@pytest.mark.parametrize("sort", sorted(SORT_VALUES))
def test_the_pages_of_every_sort_add_up_to_the_whole_list(
    cast, acme, paid_plan, make_profile, sort
):
    """Pages are read by key (the page's ids first, then those rows): together they
    must be exactly the whole list, in the list's own order, with no row twice."""
    _add_users(acme, paid_plan, make_profile, 110, 0)
    client = client_for(cast["alice"])
    paged = []
    for page in (1, 2, 3):
        paged += _emails(client.get(URL, {"sort": sort, "page": page}))
    whole = user_list_for_admin(tenant=acme, sort=sort).values_list("email", flat=True)
    assert paged == list(whole)
    assert len(paged) == len(set(paged)) == User.objects.filter(tenant=acme).count()


def test_card_expiring_lists_the_cards_that_end_within_30_days_with_the_expiry_in_the_row(
    cast, acme, paid_plan, make_profile
):
    import time_machine

    carol = make_user("carol@acme.example", acme, plan=paid_plan, name="Carol Card")
    with time_machine.travel("2030-04-10 12:00Z", tick=False):
        for user, month in ((cast["bob"], 4), (carol, 6)):  # ends 1 May; ends 1 July
            profile = make_profile(user, State.ACTIVE, Method.CREDIT_CARD)
            PaymentProfile.objects.filter(pk=profile.pk).update(
                card_exp_month=month, card_exp_year=2030
            )
        client = client_for(cast["alice"])
        response = client.get(URL, {"status": "card_expiring"})
        assert _emails(response) == ["bob@acme.example"]
        assert '<option value="card_expiring" selected>Card expiring</option>' in (
            response.content.decode()
        )
        html = client.get(URL).content.decode()
    bob_row, carol_row = _row(html, "bob@acme.example"), _row(html, "carol@acme.example")
    assert "Credit Card" in bob_row and "· expires 04/30" in bob_row
    assert "(card expiring)" in bob_row
    assert "· expires 06/30" in carol_row and "(card expiring)" not in carol_row


def _workflow_key(user: User) -> tuple:
    """The status sort's order, worked out here from the status each row shows."""
    profile = user.payment_profile
    changed = profile.state_changed_at
    return (STATUS_ORDER.index(profile.status), changed is not None, changed, user.pk)


def test_the_status_sort_is_in_workflow_order_both_ways_and_across_pages(
    cast, acme, paid_plan, make_profile
):
    """110 users in every status (two pages and a bit), sorted by status: pending
    first, then change pending, declined, not set up, active, inactive, not
    required; within a status the longest unchanged first. Descending is the exact
    reverse. Reading page by page crosses status boundaries with no row twice or
    missing."""
    _add_users(acme, paid_plan, make_profile, 110, 0)
    users = User.objects.filter(tenant=acme).select_related(
        "tenant", "plan", "payment_profile__pending_change"
    )
    expected = [user.email for user in sorted(users, key=_workflow_key)]
    shown = {user.payment_profile.status for user in users}
    assert shown == set(Status)  # every status is on the list
    client = client_for(cast["alice"])
    for sort, order in (("status", expected), ("-status", expected[::-1])):
        paged = []
        for page in (1, 2, 3):
            paged += _emails(client.get(URL, {"sort": sort, "page": page}))
        assert paged == order, sort
    first = _emails(client.get(URL, {"sort": "status"}))
    statuses = [users.get(email=email).payment_profile.status for email in first]
    assert statuses[0] == Status.PENDING
    assert statuses == sorted(statuses, key=STATUS_ORDER.index)


@pytest.mark.parametrize("few", [0, 5000], ids=["walking the users", "from the status index"])
@pytest.mark.parametrize("status", [key for key in STATUS_FILTERS if key in set(Status)])
def test_each_status_filter_shows_exactly_the_rows_with_that_badge(
    cast, acme, paid_plan, make_profile, monkeypatch, status, few
):
    monkeypatch.setattr("accounts.selectors.FEW", few)  # either way of reading the keys
    _add_users(acme, paid_plan, make_profile, 14, 0)
    users = User.objects.filter(tenant=acme).select_related("tenant", "plan", "payment_profile")
    expected = sorted(user.email for user in users if user.payment_profile.status == status)
    assert expected
    response = client_for(cast["alice"]).get(URL, {"status": status})
    assert sorted(_emails(response)) == expected
