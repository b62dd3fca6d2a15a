"""The bulk action pages: the confirmation (popup and page), the run, the result page."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from accounts.models import User
from billing.bulk import run_bulk_actions
from billing.models import BulkAction, PaymentProfile, State
from tests.helpers import (
    bulk_users,
    buttons,
    client_for,
    db_snapshot,
    make_user,
    messages_of,
    state_of,
)

CONFIRM = reverse("billing:bulk_confirm")
POPUP = {"X-Requested-With": "fetch"}
TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def people(acme, alice, bob, betty, dora, make_profile):
    make_profile(bob, State.PENDING)
    make_profile(betty, State.ACTIVE)
    make_profile(alice, State.PENDING)
    extra = [make_user(f"p{n}@acme.example", acme, name=f"Pat {n}") for n in range(3)]
    for user in extra:
        make_profile(user, State.PENDING)
    return {"bob": bob, "betty": betty, "dora": dora, "alice": alice, "extra": extra}


def query(**params) -> str:
    return f"{CONFIRM}?{urlencode(params, doseq=True)}"


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_the_popup_tells_what_will_change_and_what_is_skipped(people, alice):
    ids = [people[k].pk for k in ("bob", "betty", "dora", "alice")]
    response = client_for(alice).get(query(act="activate", ids=ids), headers=POPUP)
    assert response.status_code == 200
    html = text(response)
    assert "Activate payment profiles" in html
    assert "1 of 4 selected users will be activated." in html
    assert "3 will be skipped: 1 already active 1 not set up 1 your own profile" in html
    assert "Activate 1 profile" in buttons(response.content.decode())
    assert "<html" not in response.content.decode()  # only the popup's content
    assert not BulkAction.objects.exists()  # nothing happens on GET


def test_without_javascript_it_is_a_page_of_its_own(people, alice):
    response = client_for(alice).get(query(act="activate", ids=[people["bob"].pk]))
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert "1 of 1 selected user will be activated." in text(response)


def test_confirming_runs_it_and_shows_the_result(people, alice):
    ids = [people[k].pk for k in ("bob", "betty", "alice")] + [u.pk for u in people["extra"]]
    back = "/admin/users/?status=pending"
    response = client_for(alice).post(
        CONFIRM, {"act": "activate", "ids": ids, "token": TOKEN, "next": back}, follow=True
    )
    bulk = BulkAction.objects.get()
    assert response.redirect_chain == [(reverse("billing:bulk_detail", args=[bulk.pk]), 302)]
    html = text(response)
    assert "4 activated; 1 skipped: already active; 1 skipped: your own profile." in html
    assert "1 skipped: already active Betty Bundle (betty@acme.example)" in html
    assert "1 skipped: your own profile Alice Admin (alice@acme.example)" in html
    assert f'href="{back}"' in response.content.decode()  # back to the filter as it was
    assert state_of(people["bob"]) == State.ACTIVE
    assert all(state_of(u) == State.ACTIVE for u in people["extra"])
    assert Message.objects.count() == 4


def test_the_same_confirmation_twice_runs_once(people, alice):
    client = client_for(alice)
    data = {"act": "activate", "ids": [people["bob"].pk], "token": TOKEN}
    first = client.post(CONFIRM, data)
    second = client.post(CONFIRM, data)
    assert first["Location"] == second["Location"]
    assert BulkAction.objects.count() == 1
    assert StateLog.objects.filter(transition="activate").count() == 1


def test_decline_asks_for_one_reason_for_all(people, alice):
    client = client_for(alice)
    ids = [people["bob"].pk, people["extra"][0].pk]
    page = client.get(query(act="decline", ids=ids))
    assert 'name="reason"' in page.content.decode()
    before = db_snapshot()
    refused = client.post(CONFIRM, {"act": "decline", "ids": ids, "token": TOKEN, "reason": " "})
    assert refused.status_code == 200  # the form again, saying what to fix
    assert "Give a reason" in text(refused)
    assert db_snapshot() == before
    client.post(CONFIRM, {"act": "decline", "ids": ids, "token": TOKEN, "reason": "Wrong VAT"})
    for user in (people["bob"], people["extra"][0]):
        profile = PaymentProfile.objects.get(user=user)
        assert profile.is_declined and profile.deactivation_reason == "Wrong VAT"


def test_all_matching_is_the_users_page_filter_evaluated_again(people, alice, acme):
    client = client_for(alice)
    page = client.get(query(act="activate", all=1, status="pending", q="pat"))
    assert "3 of 3 selected users will be activated." in text(page)
    # A user who turns pending meanwhile is in: the filter is evaluated on POST.
    late = make_user("pat.late@acme.example", acme, name="Pat Late")
    late_profile = PaymentProfile.objects.filter(user=late)
    late_profile.update(state=State.PENDING)
    late_profile.refresh_sort_keys()
    client.post(
        CONFIRM, {"act": "activate", "all": 1, "status": "pending", "q": "pat", "token": TOKEN}
    )
    assert BulkAction.objects.get().total == 4
    assert state_of(late) == State.ACTIVE
    assert state_of(people["bob"]) == State.PENDING  # not matching "pat"


def test_a_large_selection_runs_in_the_background_with_its_progress(
    people, alice, settings, django_assert_max_num_queries
):
    settings.BULK_INLINE_MAX = 2
    client = client_for(alice)
    ids = [u.pk for u in people["extra"]] + [people["bob"].pk]
    page = client.get(query(act="activate", ids=ids))
    assert "runs in the background" in text(page)
    response = client.post(CONFIRM, {"act": "activate", "ids": ids, "token": TOKEN}, follow=True)
    assert "Waiting for the worker to start" in text(response)
    assert "0 of 4 done." in text(response)
    assert '<meta http-equiv="refresh"' in response.content.decode()  # without JavaScript
    assert state_of(people["bob"]) == State.PENDING
    bulk = BulkAction.objects.get()
    progress = reverse("billing:bulk_progress", args=[bulk.pk])
    assert client.get(progress).json() == {"done": 0, "total": 4, "finished": False}
    assert run_bulk_actions() == 4
    assert client.get(progress).json() == {"done": 4, "total": 4, "finished": True}
    with django_assert_max_num_queries(8):
        done = client.get(reverse("billing:bulk_detail", args=[bulk.pk]))
    assert "4 activated." in text(done)
    assert "http-equiv" not in done.content.decode()


def test_too_many_users_are_refused_with_what_to_do(people, alice, settings):
    settings.BULK_MAX_USERS = 2
    client = client_for(alice)
    page = client.get(query(act="activate", all=1))
    assert "a bulk action takes at most 2" in text(page)
    assert "Activate" not in " ".join(buttons(page.content.decode()))
    before = db_snapshot()
    response = client.post(CONFIRM, {"act": "activate", "all": 1, "token": TOKEN}, follow=True)
    assert "a bulk action takes at most 2" in " ".join(messages_of(response))
    assert db_snapshot() == before


@pytest.mark.parametrize(
    "params, message",
    [
        ({"act": "activate"}, "Select at least one user"),
        ({"act": "explode", "ids": 1}, "Choose Activate, Deactivate or Decline"),
        ({"act": "activate", "ids": "abc"}, "could not be read"),
        ({"act": "activate", "ids": "99999999999999999999"}, "could not be read"),
        ({"act": "activate", "ids": "-3"}, "could not be read"),
        ({"act": "activate", "ids": list(range(1, 600))}, "at most 500"),
        # Past Django's DATA_UPLOAD_MAX_NUMBER_FIELDS: its own 400 page.
        ({"act": "activate", "ids": list(range(1, 1200))}, "could not read what your browser"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_input_gets_a_clear_message_and_changes_nothing(people, alice, params, message, method):
    client = client_for(alice)
    before = db_snapshot()
    if method == "GET":
        response = client.get(query(**params))
    else:
        response = client.post(CONFIRM, {**params, "token": TOKEN})
    assert response.status_code == 400
    assert message in text(response)
    assert db_snapshot() == before
    assert not BulkAction.objects.exists()


def test_a_forged_form_key_is_refused(people, alice):
    response = client_for(alice).post(
        CONFIRM, {"act": "activate", "ids": [people["bob"].pk], "token": "not-a-key"}
    )
    assert response.status_code == 200
    assert "This form has expired" in text(response)
    assert state_of(people["bob"]) == State.PENDING


def test_another_tenants_users_are_not_selected(people, alice, charlie, make_profile):
    make_profile(charlie, State.PENDING)
    page = client_for(alice).get(query(act="activate", ids=[charlie.pk]))
    assert "0 of 0 selected users will be activated." in text(page)
    client_for(alice).post(CONFIRM, {"act": "activate", "ids": [charlie.pk], "token": TOKEN})
    assert state_of(charlie) == State.PENDING
    assert not BulkAction.objects.exists()


def test_another_tenants_bulk_action_is_a_404(people, alice, charlie, dora):
    client_for(alice).post(CONFIRM, {"act": "activate", "ids": [people["bob"].pk], "token": TOKEN})
    bulk = BulkAction.objects.get()
    for name in ("billing:bulk_detail", "billing:bulk_progress"):
        url = reverse(name, args=[bulk.pk])
        assert client_for(charlie).get(url).status_code == 404
        assert client_for(dora).get(url).status_code == 200  # another admin of Acme


def test_a_post_without_csrf_is_refused(people, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    before = db_snapshot()
    response = client.post(CONFIRM, {"act": "activate", "ids": [people["bob"].pk], "token": TOKEN})
    assert response.status_code == 403
    assert db_snapshot() == before


def test_only_tenant_admins_may(people, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    assert client_for(bob).get(query(act="activate", ids=[bob.pk])).status_code == 403


def test_the_users_page_has_a_checkbox_per_row_and_the_bulk_bar(people, alice):
    html = client_for(alice).get(reverse("billing:user_list")).content.decode()
    assert 'aria-label="Select Bob User"' in html
    assert html.count('form="bulk-form"') == 7
    assert 'id="bulk-form"' in html
    assert "Select all" not in html.split('id="bulk-form"')[1].split("</form>")[0]  # one page


def test_the_users_page_offers_all_matching_when_there_are_more(people, alice, acme):
    many = bulk_users(acme, 25, prefix="more")
    profiles = PaymentProfile.objects.filter(user__in=many)
    profiles.update(state=State.PENDING)
    profiles.refresh_sort_keys()
    url = reverse("billing:user_list") + "?status=pending&size=25"
    html = client_for(alice).get(url).content.decode()
    assert "Select all 30 matching" in html
    assert '<input type="hidden" name="status" value="pending">' in html


def test_all_pending_confirmed_twice_shows_the_first_run_not_an_error(people, alice):
    """The second POST's filter matches nobody any more (the first activated them):
    it still finds the first one's page."""
    client = client_for(alice)
    data = {"act": "activate", "all": 1, "status": "pending", "q": "pat", "token": TOKEN}
    first = client.post(CONFIRM, data)
    second = client.post(CONFIRM, data)
    assert second.status_code == 302 and second["Location"] == first["Location"]
    assert BulkAction.objects.count() == 1


def test_the_confirmation_costs_the_same_queries_for_3_or_300_users(alice, acme):
    client = client_for(alice)
    counts = []
    for extra in (3, 300):
        users = User.objects.bulk_create(
            User(email=f"n{extra}-{n}@acme.example", name=f"N {n}", tenant=acme)
            for n in range(extra)
        )
        PaymentProfile.objects.bulk_create(PaymentProfile(user=user) for user in users)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(query(act="activate", all=1))
        assert page.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
