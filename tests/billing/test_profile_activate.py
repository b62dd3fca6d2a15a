"""Activate Pay Profile from Admin > Users: the confirmation (page and popup), the
POST through the service, its message, its e-mail, and its refusals. Who may open it
at all: the URL x role matrix in tests/test_security.py; a POST from a stale page:
tests/billing/test_profile_actions.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.models import Method, State
from tests.helpers import buttons, client_for, headings, messages_of, no_profile_saved, state_of


def url(user) -> str:
    return reverse("billing:profile_activate", args=[user.pk])


def test_it_shows_who_and_what_on_a_confirmation_page(alice, bob, make_profile):
    make_profile(bob, State.PENDING, Method.INVOICE)
    response = client_for(alice).get(url(bob))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Activate Pay Profile" in headings(html)
    for text in ("Bob User", "bob@acme.example", "Invoice", "Acme Corp"):
        assert text in html
    assert "Save" in buttons(html)
    assert state_of(bob) == State.PENDING  # a GET changes nothing


def test_it_shows_a_card_as_brand_last4_and_expiry(alice, bob, make_profile):
    make_profile(bob, State.PENDING, Method.CREDIT_CARD)
    html = client_for(alice).get(url(bob)).content.decode()
    assert "Visa ending in 4242" in html
    assert "04/31" in html


def test_it_renders_only_the_popup_content_when_fetched(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    response = client_for(alice).get(
        url(bob) + "?next=/admin/users/%3Fq%3Dbob", headers={"X-Requested-With": "fetch"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert headings(html) == ["Activate Pay Profile"]
    assert buttons(html) == ["Close", "Cancel", "Save"]
    assert f'action="{url(bob)}"' in html
    assert 'name="next" value="/admin/users/?q=bob"' in html
    assert "csrfmiddlewaretoken" in html
    assert state_of(bob) == State.PENDING


@pytest.mark.parametrize("start", [State.PENDING, State.INACTIVE])
def test_it_activates_and_goes_back_to_the_list_with_a_message(alice, bob, make_profile, start):
    make_profile(bob, start)
    client = client_for(alice)
    response = client.post(url(bob), {"next": "/admin/users/?status=pending"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/users/?status=pending"
    assert state_of(bob) == State.ACTIVE
    log = StateLog.objects.get()
    assert (log.source_state, log.state, log.by) == (start, State.ACTIVE, alice)

    page = client.get(response["Location"])
    assert "Payment profile of Bob User activated." in page.content.decode()


def test_it_then_offers_deactivate_on_the_row(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    client = client_for(alice)
    page = client.post(url(bob), follow=True)
    html = page.content.decode()
    assert "Payment profile of Bob User activated." in html
    row = html.split('<tr data-user="bob@acme.example">')[1].split("</tr>")[0]
    assert "Deactivate Pay Profile" in row
    assert "Activate Pay Profile" not in row


def test_it_queues_the_users_email(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    client_for(alice).post(url(bob))
    message = Message.objects.get()
    assert message.to_addresses == ["bob@acme.example"]
    assert "activated" in message.email.body


def test_it_ignores_a_next_that_leaves_the_site(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    response = client_for(alice).post(url(bob), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("billing:user_list")


@pytest.mark.parametrize("state", [State.PENDING, State.INACTIVE])
def test_it_refuses_self_activation_with_a_clear_message(alice, dora, make_profile, state):
    make_profile(alice, state)
    response = client_for(alice).post(url(alice), follow=True)
    assert response.status_code == 200
    assert "You cannot activate your own payment profile: another admin must do it." in messages_of(
        response
    )
    assert state_of(alice) == state
    assert not Message.objects.exists()
    # The confirmation says so too, and has no Save button.
    html = client_for(alice).get(url(alice)).content.decode()
    assert "You cannot activate your own payment profile" in html
    assert "Save" not in buttons(html)
    # Another admin of the tenant can.
    client_for(dora).post(url(alice))
    assert state_of(alice) == State.ACTIVE


def test_it_refuses_a_user_without_a_profile(alice, bob):
    response = client_for(alice).post(url(bob), follow=True)
    assert response.status_code == 200
    assert any("has not set up a payment profile yet" in m for m in messages_of(response))
    assert no_profile_saved()


def test_it_says_on_the_confirmation_that_an_active_profile_is_already_active(
    alice, bob, make_profile
):
    make_profile(bob, State.ACTIVE)
    html = client_for(alice).get(url(bob)).content.decode()
    assert "The payment profile of Bob User is already active." in html
    assert "Save" not in buttons(html)
