"""Admin > Users > Export CSV: every user of the current filter, streamed as it is read,
in the words of the Users page, safe to open in a spreadsheet; the tenant's users
only; a query count and a memory use that do not grow with the rows."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime

import pytest
import time_machine
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts import exports
from accounts.exports import csv_cell
from accounts.models import User
from billing import user_list
from billing.models import Method, PaymentProfile, PendingChange, State
from tests.helpers import bulk_users, client_for

URL = reverse("billing:user_export")
HEADER = [
    "Name",
    "Email",
    "Plan",
    "Payment Method",
    "Profile Status",
    "Card",
    "Card Expiry Month",
    "Card Expiry Year",
    "Last Changed",
    "Admin",
]


def body(response) -> str:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8")


def read(response) -> list[dict[str, str]]:
    """The export's rows by column, after checking the BOM and the header."""
    text = body(response)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def emails(response) -> list[str]:
    return [row["Email"] for row in read(response)]


@pytest.fixture
def cast(alice, dora, bob, betty, charlie, make_profile):
    """bob pending on invoice; betty active on a card; dora declined; alice (admin,
    bundle) not required; charlie in Globex."""
    make_profile(bob, State.PENDING, Method.INVOICE)
    make_profile(betty, State.ACTIVE, Method.CREDIT_CARD)
    declined = make_profile(dora, State.INACTIVE, Method.INVOICE)
    declined_profile = PaymentProfile.objects.filter(pk=declined.pk)
    declined_profile.update(declined_at=timezone.now())
    declined_profile.refresh_sort_keys()  # the status the page filters by
    return {"alice": alice, "dora": dora, "bob": bob, "betty": betty, "charlie": charlie}


def test_it_exports_every_user_in_the_words_of_the_users_page(cast, acme):
    acme.time_zone = "America/New_York"
    acme.save()
    changed = datetime(2030, 1, 15, 17, 30, 5, tzinfo=UTC)
    PaymentProfile.objects.filter(user=cast["betty"]).update(state_changed_at=changed)
    response = client_for(cast["alice"]).get(URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = {row["Email"]: row for row in read(response)}
    assert list(rows) == [  # the page's own order: by name
        "alice@acme.example",
        "betty@acme.example",
        "bob@acme.example",
        "dora@acme.example",
    ]
    assert rows["betty@acme.example"] == {
        "Name": "Betty Bundle",
        "Email": "betty@acme.example",
        "Plan": "Starter Bundle",
        "Payment Method": "Credit Card",
        "Profile Status": "Active",
        "Card": "Visa ending in 4242",
        "Card Expiry Month": "4",
        "Card Expiry Year": "2031",
        "Last Changed": "2030-01-15T12:30:05-05:00",  # the tenant's zone, with its offset
        "Admin": "no",
    }
    bob = rows["bob@acme.example"]
    assert (bob["Plan"], bob["Payment Method"], bob["Profile Status"]) == (
        "Cloud Pro",
        "Invoice",
        "Pending activation",
    )
    assert bob["Card"] == bob["Card Expiry Month"] == bob["Card Expiry Year"] == ""
    alice = rows["alice@acme.example"]
    assert (alice["Payment Method"], alice["Profile Status"], alice["Last Changed"]) == (
        "Not set up",
        "Not required",
        "",
    )
    assert alice["Admin"] == "yes"
    dora = rows["dora@acme.example"]
    assert (dora["Plan"], dora["Profile Status"]) == ("Bundles only", "Declined")


def test_a_waiting_change_reads_as_on_the_page(cast):
    change = PendingChange.objects.create(method=Method.INVOICE, city="Ogden")
    PaymentProfile.objects.filter(user=cast["betty"]).update(pending_change=change)
    PaymentProfile.objects.filter(user=cast["betty"]).refresh_sort_keys()  # as save() would
    (row,) = [r for r in read(client_for(cast["alice"]).get(URL)) if r["Name"] == "Betty Bundle"]
    assert row["Profile Status"] == "Active · change pending"


def test_the_file_is_named_after_the_tenant_and_its_day(cast, acme):
    acme.time_zone = "Pacific/Auckland"
    acme.save()
    with time_machine.travel("2030-04-10 20:00Z", tick=False):  # the 11th in Auckland
        response = client_for(cast["alice"]).get(URL)
    assert response["Content-Disposition"] == 'attachment; filename="users-acme-2030-04-11.csv"'


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "bo"}, ["bob@acme.example"]),
        ({"status": "declined"}, ["dora@acme.example"]),
        ({"status": "active", "q": "betty"}, ["betty@acme.example"]),
        ({"plan": "none"}, ["dora@acme.example"]),
        ({"plan": "bundle"}, ["alice@acme.example", "betty@acme.example"]),
        (
            {"sort": "-email"},
            ["dora@acme.example", "bob@acme.example", "betty@acme.example", "alice@acme.example"],
        ),
        # The page and its size are the page's: the export has all of the list.
        (
            {"page": "2", "size": "25"},
            ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"],
        ),
        # Nonsense falls back as on the page.
        (
            {"status": "x", "plan": "x", "sort": "x; DROP TABLE"},
            ["alice@acme.example", "betty@acme.example", "bob@acme.example", "dora@acme.example"],
        ),
        ({"q": "globex"}, []),  # another tenant's: never
    ],
)
def test_it_exports_the_current_filter_and_sort(cast, bundle, params, expected):
    params = {k: bundle.pk if v == "bundle" else v for k, v in params.items()}
    assert emails(client_for(cast["alice"]).get(URL, params)) == expected


