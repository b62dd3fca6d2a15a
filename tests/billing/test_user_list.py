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

from accounts.models import User
from accounts.timezones import tenant_zone
from billing.acts import offered_acts
from billing.models import STATUS_ORDER, Method, PaymentProfile, PendingChange, State, Status
from billing.standing import STATUS_FILTERS, card_expiring, user_is_held
from billing.user_list import SORT_VALUES, user_list_for_admin
from tests.helpers import bulk_users, client_for, links, make_user

URL = reverse("billing:user_list")


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


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("change", [False, True], ids=["", "change"])
def test_each_rows_acts_are_what_its_profile_allows(cast, make_profile, state, change):
    """For every kind of row, a row's Actions are those billing.acts offers on its
    profile, in that order, on others' rows and on the admin's own."""
    for user in (cast["bob"], cast["alice"]):
        profile = make_profile(user, state)
        if change:
            pending = PendingChange.objects.create(method=Method.INVOICE, city="Ogden")
            PaymentProfile.objects.filter(pk=profile.pk).update(pending_change=pending)
            PaymentProfile.objects.filter(pk=profile.pk).refresh_sort_keys()
    for admin in (cast["alice"], cast["dora"]):
        html = client_for(admin).get(URL).content.decode()
        for user in User.objects.filter(tenant=admin.tenant):
            profile = PaymentProfile.objects.select_related("user").get(user=user)
            offered = [act.label for act in offered_acts(profile, admin)]
            shown = re.findall(r'data-modal href="[^"]*">([^<]+)</a>', _row(html, user.email))
            assert shown[: len(offered)] == offered, (admin, user.email)
            assert shown[len(offered) :] == ["Billing details"], (admin, user.email)


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
    set up, not required (no plan). Built in bulk: a handful of queries for any
    number (the copies the page reads refreshed at the end, as save() would)."""
    standings = ["pending", "active", "change", "declined", "inactive", "none", "no plan"]
    now = timezone.now()
    users = User.objects.bulk_create(
        User(
            email=f"load{i:04d}@acme.example",
            name=f"Load {i:04d}",
            tenant=acme,
            plan=None if standings[i % len(standings)] == "no plan" else plan,
            plan_name="" if standings[i % len(standings)] == "no plan" else plan.name,
            terms_accepted_at=now,
        )
        for i in range(start, start + count)
    )
    profiles = []
    for i, user in zip(range(start, start + count), users, strict=True):
        standing = standings[i % len(standings)]
        card = bool(i % 2)
        fields = {}
        if standing not in ("none", "no plan"):
            fields = {
                "state": {"change": State.ACTIVE, "declined": State.INACTIVE}.get(
                    standing, standing
                ),
                "method": Method.CREDIT_CARD if card else Method.INVOICE,
                "card_exp_month": 4 if card else None,
                "card_exp_year": 2031 if card else None,
                "submitted_at": now,
                "state_changed_at": now,
            }
            if standing == "change":
                fields["pending_change"] = PendingChange.objects.create(
                    method=Method.INVOICE, city="Ogden"
                )
            if standing == "declined":
                fields["declined_at"] = now
            if standing == "active" and card:
                fields.update(card_exp_month=now.month, card_exp_year=now.year)
        profiles.append(PaymentProfile(user=user, tenant=acme, **fields))
    PaymentProfile.objects.bulk_create(profiles)
    PaymentProfile.objects.filter(user__in=users).refresh_sort_keys()


# Every kind of Users page: filters, searches, sorts (each column, both ways), page
# sizes, and a page past the first. Each must cost the same few queries at 5 users
# and at 200. ("paid": the paid plan's id, known only once the test runs.)
PAGE_VARIANTS = [
    {},
    *({"status": status} for status in STATUS_FILTERS),
    {"q": "load"},
    {"q": "load0003@acme.example"},
    {"plan": "paid"},
    {"plan": "none"},
    {"plan": "paid", "sort": "-status"},
    {"plan": "paid", "status": "active", "sort": "method"},
    *({"sort": sort} for sort in sorted(SORT_VALUES)),
    {"page": 3},
    {"page": 2, "sort": "-status"},  # past the middle: read backwards
    {"size": 25},
    {"size": 100},
    {"size": 100, "page": 2},
    {"q": "load", "status": "active", "sort": "-status", "page": 2},
    {"q": "load", "status": "active", "plan": "paid", "size": 25, "page": 2},
]
# Session, user (with the tenant and its count of users), plans (the Plan select),
# the Admin menu's badge, the page's rows.
PAGE_QUERIES = 5
FILTERED_QUERIES = PAGE_QUERIES + 1  # and the count of those that match: "41 of 122 users"


@pytest.mark.parametrize("params", PAGE_VARIANTS, ids=lambda p: urlencode(p) or "plain")
def test_the_query_count_does_not_grow_with_the_users(
    cast, acme, paid_plan, make_profile, django_assert_max_num_queries, params
):
    params = {k: paid_plan.pk if v == "paid" else v for k, v in params.items()}
    filtered = any(params.get(key) for key in ("q", "status", "plan"))
    most = FILTERED_QUERIES if filtered else PAGE_QUERIES
    client = client_for(cast["alice"])
    _add_users(acme, paid_plan, make_profile, 5, 0)
    with django_assert_max_num_queries(most):
        client.get(URL, params)
    small = _users_page_queries(client, params)

    _add_users(acme, paid_plan, make_profile, 195, 5)
    assert User.objects.filter(tenant=acme).count() > 200
    with django_assert_max_num_queries(most):
        client.get(URL, params)
    assert _users_page_queries(client, params) == small
    # And the same as the plain first page, but for the total a filter adds: no
    # sort, page size or page adds a query.
    assert small == _users_page_queries(client) + filtered


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


# --- Counts, page numbers, page size, plan filter --------------------------------


def _count_line(html: str) -> str:
    match = re.search(r'<p class="mb-2" id="user-count">([^<]*)</p>', html)
    assert match, "no count line"
    return match.group(1)


def test_it_counts_the_users_and_when_filtered_says_of_how_many(cast, charlie):
    client = client_for(cast["alice"])
    assert _count_line(client.get(URL).content.decode()) == "4 users"
    assert _count_line(client.get(URL, {"q": "bob"}).content.decode()) == "1 of 4 users"
    assert _count_line(client.get(URL, {"q": "nobody"}).content.decode()) == "0 of 4 users"
    # Sort, page size and page filter nothing: no "of".
    plain = client.get(URL, {"sort": "-email", "size": 25, "page": 1}).content.decode()
    assert _count_line(plain) == "4 users"
    # A tenant of one.
    alone = client_for(charlie)
    assert _count_line(alone.get(URL).content.decode()) == "1 user"
    assert _count_line(alone.get(URL, {"q": "charlie"}).content.decode()) == "1 of 1 user"
    assert _count_line(alone.get(URL, {"q": "zzz"}).content.decode()) == "0 of 1 user"


def test_a_count_past_its_cap_says_so_and_the_pages_go_on_with_next(cast, acme, monkeypatch):
    monkeypatch.setattr("billing.user_list.COUNT_CAP", 30)
    bulk_users(acme, 80, prefix="cap")
    client = client_for(cast["alice"])
    first = client.get(URL, {"q": "cap", "size": 25}).content.decode()
    assert _count_line(first) == "30+ of 84 users"
    assert "Select all 30+ matching" in first
    items = [text for text, _href, _classes in _page_items(first)]
    assert "Next" in items and "Last" not in items
    assert "Page 1 of" not in first
    # Past the count's cap the pages go on, by Next, to the last match.
    assert len(_emails(client.get(URL, {"q": "cap", "size": 25, "page": 3}))) == 25
    last = client.get(URL, {"q": "cap", "size": 25, "page": 4})
    assert len(_emails(last)) == 5
    assert ("Next", "", "disabled") in _page_items(last.content.decode())
    # Unfiltered, the count stays exact, with its Last page.
    plain = client.get(URL, {"size": 25}).content.decode()
    assert _count_line(plain) == "84 users"
    assert "Last" in [text for text, _href, _classes in _page_items(plain)]


def test_the_count_groups_thousands(cast, acme):
    bulk_users(acme, 1000, prefix="bulk")
    html = client_for(cast["alice"]).get(URL, {"q": "bulk"}).content.decode()
    assert _count_line(html) == "1,000 of 1,004 users"


def _pagination(html: str) -> str:
    match = re.search(r'<nav [^>]*aria-label="Pages">(.*?)</nav>', html, re.S)
    assert match, "no pagination"
    return match.group(1)


def _page_items(html: str) -> list[tuple[str, str, str]]:
    """(text, href or "" for no link, the item's classes) of each pagination item."""
    items = []
    for classes, inner in re.findall(
        r'<li class="page-item([^"]*)"[^>]*>(.*?)</li>', _pagination(html), re.S
    ):
        href = re.search(r'href="([^"]*)"', inner)
        text = " ".join(re.sub(r"<[^>]+>", "", inner).split())
        items.append((text, href[1].replace("&amp;", "&") if href else "", classes.strip()))
    return items


@pytest.fixture
def many(cast, acme):
    """130 more users: 134 in all, 6 pages of 25."""
    bulk_users(acme, 130)
    return client_for(cast["alice"])


def test_the_pages_have_first_previous_numbers_next_and_last(many):
    html = many.get(URL, {"size": 25, "page": 3, "q": "a", "sort": "-name"}).content.decode()
    base = "?q=a&sort=-name&size=25&"
    assert _page_items(html) == [
        ("First", base + "page=1", ""),
        ("Previous", base + "page=2", ""),
        ("Page 1", base + "page=1", "d-none d-sm-block"),  # hidden on a phone
        ("Page 2", base + "page=2", ""),
        ("Page 3", "", "active"),
        ("Page 4", base + "page=4", ""),
        ("Page 5", base + "page=5", "d-none d-sm-block"),
        ("…", "", "disabled d-none d-sm-block"),
        ("Next", base + "page=4", ""),
        ("Last", base + "page=6", ""),
    ]
    assert '<span class="page-link" aria-current="page">' in _pagination(html)
    assert html.count('aria-current="page"') == 2  # the page, and Users in the admin menu
    assert "Page 3 of 6" in html


def test_the_first_and_last_pages_have_nothing_before_or_after(many):
    first = _page_items(many.get(URL, {"size": 25}).content.decode())
    assert [item[0] for item in first] == [
        "First",
        "Previous",
        "Page 1",
        "Page 2",
        "Page 3",
        "…",
        "Next",
        "Last",
    ]
    assert first[0] == ("First", "", "disabled") and first[1] == ("Previous", "", "disabled")
    last = _page_items(many.get(URL, {"size": 25, "page": 6}).content.decode())
    assert [item[0] for item in last] == [
        "First",
        "Previous",
        "…",
        "Page 4",
        "Page 5",
        "Page 6",
        "Next",
        "Last",
    ]
    assert last[-2:] == [("Next", "", "disabled"), ("Last", "", "disabled")]
    # One page: no pagination at all.
    assert 'aria-label="Pages"' not in many.get(URL, {"size": 100, "q": "many00"}).content.decode()


@pytest.mark.parametrize(
    ("size", "rows"), [("25", 25), ("50", 50), ("100", 100), ("30", 50), ("", 50), ("1e2", 50)]
)
def test_it_shows_25_50_or_100_a_page_and_50_for_anything_else(many, size, rows):
    response = many.get(URL, {"size": size})
    assert len(_emails(response)) == rows
    assert response.context["size"] == rows
    assert f'<option value="{rows}" selected>{rows}</option>' in response.content.decode()


def test_every_link_keeps_the_page_size_and_the_filters(many, paid_plan):
    params = {"size": 25, "q": "a", "status": "not_required", "plan": "none", "sort": "email"}
    html = many.get(URL, params).content.decode()
    sort_links = re.findall(r'<a class="sort-link" href="([^"]*)"', html)
    assert sort_links and all(
        link.startswith("?q=a&amp;status=not_required&amp;plan=none&amp;size=25&amp;sort=")
        for link in sort_links
    )
    pages = [href for _text, href, _classes in _page_items(html) if href]
    assert pages and all(
        href.startswith("?q=a&status=not_required&plan=none&sort=email&size=25&page=")
        for href in pages
    )
    # The filter form sends the page size and the sort along with what it filters.
    assert '<input type="hidden" name="sort" value="email">' in html
    # The export takes the filters and the sort: all of the list, not a page of it.
    export = reverse("billing:user_export")
    assert (
        f'href="{export}?q=a&amp;status=not_required&amp;plan=none&amp;sort=email">Export CSV'
        in html
    )


def test_the_plain_page_links_carry_no_defaults(many):
    html = many.get(URL).content.decode()
    assert f'href="{reverse("billing:user_export")}">Export CSV' in html
    assert 'href="?page=2"' in html
    assert 'href="?sort=-name"' in html


@pytest.fixture
def globex_plan(globex):
    from accounts.models import Plan

    return Plan.objects.create(tenant=globex, name="Globex Gold", kind=Plan.Kind.SUBSCRIPTION)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ("paid", ["bob@acme.example"]),
        ("bundle", ["alice@acme.example", "betty@acme.example"]),
        ("none", ["dora@acme.example"]),  # no plan: the page says "Bundles only"
        (
            "globex",
            ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"],
        ),
        (
            "987654",
            ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"],
        ),
        (
            "x",
            ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"],
        ),
        ("", ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"]),
    ],
)
def test_it_filters_by_plan(cast, paid_plan, bundle, globex_plan, charlie, plan, expected):
    value = {"paid": paid_plan.pk, "bundle": bundle.pk, "globex": globex_plan.pk}.get(plan, plan)
    response = client_for(cast["alice"]).get(URL, {"plan": value})
    assert response.status_code == 200
    assert sorted(_emails(response)) == expected
    # Another tenant's plan, or none of the tenant's: ignored, as if not given.
    shown = response.context["plan"]
    assert shown == ("" if plan in ("globex", "987654", "x", "") else str(value))
    html = response.content.decode()
    assert _count_line(html) == (f"{len(expected)} of 4 users" if shown else "4 users")


