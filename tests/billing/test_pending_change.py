"""Changes to an active profile wait beside it: the user keeps the console, an admin
reviews old → new and approves or declines; the user can withdraw or replace it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.models import Method, PaymentProfile, PendingChange, State, Status
from billing.services import (
    PaymentProfileError,
    payment_profile_change_approve,
    payment_profile_change_decline,
    payment_profile_change_withdraw,
    payment_profile_deactivate,
    payment_profile_submit,
)
from tests.helpers import INVOICE_POST, client_for, db_snapshot, stripe_card

# The billing address as the change table and the log show it (billing.addresses).
OLD_ADDRESS = "1 Main Street, Springfield, IL 62701, United States of America"
NEW_ADDRESS = "1 Main Street, Shelbyville, IL 62701, United States of America"

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}
NEW_CITY = {**INVOICE, "city": "Shelbyville"}


@pytest.fixture
def active_bob(bob, alice, dora, make_profile):
    """bob's invoice profile, active with INVOICE's details."""
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    PaymentProfile.objects.filter(user=bob).update(state=State.ACTIVE)
    StateLog.objects.all().delete()
    Message.objects.all().delete()
    return bob


def profile_of(user) -> PaymentProfile:
    return PaymentProfile.objects.select_related("pending_change").get(user=user)


def mails() -> list:
    return [m.email for m in Message.objects.order_by("pk")]


def test_a_change_to_an_active_profile_waits_beside_it(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)

    profile = profile_of(active_bob)
    assert profile.state == State.ACTIVE and profile.city == "Springfield"
    assert profile.pending_change.city == "Shelbyville"
    assert profile.status == Status.CHANGE_PENDING
    log = StateLog.objects.get()
    assert log.transition == "change_submit" and log.state == State.ACTIVE
    assert f"Address: {OLD_ADDRESS} → {NEW_ADDRESS}" in log.description
    assert sorted(m.to[0] for m in mails()) == ["alice@acme.example", "dora@acme.example"]
    assert "change" in mails()[0].subject.lower() and "approval" in mails()[0].subject


def test_the_user_keeps_the_console_meanwhile(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    response = client_for(active_bob).get(reverse("accounts:home"))
    assert response.status_code == 200


def test_saving_the_same_details_again_does_nothing(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=INVOICE)
    assert profile_of(active_bob).pending_change is None
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)  # again
    assert PendingChange.objects.count() == 1
    assert StateLog.objects.count() == 1 and len(mails()) == 2


def test_a_new_save_replaces_the_waiting_change(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    first = profile_of(active_bob).pending_change_id
    payment_profile_submit(
        user=active_bob, method=Method.INVOICE, details={**INVOICE, "city": "Capital City"}
    )
    profile = profile_of(active_bob)
    assert profile.pending_change.city == "Capital City" and profile.pending_change_id != first
    assert PendingChange.objects.count() == 1  # one at a time
    assert "replaces the change waiting before" in StateLog.objects.latest("pk").description


def test_a_card_change_keeps_what_stripe_read_back(active_bob):
    card = stripe_card("Mastercard", "4444", 9, 2035)
    payment_profile_submit(user=active_bob, method=Method.CREDIT_CARD, details={}, card=card)
    change = profile_of(active_bob).pending_change
    assert (change.card_brand, change.card_last4, change.card_expiry) == (
        "Mastercard",
        "4444",
        "09/35",
    )
    assert change.stripe_payment_method_id == card.payment_method
    assert "Mastercard ending in 4444" in StateLog.objects.get().description


def test_approving_puts_the_new_details_in_force(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    Message.objects.all().delete()
    payment_profile_change_approve(actor=alice, user=active_bob)

    profile = profile_of(active_bob)
    assert profile.state == State.ACTIVE and profile.city == "Shelbyville"
    assert profile.pending_change is None and not PendingChange.objects.exists()
    log = StateLog.objects.latest("pk")
    assert (log.transition, log.by) == ("change_approve", alice)
    assert f"Address: {OLD_ADDRESS} → {NEW_ADDRESS}" in log.description
    (mail,) = mails()
    assert mail.to == ["bob@acme.example"] and "approved" in mail.subject


def test_declining_keeps_the_old_details_and_tells_the_user_why(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    Message.objects.all().delete()
    payment_profile_change_decline(actor=alice, user=active_bob, reason="Use the HQ address")

    profile = profile_of(active_bob)
    assert profile.state == State.ACTIVE and profile.city == "Springfield"
    assert profile.pending_change is None
    log = StateLog.objects.latest("pk")
    assert (log.transition, log.description) == ("change_decline", "Use the HQ address")
    (mail,) = mails()
    assert mail.to == ["bob@acme.example"] and "Use the HQ address" in mail.body


def test_declining_a_change_needs_a_reason(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    before = db_snapshot()
    with pytest.raises(PaymentProfileError, match="Give a reason"):
        payment_profile_change_decline(actor=alice, user=active_bob, reason=" ")
    assert db_snapshot() == before


def test_the_owner_can_withdraw_it(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    payment_profile_change_withdraw(user=active_bob)
    assert profile_of(active_bob).pending_change is None
    assert StateLog.objects.latest("pk").transition == "change_withdraw"
    with pytest.raises(PaymentProfileError, match="No change awaits approval"):
        payment_profile_change_withdraw(user=active_bob)


def test_deactivating_drops_the_change_with_a_note(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    payment_profile_deactivate(actor=alice, user=active_bob, reason="Left the team")
    profile = profile_of(active_bob)
    assert profile.state == State.INACTIVE and profile.pending_change is None
    assert not PendingChange.objects.exists()
    assert StateLog.objects.latest("pk").transition == "change_drop"


def test_a_pending_or_inactive_profile_is_edited_in_place(bob, alice, make_profile):
    make_profile(bob, State.INACTIVE)
    payment_profile_submit(user=bob, method=Method.INVOICE, details=NEW_CITY)
    profile = profile_of(bob)
    assert profile.state == State.PENDING and profile.city == "Shelbyville"
    assert profile.pending_change is None


@pytest.mark.parametrize(
    "who_first", ["other admin approved", "other admin declined", "user withdrew"]
)
def test_a_review_after_another_outcome_is_refused_clearly(active_bob, alice, dora, who_first):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    change_id = profile_of(active_bob).pending_change_id
    if who_first == "other admin approved":
        payment_profile_change_approve(actor=dora, user=active_bob, change_id=change_id)
    elif who_first == "other admin declined":
        payment_profile_change_decline(
            actor=dora, user=active_bob, reason="No", change_id=change_id
        )
    else:
        payment_profile_change_withdraw(user=active_bob)
    before = db_snapshot()
    with pytest.raises(PaymentProfileError, match="approved, declined or withdrawn meanwhile"):
        payment_profile_change_approve(actor=alice, user=active_bob, change_id=change_id)
    assert db_snapshot() == before


def test_a_review_of_a_replaced_change_is_refused(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    seen = profile_of(active_bob).pending_change_id
    payment_profile_submit(
        user=active_bob, method=Method.INVOICE, details={**INVOICE, "city": "Capital City"}
    )
    before = db_snapshot()
    with pytest.raises(PaymentProfileError, match="replaced the change while you were reviewing"):
        payment_profile_change_approve(actor=alice, user=active_bob, change_id=seen)
    assert db_snapshot() == before


def test_only_another_admin_of_the_tenant_reviews(active_bob, charlie, make_profile, alice, dora):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    with pytest.raises(PaymentProfileError, match="not allowed"):
        payment_profile_change_approve(actor=charlie, user=active_bob)
    with pytest.raises(PaymentProfileError, match="own payment profile"):
        payment_profile_change_approve(actor=active_bob, user=active_bob)
    assert profile_of(active_bob).pending_change is not None


# --- Pages -------------------------------------------------------------------


def review_url(user) -> str:
    return reverse("billing:profile_change_review", args=[user.pk])


def test_the_review_shows_old_and_new_with_approve_and_decline(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    html = client_for(alice).get(review_url(active_bob)).content.decode()
    assert "Review change" in html
    row = f"<td>{OLD_ADDRESS}</td><td>{NEW_ADDRESS}</td>"
    assert f'<tr><th scope="row">Address</th>{row}</tr>' in html
    assert ">Approve</button>" in html and ">Decline</button>" in html
    assert f'name="change" value="{profile_of(active_bob).pending_change_id}"' in html


def test_the_review_posts_approve_and_decline(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    client = client_for(alice)
    change = profile_of(active_bob).pending_change_id
    response = client.post(review_url(active_bob), {"decision": "decline", "change": change})
    assert response.status_code == 200  # a decline needs a reason
    assert "Give a reason" in response.content.decode()
    response = client.post(review_url(active_bob), {"decision": "approve", "change": change})
    assert response.status_code == 302
    assert profile_of(active_bob).city == "Shelbyville"


def test_the_users_page_shows_and_filters_a_pending_change(active_bob, alice):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    client = client_for(alice)
    html = client.get(reverse("billing:user_list"), {"status": "change_pending"}).content
    html = html.decode()
    assert 'data-user="bob@acme.example"' in html
    assert "Active · change pending" in html and "Review change" in html
    html = client.get(reverse("billing:user_list"), {"status": "pending"}).content.decode()
    assert 'data-user="bob@acme.example"' not in html


def test_the_owner_sees_the_change_and_can_withdraw_it(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    client = client_for(active_bob)
    html = client.get(reverse("billing:profile_edit")).content.decode()
    assert "awaits approval by your admin" in html and "Shelbyville" in html
    assert "Withdraw change" in html
    response = client.post(reverse("billing:profile_change_withdraw"))
    assert response.status_code == 302
    assert profile_of(active_bob).pending_change is None


def test_saving_the_details_in_force_again_withdraws_the_change(active_bob):
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=NEW_CITY)
    payment_profile_submit(user=active_bob, method=Method.INVOICE, details=INVOICE)
    assert profile_of(active_bob).pending_change is None
    assert not PendingChange.objects.exists()
    assert StateLog.objects.latest("pk").transition == "change_withdraw"
