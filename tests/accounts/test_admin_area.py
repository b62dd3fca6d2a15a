"""Every admin-area URL for every role, by GET and by POST: anonymous → login, a user
→ 403, an admin of the tenant → the page (or the redirect after the act), an admin of
another tenant → 404 for anything of this tenant; and nothing changes on the way."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from billing.models import State
from tests.helpers import client_for, db_snapshot

# (url name, needs a user pk, allowed methods)
ADMIN_URLS = [
    ("accounts:user_list", False, {"GET"}),
    ("accounts:user_create", False, {"GET", "POST"}),
    ("accounts:user_plan", True, {"GET", "POST"}),
    ("accounts:plan_list", False, {"GET"}),
    ("accounts:plan_create", False, {"GET", "POST"}),
    ("accounts:tenant_settings", False, {"GET", "POST"}),
    ("billing:profile_activate", True, {"GET", "POST"}),
    ("billing:profile_deactivate", True, {"GET", "POST"}),
    ("billing:profile_detail", True, {"GET"}),
    ("billing:profile_history", True, {"GET"}),
]


@pytest.fixture
def world(alice, bob, charlie, dora, betty, make_profile):
    make_profile(bob, State.PENDING)
    return {"alice": alice, "bob": bob, "charlie": charlie, None: None}


def _url(name: str, needs_pk: bool, world) -> str:
    return reverse(name, args=[world["bob"].pk]) if needs_pk else reverse(name)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("name", "needs_pk", "allowed"), ADMIN_URLS)
@pytest.mark.parametrize("who", [None, "bob", "charlie"])
def test_who_may_not_gets_login_403_or_404_and_nothing_changes(
    world, who, name, needs_pk, allowed, method
):
    url = _url(name, needs_pk, world)
    client = client_for(world[who])  # logging in stamps last_login: before the snapshot
    before = db_snapshot()
    response = client.get(url) if method == "GET" else client.post(url, {"reason": "x"})
    if who is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login") + "?next=")
    elif who == "bob":
        assert response.status_code == 403
    elif needs_pk:  # charlie, an admin of Globex, asks for Acme's bob
        assert response.status_code == 404
    elif method in allowed:  # charlie's own tenant's page
        assert response.status_code in ((200,) if method == "GET" else (200, 302))
    else:
        assert response.status_code == 405
    if who != "charlie" or needs_pk:
        assert db_snapshot() == before


@pytest.mark.parametrize(("name", "needs_pk", "allowed"), ADMIN_URLS)
def test_an_admin_of_the_tenant_gets_every_page(world, name, needs_pk, allowed):
    client = client_for(world["alice"])
    before = db_snapshot()
    response = client.get(_url(name, needs_pk, world))
    assert response.status_code == 200
    assert db_snapshot() == before  # a GET never changes anything


@pytest.mark.parametrize(("name", "needs_pk", "allowed"), ADMIN_URLS)
def test_an_admin_of_the_tenant_may_post_where_posting_is_an_act(world, name, needs_pk, allowed):
    response = client_for(world["alice"]).post(_url(name, needs_pk, world), {})
    if "POST" not in allowed:
        assert response.status_code == 405
    else:
        # Acted and redirected, or the form came back saying what is missing.
        assert response.status_code in (200, 302)


def test_an_unknown_user_is_a_404_everywhere(world):
    client = client_for(world["alice"])
    for name, needs_pk, _allowed in ADMIN_URLS:
        if needs_pk:
            url = reverse(name, args=[987654])
            assert client.get(url).status_code == 404
            assert client.post(url).status_code == 404


def test_the_navigation_shows_admin_to_tenant_admins_only(world):
    admin_link = f'href="{reverse("accounts:user_list")}">Admin'
    assert admin_link in client_for(world["alice"]).get(reverse("accounts:home")).content.decode()
    betty = User.objects.get(email="betty@acme.example")
    assert admin_link not in client_for(betty).get(reverse("accounts:home")).content.decode()


def test_an_admin_held_at_the_gate_still_reaches_the_admin_area(acme, paid_plan, world):
    """A lone admin on a paid plan must be able to get profiles activated."""
    alice = world["alice"]
    alice.plan = paid_plan
    alice.save()
    client = client_for(alice)
    assert client.get(reverse("accounts:home"))["Location"] == reverse("billing:gate")
    assert client.get(reverse("accounts:user_list")).status_code == 200
