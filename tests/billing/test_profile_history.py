"""History: every transition of a user's profile, newest first, with who and why,
and the current billing details."""

from __future__ import annotations

import re

from django.urls import reverse

from billing.models import Method, State
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
    with django_assert_max_num_queries(8):
        assert client.get(url(bob)).status_code == 200