def test_another_tenants_users_never_appear(cast, globex, acme):
    bulk_users(globex, 30, prefix="gx")
    exported = emails(client_for(cast["charlie"]).get(URL))
    assert exported[0] == "charlie@globex.example" and len(exported) == 31
    assert all(email.endswith("@globex.example") for email in exported)
    mine = emails(client_for(cast["alice"]).get(URL))
    assert len(mine) == 4 and not any("globex" in email for email in mine)
    # Another tenant's plan id is ignored, as on the page: all of alice's, none of his.
    plan = globex.plans.create(name="Gold", kind="subscription")
    User.objects.filter(tenant=globex).update(plan=plan)
    assert emails(client_for(cast["alice"]).get(URL, {"plan": plan.pk})) == mine


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1 Plus", "'+1 Plus"),
        ("-2 Minus", "'-2 Minus"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ('Smith, Jane "JJ"\nSecond line', 'Smith, Jane "JJ"\nSecond line'),
        ("Jürgen 名前 🚀", "Jürgen 名前 🚀"),
        ("a=b", "a=b"),
    ],
)
def test_no_cell_runs_as_a_formula_and_every_name_comes_back_whole(alice, acme, name, shown):
    User.objects.filter(pk=alice.pk).update(name=name)
    (row,) = read(client_for(alice).get(URL))
    assert row["Name"] == shown


def test_csv_cell_guards_each_character_a_spreadsheet_starts_a_formula_with():
    for start in "=+-@\t\r":
        assert csv_cell(f"{start}x") == f"'{start}x"
    assert csv_cell("") == ""
    assert csv_cell("x=1") == "x=1"


def test_it_is_for_the_tenants_admins_and_by_get_only(cast):
    assert client_for(cast["bob"]).get(URL).status_code in (302, 403)
    assert client_for(cast["betty"]).get(URL).status_code == 403
    assert client_for(cast["alice"]).post(URL).status_code == 405
    assert client_for(None).get(URL)["Location"].startswith(reverse("accounts:login"))


def _consume(client, params=None) -> tuple[int, int]:
    """(chunks, bytes) of one export, read piece by piece as a server would."""
    response = client.get(URL, params or {})
    assert response.status_code == 200 and response.streaming
    chunks = size = 0
    for chunk in response.streaming_content:
        chunks += 1
        size += len(chunk)
    return chunks, size


@pytest.mark.parametrize("params", [{}, {"status": "awaiting"}, {"q": "many"}, {"plan": "none"}])
def test_the_query_count_does_not_grow_with_the_rows(
    cast, acme, paid_plan, django_assert_max_num_queries, params
):
    """session, user, the plans (only for a plan id), and one read of the rows; the
    rows' plans and profiles come with them, not one query each."""
    client = client_for(cast["alice"])
    with django_assert_max_num_queries(4) as few:
        _consume(client, params)
    bulk_users(acme, 300, plan=paid_plan)
    with django_assert_max_num_queries(4) as many:
        _consume(client, params)
    assert len(many) == len(few)


def _peak_memory(client, monkeypatch) -> tuple[int, int]:
    """Peak memory (bytes) while exporting, read ROWS_PER_FETCH = 100 rows at a time,
    and how many chunks the response came in."""
    monkeypatch.setattr(user_list, "ROWS_PER_FETCH", 100)
    monkeypatch.setattr(exports, "ROWS_PER_WRITE", 50)
    _consume(client)  # once before: what a first run allocates for good is not the rows'
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        chunks, _size = _consume(client)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, chunks


def test_memory_stays_flat_as_the_rows_grow(cast, acme, paid_plan, monkeypatch):
    """The rows are streamed as they are read (QuerySet.iterator: on PostgreSQL a
    server-side cursor), so ten times the rows take about the same memory, and the
    response goes out in pieces rather than as one string built first."""
    client = client_for(cast["alice"])
    bulk_users(acme, 196, plan=paid_plan)  # 200 with the cast
    small, small_chunks = _peak_memory(client, monkeypatch)
    bulk_users(acme, 1800, plan=paid_plan, prefix="more")  # 2,000
    large, large_chunks = _peak_memory(client, monkeypatch)
    assert small_chunks == 200 // 50 + 1 and large_chunks == 2000 // 50 + 1
    # Were the rows kept (the whole list, or the text), 1,800 rows more would take
    # over 1 MB more; streamed, the peak stays put (measured on SQLite: 240 kB at
    # 200 rows, 248 kB at 2,000, 240 kB at 8,000).
    assert large < small * 1.5, (small, large)
    assert large - small < 200_000, (small, large)
