"""Every read of the Users page (billing.user_list) on PostgreSQL, with the index its
plan must use, from ``EXPLAIN (FORMAT JSON)`` over a tenant of 20,000 users seeded as
the bench seeds them (bench.seed, analysed): no view reads a table whole."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Tenant, User
from bench import seed
from billing.user_list import user_list_page

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="query plans are PostgreSQL's; set DATABASE_URL=postgres://… to run them",
    ),
]

USERS = 20_000


def _nodes(node: dict) -> list[tuple[str, str, str]]:
    found = [
        (
            node["Node Type"],
            node.get("Index Name") or node.get("Relation Name") or "",
            node.get("Scan Direction", ""),
        )
    ]
    for child in node.get("Plans", []):
        found += _nodes(child)
    return found


def _plans(**query) -> list[list[tuple[str, str, str]]]:
    """The plan of each query one read of the Users page runs, as (node, index or
    table, direction) from the top."""
    tenant = Tenant.objects.get(slug="bench")
    with CaptureQueriesContext(connection) as captured:
        page = user_list_page(tenant=tenant, **query)
    assert page.users, query
    plans = []
    for executed in captured.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + executed["sql"])
            (plan,) = cursor.fetchone()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        plans.append(_nodes(plan[0]["Plan"]))
    return plans


def _indexes(plan) -> list[tuple[str, str]]:
    return [(index, direction) for node, index, direction in plan if "Index" in node and index]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        seeded = seed.seed(USERS, history=False)
        yield seeded
        # Committed outside any test's transaction: leave the database as found for
        # the tests after these (log rows, changes, everything the seed wrote).
        call_command("flush", interactive=False, verbosity=0)


# Each view: the index its page's keys are read from (the last query: the rows by
# key), and for a filtered view the index its count reads (the first query).
VIEWS = [
    ({}, [("user_list_name_idx", "Forward")], None),
    ({"number": USERS // 50}, [("user_list_name_idx", "Backward")], None),  # the last page
    ({"sort": "email"}, [("user_list_email_name_idx", "Forward")], None),
    ({"sort": "plan"}, [("user_list_plan_name_idx", "Forward")], None),
    ({"sort": "status"}, [("profile_list_status_idx", "Forward")], None),
    ({"sort": "-status"}, [("profile_list_status_idx", "Backward")], None),
    ({"sort": "method"}, [("profile_list_method_idx", "Forward")], None),
    ({"sort": "-changed"}, [("profile_list_changed_idx", "Backward")], None),
    ({"plan": "first"}, [("user_list_plan_idx", "Forward")], "user_list_plan_idx"),
    # A status many have: the users' order walked, each one's profile looked up.
    ({"status": "active"}, [("user_list_name_idx", "Forward")], "profile_list_status_idx"),
    ({"status": "held"}, [("user_list_name_idx", "Forward")], "profile_held_idx"),
    # A status few have: their keys first, from the status index, then sorted.
    ({"status": "declined"}, [("profile_list_status_idx", "Forward")], "profile_list_status_idx"),
    ({"status": "change_pending"}, [("profile_list_status_idx", "Forward")], None),
    ({"status": "card_expiring"}, [], "profile_list_card_idx"),
    # Searches: the trigram index, for the count and (few match) the keys.
    ({"q": "smith"}, [("user_search_trgm_idx", "")], "user_search_trgm_idx"),
    ({"q": "rare"}, [("user_search_trgm_idx", "")], "user_search_trgm_idx"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "keys_from", "counted_by"), VIEWS, ids=[str(view[0]) for view in VIEWS]
)
def test_each_view_reads_from_its_index(seeded, query, keys_from, counted_by):
    if query.get("plan") == "first":
        query = {"plan": str(seeded.tenant.plans.order_by("name").first().pk)}
    if query.get("q") == "rare":
        query = {"q": User.objects.filter(tenant=seeded.tenant).order_by("pk")[USERS // 2].email}
    plans = _plans(**query)
    for plan in plans:
        assert not [node for node in plan if node[0] == "Seq Scan"], plan
    rows = _indexes(plans[-1])
    for index in keys_from:
        assert index in rows, rows
    if counted_by:
        assert len(plans) == 2, "a filtered page is counted, then read"
        assert counted_by in [index for index, _ in _indexes(plans[0])], plans[0]