def test_the_plan_select_lists_the_tenants_plans_and_no_plan(cast, paid_plan, bundle, globex_plan):
    html = client_for(cast["alice"]).get(URL, {"plan": bundle.pk}).content.decode()
    select = re.search(
        r'<select class="form-select" id="user-plan" name="plan">(.*?)</select>', html, re.S
    )[1]
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
    assert options == [
        ("", "", "All"),
        (str(paid_plan.pk), "", "Cloud Pro"),
        (str(bundle.pk), " selected", "Starter Bundle"),
        ("none", "", "Bundles only (no plan)"),
    ]
    assert "Globex Gold" not in html
    assert '<label class="form-label" for="user-plan">Plan</label>' in html


def test_the_status_select_offers_every_status_filter(cast):
    html = client_for(cast["alice"]).get(URL).content.decode()
    select = re.search(
        r'<select class="form-select" id="user-status" name="status">(.*?)</select>', html, re.S
    )[1]
    values = re.findall(r'<option value="([^"]*)"', select)
    assert values == ["", *STATUS_FILTERS]
    for label in ("Awaiting an admin", "Held at the gate", "Change pending", "Declined"):
        assert f">{label}</option>" in select


def test_the_filters_apply_on_change_with_script_and_with_the_button_without(cast):
    html = client_for(cast["alice"]).get(URL).content.decode()
    form = re.search(r'<form method="get"[^>]*>(.*?)</form>', html, re.S)
    assert "data-apply-on-change" in form[0]
    assert '<button class="btn btn-outline-primary" type="submit">Apply</button>' in form[1]
    assert '<script src="/static/js/user-filters.js"></script>' in html


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


