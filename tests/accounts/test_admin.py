"""Tenants, plans and users in Django's admin site, with the e-mail as login."""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.urls import reverse
from mailer.models import PRIORITY_DEFERRED, Message

from accounts.mail import queue_mail
from accounts.models import Plan, User
from tests.helpers import client_for


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("ops@ccm.example", "x" * 20, name="Olga Operator")


@pytest.mark.parametrize(
    "name",
    [
        "admin:accounts_tenant_changelist",
        "admin:accounts_plan_changelist",
        "admin:accounts_user_changelist",
        "admin:accounts_user_add",
        "admin:billing_paymentprofile_changelist",
    ],
)
def test_the_models_are_registered(operator, alice, bob, name):
    assert client_for(operator).get(reverse(name)).status_code == 200


def test_a_user_change_page_opens(operator, bob):
    url = reverse("admin:accounts_user_change", args=[bob.pk])
    assert client_for(operator).get(url).status_code == 200


def test_an_operator_adds_a_user_by_email(operator, acme, paid_plan):
    response = client_for(operator).post(
        reverse("admin:accounts_user_add"),
        {
            "email": " New@Acme.Example ",
            "name": "New Person",
            "tenant": acme.pk,
            "plan": paid_plan.pk,
            "usable_password": "false",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new@acme.example")
    assert (user.tenant, user.plan, user.has_usable_password()) == (acme, paid_plan, False)


def test_it_refuses_a_plan_of_another_tenant(operator, acme, globex):
    other = Plan.objects.create(tenant=globex, name="Globex Pro", kind=Plan.Kind.SUBSCRIPTION)
    response = client_for(operator).post(
        reverse("admin:accounts_user_add"),
        {
            "email": "x@acme.example",
            "name": "X",
            "tenant": acme.pk,
            "plan": other.pk,
            "usable_password": "false",
        },
    )
    assert response.status_code == 200
    assert "Pick a plan of the user&#x27;s own tenant." in response.content.decode()
    assert not User.objects.filter(email="x@acme.example").exists()


def test_a_tenant_change_page_shows_its_plans(operator, acme, paid_plan):
    url = reverse("admin:accounts_tenant_change", args=[acme.pk])
    html = client_for(operator).get(url).content.decode()
    assert "Require users on paid subscription plans to set up a payment profile" in html
    assert "Cloud Pro" in html


def test_the_mail_queue_shows_what_is_stuck_and_why_and_retries_it_now(
    operator, alice, bob, settings, make_profile
):
    # Mail that cannot be delivered: nothing listens on this port.
    settings.MAILER_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    queue_mail(
        to=bob.email,
        template="profile_activated",
        context={"user": bob, "profile": make_profile(bob), "link": "https://x.test/"},
    )
    call_command("mail_worker", "--once")
    message = Message.objects.get()
    assert message.priority == PRIORITY_DEFERRED

    page = client_for(operator).get(reverse("admin:mailer_message_changelist"))
    html = page.content.decode()
    for column in ("To", "Subject", "Queued", "Deferred", "Failed attempts", "Last error"):
        assert f">{column}<" in html, column
    assert "bob@acme.example" in html
    assert "Your payment profile is active" in html
    assert "Connection refused" in html
    assert '<td class="field-failed_attempts">1</td>' in html

    response = client_for(operator).post(
        reverse("admin:mailer_message_changelist"),
        {"action": "retry_now", "_selected_action": [message.pk]},
        follow=True,
    )
    assert "1 deferred message(s) put back in the queue" in response.content.decode()
    message.refresh_from_db()
    assert message.priority != PRIORITY_DEFERRED


def test_a_tenant_admin_does_not_see_the_mail_queue(alice):
    response = client_for(alice).get(reverse("admin:mailer_message_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/django-admin/login/")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
