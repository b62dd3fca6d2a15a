from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from django.urls import reverse
from mailer.models import Message

from accounts.models import PasswordLinkRequest
from tests.helpers import PASSWORD, client_for

URL = reverse("accounts:login")


def test_it_shows_email_password_and_log_in(db):
    html = client_for(None).get(URL).content.decode()
    labels = {
        " ".join(re.sub(r"<span.*?</span>", "", m).split())
        for m in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)
    }
    assert {"Email", "Password"} <= labels
    assert 'value="Log in"' in html


def test_it_logs_in_by_email_in_any_case(alice):
    client = client_for(None)
    response = client.post(URL, {"username": "ALICE@acme.example", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("accounts:home")).status_code == 200


def test_it_says_what_is_wrong_with_a_bad_password(alice):
    response = client_for(None).post(URL, {"username": alice.email, "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_it_sends_anonymous_visitors_to_log_in(db):
    response = client_for(None).get(reverse("accounts:account"))
    assert response["Location"] == f"{URL}?next=/account/"


def test_it_logs_out_on_post_only(alice):
    client = client_for(alice)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("accounts:home")).status_code == 302


def test_it_mails_a_password_reset_link_through_the_queue(alice, settings):
    from mailer.models import Message

    client_for(None).post(reverse("accounts:password_reset"), {"email": alice.email})
    mail = Message.objects.get().email
    assert mail.to == [alice.email]
    assert f"{settings.SITE_URL}/password-reset/" in mail.body


def test_it_sends_a_password_link_to_a_user_who_never_set_one(acme):
    from mailer.models import Message

    from accounts.models import User

    user = User.objects.create_user("new@acme.example", None, name="New", tenant=acme)
    assert not user.has_usable_password()
    client_for(None).post(reverse("accounts:password_reset"), {"email": "NEW@acme.example"})
    assert Message.objects.get().email.to == ["new@acme.example"]


def test_it_sends_no_password_link_to_a_disabled_user(acme):
    from mailer.models import Message

    from tests.helpers import make_user

    make_user("gone@acme.example", acme, is_active=False)
    response = client_for(None).post(
        reverse("accounts:password_reset"), {"email": "gone@acme.example"}
    )
    assert response.status_code == 302  # the same answer, so addresses can't be probed
    assert not Message.objects.exists()


def test_it_sends_at_most_three_password_links_an_hour_to_one_address(alice):
    with time_machine.travel("2026-11-26 09:00Z", tick=False) as clock:
        client = client_for(None)
        url = reverse("accounts:password_reset")
        for _ in range(3):
            assert client.post(url, {"email": "ALICE@acme.example"}).status_code == 302
        response = client.post(url, {"email": alice.email})
        assert response.status_code == 200
        assert (
            "We have sent 3 links to this address in the last hour. Check your inbox and "
            "spam folder, or ask again after 10:00." in response.content.decode()
        )
        assert Message.objects.count() == 3
        # Another address is not held back by this one.
        assert client.post(url, {"email": "dora@acme.example"}).status_code == 302

        clock.shift(timedelta(hours=1))
        assert client.post(url, {"email": alice.email}).status_code == 302
        assert Message.objects.count() == 4


def test_it_counts_addresses_without_an_account_the_same_way(db):
    """The limit does not tell an address with an account from one without."""
    client = client_for(None)
    url = reverse("accounts:password_reset")
    for _ in range(3):
        assert client.post(url, {"email": "nobody@acme.example"}).status_code == 302
    assert (
        "We have sent 3 links"
        in client.post(url, {"email": "nobody@acme.example"}).content.decode()
    )
    assert not PasswordLinkRequest.objects.filter(email_digest__icontains="nobody").exists()
