"""Decline Pay Profile: an admin sends a pending profile back with a reason; the user
reads who, why and when, corrects and resubmits."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.models import PaymentProfile, State, Status
from billing.services import PaymentProfileError, payment_profile_decline, payment_profile_submit
from tests.helpers import INVOICE_POST, client_for, db_snapshot

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def url(user) -> str:
    return reverse("billing:profile_decline", args=[user.pk])


def test_it_declines_a_pending_profile_with_the_reason(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    payment_profile_decline(actor=alice, user=bob, reason="The PO number is missing.")

    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.INACTIVE
    assert profile.status == Status.DECLINED
    assert profile.deactivation_reason == "The PO number is missing."
    assert profile.state_changed_by == alice and profile.declined_at is not None
    log = StateLog.objects.get()
    assert (log.transition, log.source_state, log.state, log.by, log.description) == (
        "decline",
        State.PENDING,
        State.INACTIVE,
        alice,
        "The PO number is missing.",
    )
    (mail,) = [m.email for m in Message.objects.all()]
    assert mail.to == ["bob@acme.example"]
    assert "The PO number is missing." in mail.body and "declined" in mail.subject


@pytest.mark.parametrize("reason", ["", "   "])
def test_it_needs_a_reason(alice, bob, make_profile, reason):
    make_profile(bob, State.PENDING)
    before = db_snapshot()
    with pytest.raises(PaymentProfileError, match="Give a reason"):
        payment_profile_decline(actor=alice, user=bob, reason=reason)
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (State.NONE, "nothing to decline"),
        (State.ACTIVE, "already active: deactivate it instead"),
        (State.INACTIVE, "inactive: there is nothing to decline"),
    ],
)
def test_it_declines_only_a_pending_profile(alice, bob, make_profile, state, says):
    make_profile(bob, state)
    before = db_snapshot()
    with pytest.raises(PaymentProfileError, match=says):
        payment_profile_decline(actor=alice, user=bob, reason="No")
    assert db_snapshot() == before


def test_an_admin_cannot_decline_their_own_profile(alice, dora, make_profile):
    make_profile(alice, State.PENDING)
    with pytest.raises(PaymentProfileError, match="your own payment profile"):
        payment_profile_decline(actor=alice, user=alice, reason="No")
    payment_profile_decline(actor=dora, user=alice, reason="Wrong address")
    assert PaymentProfile.objects.get(user=alice).is_declined


def test_declining_twice_says_it_already_happened(alice, dora, bob, make_profile):
    make_profile(bob, State.PENDING)
    payment_profile_decline(actor=alice, user=bob, reason="Wrong address")
    with pytest.raises(PaymentProfileError, match="has already been declined"):
        payment_profile_decline(actor=dora, user=bob, reason="Again")
    assert StateLog.objects.count() == 1


def test_the_page_asks_for_a_reason_and_decline(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    html = client_for(alice).get(url(bob)).content.decode()
    assert "Decline Pay Profile" in html
    assert '<textarea name="reason"' in html and ">Decline</button>" in html


def test_a_post_without_a_reason_says_what_to_fix_and_changes_nothing(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    client = client_for(alice)
    before = db_snapshot()
    response = client.post(url(bob), {"reason": ""})
    assert response.status_code == 200
    assert "Give a reason: the user reads it to know what to correct." in response.content.decode()
    assert db_snapshot() == before


def test_the_post_declines_and_goes_back_to_the_list(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    response = client_for(alice).post(
        url(bob), {"reason": "Wrong company", "next": "/admin/users/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/users/"
    assert PaymentProfile.objects.get(user=bob).is_declined


def test_the_user_reads_who_why_and_when_then_resubmits(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    payment_profile_decline(actor=alice, user=bob, reason="Wrong company")
    client = client_for(bob)

    gate = client.get(reverse("billing:gate")).content.decode()
    assert "Your payment profile was declined" in gate
    assert "Alice Admin" in gate and "“Wrong company”" in gate
    edit = client.get(reverse("billing:profile_edit")).content.decode()
    assert "declined your payment profile" in edit and "Wrong company" in edit
    assert "sends it for activation again" in edit

    payment_profile_submit(user=bob, method="invoice", details={**INVOICE, "company_name": "Ok"})
    profile = PaymentProfile.objects.get(user=bob)
    assert profile.state == State.PENDING and profile.declined_at is None


def test_the_users_page_shows_and_filters_declined_profiles(alice, bob, dora, make_profile):
    make_profile(bob, State.PENDING)
    make_profile(dora, State.ACTIVE)
    payment_profile_decline(actor=alice, user=bob, reason="Wrong company")
    PaymentProfile.objects.filter(user=dora).update(state=State.INACTIVE)
    PaymentProfile.objects.filter(user=dora).refresh_sort_keys()  # as save() would
    client = client_for(alice)
    declined = client.get(reverse("billing:user_list"), {"status": "declined"}).content.decode()
    assert 'data-user="bob@acme.example"' in declined
    assert 'data-user="dora@acme.example"' not in declined  # deactivated, not declined
    assert "Declined" in declined
    inactive = client.get(reverse("billing:user_list"), {"status": "inactive"}).content.decode()
    assert 'data-user="dora@acme.example"' in inactive
    assert 'data-user="bob@acme.example"' not in inactive


def test_the_history_shows_declined(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    payment_profile_decline(actor=alice, user=bob, reason="Wrong company")
    html = client_for(alice).get(reverse("billing:profile_history", args=[bob.pk])).content
    html = html.decode()
    assert "<td>Declined</td>" in html and "Wrong company" in html


def test_the_dropdown_offers_decline_for_pending_profiles_only(alice, bob, make_profile):
    make_profile(bob, State.PENDING)
    client = client_for(alice)
    html = client.get(reverse("billing:user_list")).content.decode()
    assert "Decline Pay Profile" in html
    PaymentProfile.objects.filter(user=bob).update(state=State.ACTIVE)
    assert "Decline Pay Profile" not in client.get(reverse("billing:user_list")).content.decode()
