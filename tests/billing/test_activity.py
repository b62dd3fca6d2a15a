"""Admin > Activity: every act on the tenant's payment profiles, newest first, by key,
filtered by act, user and dates (in the tenant's zone), and its CSV export."""

from __future__ import annotations

import csv
import html as html_text
import io
import re
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django_fsm_log.models import StateLog

from accounts.exports import csv_cell
from billing.models import Method, PaymentProfile, State
from billing.selectors import Cursor, key_page, tenant_activity
from billing.services import (
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_decline,
)
from tests.helpers import client_for, make_user

URL = reverse("billing:activity")
EXPORT = reverse("billing:activity_export")


def log(profile: PaymentProfile, *, at: datetime, act: str = "activate", by=None, **extra):
    """A log entry made directly (test set-up: the services write the real ones)."""
    return StateLog.objects.create(
        content_type=ContentType.objects.get_for_model(PaymentProfile),
        object_id=profile.pk,
        timestamp=at,
        transition=act,
        source_state=State.PENDING,
        state=State.ACTIVE,
        by=by,
        **extra,
    )


def many(profile: PaymentProfile, n: int, *, at: datetime, same=1, by=None):
    """`n` entries on `profile`, a second apart from `at`, `same` at a time sharing
    one timestamp."""
    ct = ContentType.objects.get_for_model(PaymentProfile)
    StateLog.objects.bulk_create(
        StateLog(
            content_type=ct,
            object_id=profile.pk,
            timestamp=at + timedelta(seconds=i // same),
            transition="activate",
            source_state=State.PENDING,
            state=State.ACTIVE,
            by=by,
            description=f"entry {i}",
        )
        for i in range(n)
    )


def rows_of(html: str) -> list[list[str]]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [
        [
            html_text.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def link(html: str, label: str) -> str | None:
    found = re.search(rf'<a class="page-link" href="([^"]+)"[^>]*>{label}</a>', html)
    return found[1].replace("&amp;", "&") if found else None


@pytest.fixture
def acts(alice, dora, bob, betty, charlie, make_profile):
    """Real acts through the services: on bob's and betty's profiles (Acme), and one
    on a Globex user's profile that Acme must never see."""
    make_profile(bob, State.PENDING, Method.INVOICE)
    make_profile(betty, State.PENDING, Method.INVOICE)
    payment_profile_activate(actor=alice, user=bob)
    payment_profile_decline(actor=dora, user=betty, reason="Wrong company name")
    payment_profile_deactivate(actor=dora, user=bob, reason='=HYPERLINK("http://evil")')
    gary = make_user("gary@globex.example", charlie.tenant, name="Gary Globex")
    make_profile(gary, State.PENDING, Method.INVOICE)
    payment_profile_activate(actor=charlie, user=gary, note="Globex secret")
    return gary


def test_it_lists_every_act_of_the_tenant_newest_first(alice, bob, acts):
    response = client_for(alice).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert [row[1:] for row in rows_of(html)] == [
        [
            "Deactivated",
            "Bob User",
            "Active",
            "Inactive",
            "Dora Admin",
            '=HYPERLINK("http://evil")',
        ],
        [
            "Declined",
            "Betty Bundle",
            "Pending activation",
            "Declined",
            "Dora Admin",
            "Wrong company name",
        ],
        ["Activated", "Bob User", "Pending activation", "Active", "Alice Admin", "—"],
    ]
    assert f'href="{reverse("billing:profile_history", args=[bob.pk])}"' in html
    assert "Globex" not in html and "gary" not in html


def test_another_tenant_never_sees_them(charlie, acts):
    html = client_for(charlie).get(URL).content.decode()
    assert [row[1:3] for row in rows_of(html)] == [["Activated", "Gary Globex"]]
    assert "Bob User" not in html
    # Not by searching for them either, nor in the export.
    assert "Bob" not in client_for(charlie).get(URL, {"user": "bob"}).content.decode()
    body = b"".join(client_for(charlie).get(EXPORT).streaming_content).decode()
    assert "Bob" not in body and "Gary Globex" in body


def test_system_acts_are_done_by_the_system(alice, bob, make_profile):
    profile = make_profile(bob, State.ACTIVE)
    log(profile, at=datetime(2030, 1, 1, tzinfo=UTC), act="expire")
    rows = rows_of(client_for(alice).get(URL).content.decode())
    assert rows[0][1] == "Deactivated: card expired"
    assert rows[0][5] == "the system"


@pytest.mark.parametrize(
    ("act", "expected"), [("decline", ["Declined"]), ("activate", ["Activated"]), ("", None)]
)
def test_it_filters_by_act(alice, acts, act, expected):
    rows = rows_of(client_for(alice).get(URL, {"act": act}).content.decode())
    assert [row[1] for row in rows] == (expected or ["Deactivated", "Declined", "Activated"])


def test_an_unknown_act_shows_everything(alice, acts):
    rows = rows_of(client_for(alice).get(URL, {"act": "drop table"}).content.decode())
    assert len(rows) == 3


def test_it_filters_by_whose_profile_or_who_acted(alice, acts):
    def acts_for(text):
        return [
            (row[1], row[2])
            for row in rows_of(client_for(alice).get(URL, {"user": text}).content.decode())
        ]

    # Whose profile, by name or e-mail.
    assert acts_for("betty@") == [("Declined", "Betty Bundle")]
    assert acts_for("bob user") == [("Deactivated", "Bob User"), ("Activated", "Bob User")]
    # Who acted: Dora's two acts.
    assert acts_for("dora") == [("Deactivated", "Bob User"), ("Declined", "Betty Bundle")]
    # Charlie (Globex) acted, but not on Acme's profiles.
    assert (
        "No activity matches." in client_for(alice).get(URL, {"user": "charlie"}).content.decode()
    )


def test_the_date_range_is_in_the_tenants_zone_and_inclusive(alice, acme, bob, make_profile):
    acme.time_zone = "America/New_York"  # UTC-5 in January
    acme.save()
    profile = make_profile(bob, State.ACTIVE)
    log(profile, at=datetime(2030, 1, 10, 4, 59, tzinfo=UTC), description="9th late evening")
    log(profile, at=datetime(2030, 1, 10, 5, 0, tzinfo=UTC), description="10th midnight")
    log(profile, at=datetime(2030, 1, 11, 4, 59, tzinfo=UTC), description="10th late evening")
    log(profile, at=datetime(2030, 1, 11, 5, 0, tzinfo=UTC), description="11th midnight")
    client = client_for(alice)

    def shown(**params):
        return [row[6] for row in rows_of(client.get(URL, params).content.decode())]

    assert shown(since="2030-01-10", until="2030-01-10") == ["10th late evening", "10th midnight"]
    assert shown(since="2030-01-11") == ["11th midnight"]
    assert shown(until="2030-01-09") == ["9th late evening"]


def test_the_date_filter_moves_with_time(alice, bob, make_profile, time_machine):
    """Entries logged now (time moved) fall in today's range in the tenant's zone."""
    time_machine.move_to(datetime(2031, 6, 1, 23, 30, tzinfo=UTC), tick=False)
    make_profile(bob, State.PENDING)
    payment_profile_activate(actor=alice, user=bob)  # 2031-06-01 23:30 UTC
    client = client_for(alice)
    assert (
        len(
            rows_of(
                client.get(URL, {"since": "2031-06-01", "until": "2031-06-01"}).content.decode()
            )
        )
        == 1
    )
    assert "No activity matches." in client.get(URL, {"since": "2031-06-02"}).content.decode()


def test_a_range_that_ends_before_it_starts_is_a_form_error(alice, acts):
    response = client_for(alice).get(URL, {"since": "2030-02-01", "until": "2030-01-01"})
    assert response.status_code == 200
    html = response.content.decode()
    # The days in words: the date inputs show each browser's own format, not ours.
    assert "The end date (1 January 2030) is before the start date (1 February 2030)" in html
    assert "Correct the dates above to see the activity." in html
    assert 'aria-invalid="true"' in html
    # Both are days: they stay in their inputs.
    assert 'value="2030-02-01"' in html and 'value="2030-01-01"' in html
    # The export of such a filter goes back to the page that says so.
    export = client_for(alice).get(EXPORT, {"since": "2030-02-01", "until": "2030-01-01"})
    assert export.status_code == 302
    assert export["Location"].startswith(URL + "?")


@pytest.mark.parametrize(
    "value", ["yesterday", "2030-13-01", "2030-02-30", "x" * 500, "0000-01-01", "275760-01-01"]
)
def test_a_date_that_is_not_one_is_a_field_error_and_not_put_back(alice, value):
    response = client_for(alice).get(URL, {"since": value})
    assert response.status_code == 200
    html = response.content.decode()
    shown = value[:30] + ("…" if len(value) > 30 else "")
    assert (
        f"The start date ({shown}) is not a day of the calendar: pick one in the date field."
        in html
    )
    assert "YYYY" not in html
    # An <input type="date"> holds a valid date or nothing (the Nu checker's rule).
    assert 'name="since" value=""' in html


@pytest.mark.parametrize("params", [{"until": "9999-12-31"}, {"since": "0001-01-01"}])
def test_a_day_at_the_end_of_the_calendar_is_a_field_error_not_a_500(alice, acts, params):
    """9999-12-31's next day, and 0001-01-01's start east of UTC, are not datetimes
    (an OverflowError): such days are refused at the field, on the page and its CSV."""
    (name, value), *_ = params.items()
    which, day = ("end", "31 December 9999") if name == "until" else ("start", "1 January 0001")
    response = client_for(alice).get(URL, params)
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        f"The {which} date ({day}) is outside this log: pick a day from 1 January 1900 to "
        "31 December 9998." in html
    )
    assert "Correct the dates above to see the activity." in html
    assert f'name="{name}" value="{value}"' in html  # a valid date: kept in the input
    export = client_for(alice).get(EXPORT, params)
    assert export.status_code == 302
    assert export["Location"].startswith(URL + "?")
    assert client_for(alice).get(export["Location"]).status_code == 200


def test_the_first_and_last_days_allowed_list_what_they_hold(alice, acts):
    response = client_for(alice).get(URL, {"since": "1900-01-01", "until": "9998-12-31"})
    assert response.status_code == 200
    assert "Correct the dates" not in response.content.decode()
    export = client_for(alice).get(EXPORT, {"since": "1900-01-01", "until": "9998-12-31"})
    assert export.status_code == 200
    b"".join(export.streaming_content)


# --- Pages by key ---------------------------------------------------------------------


def walk(client, params=None) -> tuple[list[str], list[str]]:
    """Follows "Older" from the first page to the last, then "Newer" back; returns the
    entries seen each way."""
    older, newer = [], []
    html = client.get(URL, params or {}).content.decode()
    older += [row[6] for row in rows_of(html)]
    while next_url := link(html, "Older"):
        html = client.get(URL + next_url).content.decode()
        older += [row[6] for row in rows_of(html)]
    pages_back = [[row[6] for row in rows_of(html)]]
    while prev := link(html, "Newer"):
        html = client.get(URL + prev).content.decode()
        pages_back.append([row[6] for row in rows_of(html)])
    for page in reversed(pages_back):
        newer += page
    return older, newer


def test_pages_by_key_have_no_duplicates_and_no_gaps_even_with_equal_times(
    alice, bob, make_profile
):
    profile = make_profile(bob, State.ACTIVE)
    # 130 entries, in groups of 7 sharing one timestamp: page edges fall inside groups.
    many(profile, 130, at=datetime(2030, 1, 1, tzinfo=UTC), same=7)
    expected = [
        e.description
        for e in StateLog.objects.filter(object_id=profile.pk).order_by("-timestamp", "-pk")
    ]
    older, newer = walk(client_for(alice))
    assert older == expected  # every entry once, in order
    assert newer[: len(older)] == expected[: len(newer)]
    assert len(set(newer)) == len(newer)


def test_pages_keep_the_filter(alice, bob, betty, make_profile):
    many(make_profile(bob, State.ACTIVE), 60, at=datetime(2030, 1, 1, tzinfo=UTC))
    many(make_profile(betty, State.ACTIVE), 60, at=datetime(2030, 1, 1, tzinfo=UTC))
    html = client_for(alice).get(URL, {"user": "betty"}).content.decode()
    assert "user=betty" in link(html, "Older")
    older, _ = walk(client_for(alice), {"user": "betty"})
    assert len(older) == 60
    assert {row for row in older} == {f"entry {i}" for i in range(60)}


def test_a_new_entry_while_paging_is_neither_repeated_nor_lost(alice, bob, make_profile):
    profile = make_profile(bob, State.ACTIVE)
    many(profile, 100, at=datetime(2030, 1, 1, tzinfo=UTC))
    client = client_for(alice)
    html = client.get(URL).content.decode()
    first = [row[6] for row in rows_of(html)]
    log(profile, at=datetime(2031, 1, 1, tzinfo=UTC), description="new")
    second = [row[6] for row in rows_of(client.get(URL + link(html, "Older")).content.decode())]
    assert first == [f"entry {i}" for i in range(99, 49, -1)]
    assert second == [f"entry {i}" for i in range(49, -1, -1)]


@pytest.mark.parametrize(
    "params",
    [
        {"before": "nonsense"},
        {"after": "12.x"},
        {"before": "-99999999999999999.1"},  # before year 1
        {"before": "1.99999999999999999999"},  # not a database id
        {"before": "1.1", "after": "1.1"},
        {"after": "1" * 500},
    ],
)
def test_a_tampered_cursor_shows_the_newest_page_and_says_so(alice, bob, make_profile, params):
    many(make_profile(bob, State.ACTIVE), 3, at=datetime(2030, 1, 1, tzinfo=UTC))
    response = client_for(alice).get(URL, params)
    assert response.status_code == 200
    html = response.content.decode()
    assert "That page link is not valid" in html
    assert [row[6] for row in rows_of(html)] == ["entry 2", "entry 1", "entry 0"]


def test_a_cursor_past_either_end_shows_the_newest_page(alice, bob, make_profile):
    many(make_profile(bob, State.ACTIVE), 3, at=datetime(2030, 1, 1, tzinfo=UTC))
    client = client_for(alice)
    for params in (
        {"before": "0.0"},
        {"after": str(Cursor(datetime(2040, 1, 1, tzinfo=UTC), 1))},
        {"after": "99999999999999999.1"},  # the year 5138
        {"before": "\x00"},  # no cursor once the NUL is dropped
    ):
        assert [row[6] for row in rows_of(client.get(URL, params).content.decode())] == [
            "entry 2",
            "entry 1",
            "entry 0",
        ]


def test_the_cursor_reads_back_what_it_wrote():
    moment = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert Cursor.parse(str(Cursor(moment, 42))) == Cursor(moment, 42)


def test_key_page_never_offsets(alice, bob, make_profile, django_assert_max_num_queries):
    profile = make_profile(bob, State.ACTIVE)
    many(profile, 120, at=datetime(2030, 1, 1, tzinfo=UTC))
    entries = tenant_activity(alice.tenant)
    first = key_page(entries, size=50)
    with django_assert_max_num_queries(3) as captured:
        second = key_page(entries, size=50, before=first.older)
    assert not any("OFFSET" in q["sql"].upper() for q in captured.captured_queries)
    assert second.rows[0].description == "entry 69"
    assert second.newer is not None and second.older is not None


@pytest.mark.parametrize("entries", [5, 400])
def test_the_page_takes_a_fixed_number_of_queries(
    alice, bob, dora, make_profile, django_assert_max_num_queries, entries
):
    """The actor and the profile's owner come in the page's own query: no query per
    row, however many entries (and users) there are."""
    for i in range(entries // 5):
        user = make_user(f"u{i}@acme.example", alice.tenant)
        many(make_profile(user, State.ACTIVE), 5, at=datetime(2030, 1, 1, tzinfo=UTC), by=dora)
    client = client_for(alice)
    html = client.get(URL).content.decode()
    with django_assert_max_num_queries(8):
        client.get(URL)
    with django_assert_max_num_queries(9):
        client.get(URL + (link(html, "Older") or ""), {"user": "u1", "act": "activate"})


# --- CSV ------------------------------------------------------------------------------


def export(client, params=None) -> list[list[str]]:
    response = client.get(EXPORT, params or {})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_the_export_has_the_rows_of_the_filter(alice, acme, acts):
    acme.time_zone = "Europe/Berlin"
    acme.save()
    rows = export(client_for(alice))
    assert rows[0][:3] == ["When", "Act", "Whose profile"]
    assert [row[1:4] for row in rows[1:]] == [
        ["Deactivated", "Bob User", "bob@acme.example"],
        ["Declined", "Betty Bundle", "betty@acme.example"],
        ["Activated", "Bob User", "bob@acme.example"],
    ]
    # ISO 8601 with the tenant's offset.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", rows[1][0])
    assert rows[1][6:8] == ["Dora Admin", "dora@acme.example"]
    assert [row[1] for row in export(client_for(alice), {"act": "decline"})[1:]] == ["Declined"]
    assert len(export(client_for(alice), {"user": "bob"})) == 3


def test_the_export_guards_against_formulas(alice, acts):
    rows = export(client_for(alice))
    assert rows[1][8] == '\'=HYPERLINK("http://evil")'
    assert csv_cell("+1") == "'+1"
    assert csv_cell("-1") == "'-1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("\tx") == "'\tx"
    assert csv_cell("plain") == "plain"


def test_the_export_link_carries_the_filter(alice, acts):
    html = client_for(alice).get(URL, {"act": "decline", "user": "betty"}).content.decode()
    assert f'href="{EXPORT}?act=decline&amp;user=betty"' in html


def test_the_export_streams_with_a_fixed_number_of_queries(
    alice, bob, dora, make_profile, django_assert_max_num_queries
):
    for i in range(30):
        user = make_user(f"u{i}@acme.example", alice.tenant)
        many(make_profile(user, State.ACTIVE), 100, at=datetime(2030, 1, 1, tzinfo=UTC), by=dora)
    client = client_for(alice)
    with django_assert_max_num_queries(10):
        response = client.get(EXPORT)
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    assert lines == 3001


def _peak_export_memory(client) -> int:
    tracemalloc.start()
    try:
        response = client.get(EXPORT)
        for _ in response.streaming_content:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_exports_memory_does_not_grow_with_its_rows(alice, bob, make_profile, settings):
    settings.DEBUG = False  # no query log kept
    profile = make_profile(bob, State.ACTIVE)
    many(profile, 2500, at=datetime(2030, 1, 1, tzinfo=UTC))
    client = client_for(alice)
    _peak_export_memory(client)  # warm up: imports, caches
    small = _peak_export_memory(client)
    many(profile, 7500, at=datetime(2031, 1, 1, tzinfo=UTC))
    large = _peak_export_memory(client)
    # Four times the rows, read 1,000 at a time: the peak stays that of a chunk or two.
    assert large < small * 1.25, (small, large)


# --- Bulk acts ------------------------------------------------------------------------


def test_the_entries_of_a_bulk_act_link_to_its_page(alice, bob, dora, make_profile):
    from billing.models import BulkAction
    from tests.helpers import run_bulk

    make_profile(bob, State.ACTIVE)
    make_profile(dora, State.PENDING)
    payment_profile_activate(actor=alice, user=dora)  # one by one: no link
    run_bulk(actor=alice, act="deactivate", user_ids=[bob.pk, dora.pk], reason="Moved")
    run_bulk(actor=alice, act="activate", user_ids=[bob.pk])
    deactivation, activation = BulkAction.objects.order_by("pk")
    html = client_for(alice).get(URL).content.decode()
    rows = rows_of(html)
    assert [row[1] for row in rows[:4]] == [
        f"Activated in bulk action {activation.pk}",
        f"Deactivated in bulk action {deactivation.pk}",
        f"Deactivated in bulk action {deactivation.pk}",
        "Activated",
    ]
    for bulk in (deactivation, activation):
        link = reverse("billing:bulk_detail", args=[bulk.pk])
        assert f'href="{link}"' in html
        assert client_for(alice).get(link).status_code == 200
    # The user's history says the same.
    history = client_for(alice).get(reverse("billing:profile_history", args=[bob.pk]))
    assert f"Activated in bulk action {activation.pk}" in [
        row[1] for row in rows_of(history.content.decode())
    ]
