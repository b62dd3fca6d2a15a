from __future__ import annotations

from django.urls import reverse

from accounts.models import User
from tests.helpers import client_for, make_user

URL = reverse("accounts:terms")


def test_it_sends_a_new_user_to_the_terms_first(acme, paid_plan):
    user = make_user("new@acme.example", acme, plan=paid_plan, terms=False)
    client = client_for(user)
    for name in ["accounts:home", "accounts:account", "billing:profile_edit", "billing:gate"]:
        assert client.get(reverse(name))["Location"] == URL
    html = client.get(URL).content.decode()
    assert "I accept the terms of agreement" in html and 'value="Accept"' in html


def test_it_requires_the_box_ticked(acme):
    user = make_user("new@acme.example", acme, terms=False)
    response = client_for(user).post(URL, {})
    assert "Tick the box" in response.content.decode()
    assert User.objects.get(pk=user.pk).terms_accepted_at is None


def test_it_stores_when_and_goes_on_to_the_gate(acme, paid_plan):
    user = make_user("new@acme.example", acme, plan=paid_plan, terms=False)
    response = client_for(user).post(URL, {"accept": "on"})
    assert response["Location"] == reverse("billing:gate")
    assert User.objects.get(pk=user.pk).terms_accepted_at is not None


def test_it_sends_users_who_need_no_profile_home(acme, bundle):
    user = make_user("new@acme.example", acme, plan=bundle, terms=False)
    response = client_for(user).post(URL, {"accept": "on"})
    assert response["Location"] == reverse("accounts:home")
