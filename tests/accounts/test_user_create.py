"""Add user: name, e-mail, plan, admin or not; the new user is e-mailed a link to
set their password."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from mailer.models import Message

from accounts import services
from accounts.models import EMAIL_TAKEN, Plan, User
from tests.helpers import client_for

URL = reverse("accounts:user_create")


def _post(user, **data):
    payload = {"name": "Nina New", "email": "nina@acme.example", "plan": "", **data}
    return client_for(user).post(URL, payload)


def test_it_shows_the_form_with_this_tenants_plans_only(alice, paid_plan, bundle, globex):
    Plan.objects.create(tenant=globex, name="Globex Secret", kind=Plan.Kind.SUBSCRIPTION)
    html = client_for(alice).get(URL).content.decode()
    assert "Add user" in html
    assert "Cloud Pro (Paid subscription plan)" in html
    assert "Starter Bundle (Bundle)" in html
    assert "Globex Secret" not in html


def test_it_adds_a_user_and_queues_a_set_password_link(alice, acme, paid_plan, client):
    response = _post(alice, plan=paid_plan.pk, email=" Nina@ACME.example ", is_tenant_admin="on")
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:user_list")
    user = User.objects.get(email="nina@acme.example")
    assert (user.name, user.tenant, user.plan, user.is_tenant_admin) == (
        "Nina New",
        acme,
        paid_plan,
        True,
    )
    assert not user.has_usable_password()
    assert user.terms_accepted_at is None

    message = Message.objects.get()
    assert message.to_addresses == ["nina@acme.example"]
    body = message.email.body
    assert "Alice Admin has added you" in body
    link = re.search(r"http://\S+/password-reset/\S+/", body).group(0)

    # The link works: it lets the new user choose a password, and then log in.
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else "/" + path
    done = client.post(
        form_url,
        {"new_password1": "a long new passphrase", "new_password2": "a long new passphrase"},
    )
    assert done.status_code == 302
    assert User.objects.get(pk=user.pk).check_password("a long new passphrase")


def test_the_list_says_the_user_was_added(alice):
    response = client_for(alice).post(
        URL, {"name": "Nina New", "email": "nina@acme.example", "plan": ""}, follow=True
    )
    assert (
        "Nina New added. An e-mail to nina@acme.example asks them to set a password."
        in response.content.decode()
    )
    assert 'data-user="nina@acme.example"' in response.content.decode()


def test_a_duplicate_email_says_what_to_fix(alice, bob):
    response = _post(alice, email="BOB@acme.example")
    assert response.status_code == 200
    assert EMAIL_TAKEN in response.content.decode()
    assert User.objects.filter(email__iexact="bob@acme.example").count() == 1
    assert not Message.objects.exists()


def test_a_duplicate_email_in_another_tenant_is_refused_too(alice, charlie):
    response = _post(alice, email="charlie@globex.example")
    assert "already exists" in response.content.decode()


def test_a_plan_of_another_tenant_is_refused(alice, globex):
    other = Plan.objects.create(tenant=globex, name="Globex Pro", kind=Plan.Kind.SUBSCRIPTION)
    response = _post(alice, plan=other.pk)
    assert response.status_code == 200
    assert "Pick one of your tenant&#x27;s plans." in response.content.decode()
    assert not User.objects.filter(email="nina@acme.example").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Enter the user&#x27;s name."),
        ({"name": "   "}, "Enter the user&#x27;s name."),
        ({"email": ""}, "Enter the user&#x27;s e-mail address; it is their login."),
        ({"email": "not-an-address"}, "Enter a valid e-mail address, like name@example.com."),
    ],
)
def test_missing_or_bad_fields_say_what_to_fix(alice, data, message):
    response = _post(alice, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == 1


def test_the_mail_is_not_queued_if_the_user_is_not_saved(alice, acme, monkeypatch):
    """The mail is a queue row in the same transaction as the new user."""

    def fail(user, actor):
        Message.objects.create(message_data="x")  # queued...
        raise RuntimeError("template broke")

    monkeypatch.setattr(services, "_queue_welcome", fail)
    with pytest.raises(RuntimeError):
        services.user_create(
            actor=alice, tenant=acme, name="Nina", email="nina@acme.example", plan=None
        )
    assert not User.objects.filter(email="nina@acme.example").exists()
    assert not Message.objects.exists()  # ...and rolled back


def test_the_service_refuses_a_duplicate_even_without_the_form(alice, acme, bob):
    with pytest.raises(services.AccountError, match="already exists"):
        services.user_create(
            actor=alice, tenant=acme, name="Bob 2", email="Bob@Acme.example", plan=None
        )


def _email_error(response) -> str:
    return re.search(r'id="error_\d+_id_email"[^>]*>(.*?)</', response.content.decode(), re.S)[1]


def test_an_address_in_another_tenant_is_refused_in_the_same_words(alice, bob, charlie):
    """E-mail addresses are global login names, so an address taken anywhere is
    refused; the words must not tell another tenant's user from one of this tenant,
    nor name a tenant."""
    same = _email_error(_post(alice, email="bob@acme.example"))
    other = _email_error(_post(alice, email="charlie@globex.example"))
    assert same.replace("bob@acme.example", "ADDRESS") == other.replace(
        "charlie@globex.example", "ADDRESS"
    )
    assert "already exists" in other
    for tenant in ("Globex", "globex", "Acme", "tenant"):
        assert tenant not in other.replace("charlie@globex.example", "")
