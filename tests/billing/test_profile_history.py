"""History: every transition of a user's profile, newest first, 50 a page by key, with
who and why; the e-mails about it (tests/billing/test_profile_emails.py); and the
current billing details."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django_fsm_log.models import StateLog

from billing.models import Method, PaymentProfile, State
from billing.services import payment_profile_activate, payment_profile_deactivate
from tests.helpers import client_for


def url(user) -> str:
    return reverse("billing:profile_history", args=[user.pk])


def test_it_lists_every_transition_newest_first(alice, dora, bob, make_profile):
    make_profile(bob, State.PENDING, Method.INVOICE)
    payment_profile_activate(actor=alice, user=bob)
    payment_profile_deactivate(actor=dora, user=bob, reason="Moved to another team")
    payment_profile_activate(actor=dora, user=bob)

    html = client_for(alice).get(url(bob)).content.decode()
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
    assert [row[1:] for row in rows] == [
        ["Activated", "Inactive", "Active", "Dora Admin", "—"],
        ["Deactivated", "Active", "Inactive", "Dora Admin", "Moved to another team"],
        ["Activated", "Pending activation", "Active", "Alice Admin", "—"],
    ]
    assert "Current billing details" in html
    assert "Acme Corp" in html


def test_it_says_when_there_is_no_history(alice, bob):
    html = client_for(alice).get(url(bob)).content.decode()
    assert "No changes yet." in html


def test_it_takes_a_fixed_number_of_queries(
    alice, dora, bob, make_profile, django_assert_max_num_queries
):
    make_profile(bob, State.PENDING)
    for _ in range(10):
        payment_profile_activate(actor=alice, user=bob)
        payment_profile_deactivate(actor=dora, user=bob)
    client = client_for(alice)
    # The user, the page of entries, the e-mails (count, page, queue, log), session...
    with django_assert_max_num_queries(10):
        assert client.get(url(bob)).status_code == 200


# --- Pages by key: a profile saved thousands of times ----------------------------------


def rows_of(html: str) -> list[list[str]]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def page_link(html: str, label: str) -> str | None:
    found = re.search(rf'<a class="page-link" href="([^"]+)"[^>]*>{label}</a>', html)
    return found[1].replace("&amp;", "&") if found else None


def log_many(profile, n: int, *, by=None) -> None:
    ct = ContentType.objects.get_for_model(PaymentProfile)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    StateLog.objects.bulk_create(
        (
            StateLog(
                content_type=ct,
                object_id=profile.pk,
                timestamp=start + timedelta(seconds=i // 3),  # three share each second
                transition="submit",
                source_state=State.PENDING,
                state=State.PENDING,
                by=by,
                description=f"save {i}",
            )
            for i in range(n)
        ),
        batch_size=2000,
    )


@pytest.fixture
def scanner(alice, bob, make_profile):
    """bob's profile, saved 10,000 times (a scanner)."""
    profile = make_profile(bob, State.PENDING)
    log_many(profile, 10_000, by=bob)
    return profile


def test_it_shows_fifty_entries_a_page_and_pages_by_key(alice, bob, scanner):
    client = client_for(alice)
    html = client.get(url(bob)).content.decode()
    first = [row[5] for row in rows_of(html)]
    assert first == [f"save {i}" for i in range(9999, 9949, -1)]
    assert page_link(html, "Newer") is None
    assert len(html) < 100_000  # not 2.4 MB

    second_html = client.get(url(bob) + page_link(html, "Older")).content.decode()
    assert [row[5] for row in rows_of(second_html)] == [f"save {i}" for i in range(9949, 9899, -1)]
    back = client.get(url(bob) + page_link(second_html, "Newer")).content.decode()
    assert [row[5] for row in rows_of(back)] == first


def test_every_entry_is_on_exactly_one_page(alice, bob, make_profile):
    profile = make_profile(bob, State.PENDING)
    log_many(profile, 173)
    client = client_for(alice)
    html, seen = client.get(url(bob)).content.decode(), []
    while True:
        seen += [row[5] for row in rows_of(html)]
        older = page_link(html, "Older")
        if older is None:
            break
        html = client.get(url(bob) + older).content.decode()
    assert seen == [f"save {i}" for i in range(172, -1, -1)]


def test_the_query_count_does_not_grow_with_the_history(
    alice, bob, scanner, django_assert_max_num_queries
):
    client = client_for(alice)
    html = client.get(url(bob)).content.decode()
    second = url(bob) + page_link(html, "Older")
    with django_assert_max_num_queries(10):
        client.get(url(bob))
    with django_assert_max_num_queries(11):  # and whether a newer page exists
        client.get(second)


def test_the_page_links_keep_where_to_go_back(alice, bob, make_profile):
    log_many(make_profile(bob, State.PENDING), 60)
    html = client_for(alice).get(url(bob), {"next": "/admin/users/?q=bob"}).content.decode()
    assert "next=%2Fadmin%2Fusers%2F%3Fq%3Dbob" in page_link(html, "Older")


@pytest.mark.parametrize("cursor", ["nope", "1.", ".1", "1e5.2", "-1" * 30, "१२.३"])
def test_a_tampered_cursor_shows_the_newest_page(alice, bob, make_profile, cursor):
    log_many(make_profile(bob, State.PENDING), 60)
    response = client_for(alice).get(url(bob), {"before": cursor})
    assert response.status_code == 200
    html = response.content.decode()
    assert "That page link is not valid" in html
    assert rows_of(html)[0][5] == "save 59"