@pytest.mark.parametrize("indexed", [False, True], ids=["walked", "keys first"])
@pytest.mark.parametrize("sort", ["name", "-email", "plan"])
def test_a_search_shows_the_same_users_either_way_it_reads_them(
    cast, acme, paid_plan, make_profile, monkeypatch, indexed, sort
):
    # Read by walking the page's order, or (every search "few") its keys first.
    monkeypatch.setattr("billing.user_list.FEW", 10**6 if indexed else 0)
    _add_users(acme, paid_plan, make_profile, 30, 0)
    client = client_for(cast["alice"])
    for q, status in (("load0017@acme", ""), ("LOAD 002", ""), ("load", "active"), ("x", "")):
        expected = list(user_list_for_admin(tenant=acme, q=q, status=status, sort=sort))
        shown = _emails(client.get(URL, {"q": q, "status": status, "sort": sort}))
        assert shown == [user.email for user in expected][:50], q


# Every way user_list_page reads a status filter's keys (billing.user_list.FEW).
KEY_PATHS = {"walking the users": 0, "keys first": 10**6}


def _shows(user: User, status: str, now) -> bool:
    """Whether the user's row belongs under `status`, worked out from what the row
    and the gate say (not from the copies the filter reads)."""
    profile = user.payment_profile
    if status == "held":
        return user_is_held(user)
    if status == "awaiting":
        return profile.status in (Status.PENDING, Status.CHANGE_PENDING)
    if status == "card_expiring":
        return (
            card_expiring(
                state=profile.state,
                method=profile.method,
                month=profile.card_exp_month,
                year=profile.card_exp_year,
                tz=tenant_zone(user.tenant),
                now=now,
            )
            is not None
        )
    return profile.status == status


@pytest.mark.parametrize("path", KEY_PATHS)
@pytest.mark.parametrize("status", STATUS_FILTERS)
def test_each_status_filter_shows_exactly_the_rows_with_that_badge(
    cast, acme, paid_plan, make_profile, monkeypatch, status, path
):
    monkeypatch.setattr("billing.user_list.FEW", KEY_PATHS[path])
    _add_users(acme, paid_plan, make_profile, 14, 0)
    users = User.objects.filter(tenant=acme).select_related("tenant", "plan", "payment_profile")
    now = timezone.now()
    expected = sorted(user.email for user in users if _shows(user, status, now))
    assert expected
    client = client_for(cast["alice"])
    assert sorted(_emails(client.get(URL, {"status": status}))) == expected
    # And with a plan filter, in the order of another user's column.
    mine = sorted(u.email for u in users if u.plan == paid_plan and u.email in expected)
    response = client.get(URL, {"status": status, "plan": paid_plan.pk, "sort": "-email"})
    assert _emails(response) == mine[::-1]
