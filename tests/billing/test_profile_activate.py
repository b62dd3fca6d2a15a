"""Activate Pay Profile from Admin > Users: the confirmation (page and popup), the
POST through the service, its message, its e-mail, and every refusal."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing import notifications
from billing.models import Method, PaymentProfile, State
from tests.helpers import client_for, no_profile_saved


def url(user) -> str:
    return reverse("billing:profile_activate", args=[user.pk])


def state_of(user) -> str:
    return PaymentProfile.objects.get(user=user).state


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_it_shows_who_and_what_on_a_confirmation_page(alice, bob, make_profile):
    make_profile(bob, State.PENDING, Method.INVOICE)
    response = client_for(alice).get(url(bob))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 class="h3 mb-3">Activate Pay Profile</h1>' in html
    for text in ("Bob User", "bob@acme.example", "Invoice", "Acme Corp", ">Save</button>"):
        assert text in html
    assert state_of(bob) == State.PENDING  # a GET changes nothing


def test_it_shows_a_card_as_brand_last4_and_expiry_only(alice, bob, make_profile):
    make_profile(bob, State.PENDING, Method.CREDIT_CARD)
    html = client_for(alice).get(url(bob)).content.decode()
    assert "Visa ending in 4242" in html
    assert "04/31" in html
    assert "tok_test" not in html


def test_it_renders_only_the_popup_content_when_fetched(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    response = client_for(alice).get(
        url(bob) + "?next=/admin/users/%3Fq%3Dbob", headers={"X-Requested-With": "fetch"}
    )
    html = response.content.decode()
    assert "<html" not in html
    for part in ('class="modal-header"', 'class="modal-body"', 'class="modal-footer"'):
        assert part in html
    assert "Activate Pay Profile" in html
    assert f'action="{url(bob)}"' in html
    assert 'name="next" value="/admin/users/?q=bob"' in html
    assert ">Save</button>" in html
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


def test_the_row_then_offers_deactivate(alice, bob, make_profile):
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
    assert response["Location"] == reverse("accounts:user_list")


def test_it_refuses_a_stale_second_attempt_cleanly(alice, dora, bob, make_profile):
    make_profile(bob, State.PENDING)
    client_for(alice).post(url(bob))
    response = client_for(dora).post(url(bob), follow=True)
    assert response.status_code == 200
    assert "The payment profile of Bob User is already active." in messages_of(response)
    assert state_of(bob) == State.ACTIVE
    assert StateLog.objects.count() == 1
    assert Message.objects.count() == 1


def test_a_double_click_activates_once(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    client = client_for(alice)
    client.post(url(bob))
    response = client.post(url(bob), follow=True)
    assert "The payment profile of Bob User is already active." in messages_of(response)
    assert StateLog.objects.count() == 1


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
    assert ">Save</button>" not in html
    # Another admin of the tenant can.
    client_for(dora).post(url(alice))
    assert state_of(alice) == State.ACTIVE


def test_it_refuses_a_user_without_a_profile(alice, bob):
    response = client_for(alice).post(url(bob), follow=True)
    assert response.status_code == 200
    assert any("has not set up a payment profile yet" in m for m in messages_of(response))
    assert no_profile_saved()


def test_the_confirmation_of_an_active_profile_says_it_is_already_active(alice, bob, make_profile):
    make_profile(bob, State.ACTIVE)
    html = client_for(alice).get(url(bob)).content.decode()
    assert "The payment profile of Bob User is already active." in html
    assert ">Save</button>" not in html


def test_an_unknown_user_is_a_404(alice):
    assert (
        client_for(alice).get(reverse("billing:profile_activate", args=[999999])).status_code == 404
    )
    assert (
        client_for(alice).post(reverse("billing:profile_activate", args=[999999])).status_code
        == 404
    )


def test_another_tenants_admin_gets_404_and_nothing_changes(charlie, bob, make_profile):
    make_profile(bob, State.PENDING)
    assert client_for(charlie).get(url(bob)).status_code == 404
    assert client_for(charlie).post(url(bob)).status_code == 404
    assert state_of(bob) == State.PENDING


def test_it_needs_the_csrf_token(alice, bob, make_profile):
    from django.test import Client

    make_profile(bob, State.PENDING)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(url(bob)).status_code == 403
    assert state_of(bob) == State.PENDING


def test_a_failure_after_queueing_leaves_no_mail_and_no_change(
    alice, bob, make_profile, monkeypatch
):
    make_profile(bob, State.PENDING)
    original = notifications.profile_activated

    def queue_then_fail(profile):
        original(profile)
        assert Message.objects.count() == 1  # queued inside the transaction...
        raise RuntimeError("the mail template broke")

    monkeypatch.setattr(notifications, "profile_activated", queue_then_fail)
    with pytest.raises(RuntimeError):
        client_for(alice).post(url(bob))
    assert not Message.objects.exists()  # ...and rolled back with it
    assert state_of(bob) == State.PENDING
    assert not StateLog.objects.exists()
