"""The Users page's copies on each profile (``tenant``, ``status_rank``, ``held``) say
what the profile's status, its owner's tenant and the gate say, after every act and
every change around the profile; and billing.0007 and 0008 fill them in for the
profiles that exist."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Plan, Tenant, User
from accounts.services import tenant_update_settings, user_change_plan, user_create
from billing.models import STATUS_ORDER, STATUS_RANK, Method, PaymentProfile, Status
from billing.services import (
    payment_profile_activate,
    payment_profile_change_approve,
    payment_profile_change_decline,
    payment_profile_change_withdraw,
    payment_profile_deactivate,
    payment_profile_decline,
    payment_profile_submit,
)
from billing.standing import user_is_held
from tests.helpers import INVOICE_POST

INVOICE = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def _keys_of(user: User) -> tuple[Status, int]:
    """The status as computed, after checking the stored copies against it (and
    ``held`` against the gate's own question)."""
    profile = PaymentProfile.objects.select_related("user__tenant", "user__plan").get(user=user)
    assert profile.tenant_id == profile.user.tenant_id
    assert profile.status_rank == STATUS_RANK[profile.status], profile.status
    assert profile.held == user_is_held(User.objects.get(pk=user.pk)), profile.status
    return profile.status


def _held(*users: User) -> list[bool]:
    """Whether each is held, after checking every copy of theirs (_keys_of)."""
    for user in users:
        _keys_of(user)
    return [PaymentProfile.objects.get(user=user).held for user in users]


def test_the_workflow_order_is_every_status_once():
    assert sorted(STATUS_ORDER) == sorted(Status)
    assert STATUS_ORDER[0] == Status.PENDING
    assert STATUS_ORDER[-1] == Status.NOT_REQUIRED


def test_the_copies_follow_every_act_on_the_profile(alice, dora, paid_plan, acme):
    bob = user_create(actor=alice, tenant=acme, name="Bob", email="b@acme.example", plan=paid_plan)
    assert _keys_of(bob) == Status.NONE
    payment_profile_submit(user=bob, method=Method.INVOICE, details=INVOICE)
    assert _keys_of(bob) == Status.PENDING
    payment_profile_decline(actor=alice, user=bob, reason="Wrong company")
    assert _keys_of(bob) == Status.DECLINED
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "Ogden"})
    assert _keys_of(bob) == Status.PENDING
    payment_profile_activate(actor=alice, user=bob)
    assert _keys_of(bob) == Status.ACTIVE
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "Provo"})
    assert _keys_of(bob) == Status.CHANGE_PENDING
    payment_profile_change_withdraw(user=bob)
    assert _keys_of(bob) == Status.ACTIVE
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "Orem"})
    payment_profile_change_decline(actor=alice, user=bob, reason="No")
    assert _keys_of(bob) == Status.ACTIVE
    payment_profile_submit(user=bob, method=Method.INVOICE, details={**INVOICE, "city": "Lehi"})
    payment_profile_change_approve(actor=dora, user=bob)
    assert _keys_of(bob) == Status.ACTIVE
    payment_profile_deactivate(actor=alice, user=bob, reason="Left")
    assert _keys_of(bob) == Status.INACTIVE
    payment_profile_activate(actor=alice, user=bob)
    assert _keys_of(bob) == Status.ACTIVE


def test_the_copies_follow_the_plan_the_tenant_and_their_settings(alice, dora, paid_plan, acme):
    bundle = Plan.objects.create(tenant=acme, name="Tiny Bundle", kind=Plan.Kind.BUNDLE)
    carl = user_create(actor=alice, tenant=acme, name="Carl", email="c@acme.example", plan=bundle)
    assert _keys_of(carl) == Status.NOT_REQUIRED
    user_change_plan(actor=alice, user=carl, plan=paid_plan)
    assert _keys_of(carl) == Status.NONE
    tenant_update_settings(tenant=acme, require_payment_profile=False)
    assert _keys_of(carl) == Status.NOT_REQUIRED
    tenant_update_settings(tenant=acme, require_payment_profile=True)
    assert _keys_of(carl) == Status.NONE
    # Django's admin site: a plan's kind, a plan deleted, a user moved to another tenant.
    paid_plan.kind = Plan.Kind.BUNDLE
    paid_plan.save()
    assert _keys_of(carl) == Status.NOT_REQUIRED
    paid_plan.kind = Plan.Kind.SUBSCRIPTION
    paid_plan.save()
    assert _keys_of(carl) == Status.NONE
    paid_plan.delete()
    assert _keys_of(carl) == Status.NOT_REQUIRED
    other = Tenant.objects.create(name="Initech", slug="initech", require_payment_profile=True)
    carl.tenant = other
    carl.plan = Plan.objects.create(tenant=other, name="Pro", kind=Plan.Kind.SUBSCRIPTION)
    carl.save()
    assert _keys_of(carl) == Status.NONE
    assert PaymentProfile.objects.get(user=carl).tenant == other


def test_held_follows_every_change_around_profiles_in_every_state(
    alice, dora, paid_plan, bundle, acme, make_profile
):
    """ "Held at the gate" depends on the plan's kind, the user's plan and the
    tenant's setting in every state but active, not only in state none."""
    users = []
    for name, state in (("none", None), ("pending", "pending"), ("inactive", "inactive")):
        user = user_create(
            actor=alice, tenant=acme, name=name, email=f"{name}@acme.example", plan=paid_plan
        )
        if state:
            make_profile(user, state)
        users.append(user)
    active = user_create(
        actor=alice, tenant=acme, name="Active", email="active@acme.example", plan=paid_plan
    )
    make_profile(active, "active")
    payment_profile_decline(actor=alice, user=users[1], reason="No")  # an act: save()
    payment_profile_submit(user=users[1], method=Method.INVOICE, details=INVOICE)
    assert _held(*users, active) == [True, True, True, False]

    paid_plan.kind = Plan.Kind.BUNDLE  # Django's admin site
    paid_plan.save()
    assert _held(*users, active) == [False, False, False, False]
    paid_plan.kind = Plan.Kind.SUBSCRIPTION
    paid_plan.save()
    assert _held(*users, active) == [True, True, True, False]

    tenant_update_settings(tenant=acme, require_payment_profile=False)
    assert _held(*users, active) == [False, False, False, False]
    tenant_update_settings(tenant=acme, require_payment_profile=True)
    assert _held(*users, active) == [True, True, True, False]

    user_change_plan(actor=alice, user=users[1], plan=bundle)
    user_change_plan(actor=alice, user=active, plan=bundle)
    assert _held(*users, active) == [True, False, True, False]
    user_change_plan(actor=alice, user=users[1], plan=paid_plan)
    assert _held(*users, active) == [True, True, True, False]

    payment_profile_activate(actor=dora, user=users[1])
    assert _held(*users) == [True, False, True]
    payment_profile_deactivate(actor=dora, user=users[1], reason="Left")
    assert _held(*users) == [True, True, True]

    other = Tenant.objects.create(name="Initech", slug="initech", require_payment_profile=False)
    moved = users[2]
    moved.tenant = other
    moved.plan = Plan.objects.create(tenant=other, name="Pro", kind=Plan.Kind.SUBSCRIPTION)
    moved.save()
    assert _held(moved) == [False]

    paid_plan.delete()  # its users are left on no plan, by an UPDATE
    assert _held(*users[:2]) == [False, False]


def test_refresh_sort_keys_sets_held_for_profiles_written_by_update(acme, bob, betty):
    PaymentProfile.objects.filter(user__in=[bob, betty]).update(state="pending", held=False)
    PaymentProfile.objects.filter(user__in=[bob, betty]).refresh_sort_keys()
    assert _held(bob, betty) == [True, False]
    PaymentProfile.objects.filter(user=bob).update(state="active", held=True)
    PaymentProfile.objects.filter(user=bob).refresh_sort_keys()
    assert _held(bob) == [False]


def test_an_act_reads_what_held_needs_with_the_profile(bob, alice, make_profile):
    """The act's locked read brings the owner's plan and tenant along: saving
    ``held`` costs no query of its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_profile(bob, "pending")
    with CaptureQueriesContext(connection) as ctx:
        payment_profile_decline(actor=alice, user=bob, reason="No")
    assert not [q for q in ctx.captured_queries if 'FROM "accounts_plan"' in q["sql"]]
    assert _held(bob) == [True]


def test_a_login_does_not_touch_the_profile(bob, django_assert_num_queries):
    bob.last_login = None
    with django_assert_num_queries(1):  # the UPDATE of the user alone
        bob.save(update_fields=["last_login"])


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_copies_in_for_every_profile():
    executor = MigrationExecutor(connection)
    before = [("billing", "0006_profile_emails_and_log_indexes"), ("accounts", "0007_api_tokens")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    HTenant, HPlan = apps.get_model("accounts", "Tenant"), apps.get_model("accounts", "Plan")
    HUser = apps.get_model("accounts", "User")
    HProfile = apps.get_model("billing", "PaymentProfile")
    HChange = apps.get_model("billing", "PendingChange")
    strict = HTenant.objects.create(name="Strict", slug="strict", require_payment_profile=True)
    lax = HTenant.objects.create(name="Lax", slug="lax", require_payment_profile=False)
    paid = HPlan.objects.create(tenant=strict, name="Pro", kind="subscription")
    lax_paid = HPlan.objects.create(tenant=lax, name="Pro", kind="subscription")
    now = "2026-01-01T00:00:00Z"
    expected = {}
    for email, tenant, plan, fields, status in [
        ("none@x", strict, paid, {}, Status.NONE),
        ("free@x", strict, None, {}, Status.NOT_REQUIRED),
        ("lax@x", lax, lax_paid, {}, Status.NOT_REQUIRED),
        ("pending@x", strict, paid, {"state": "pending"}, Status.PENDING),
        ("active@x", strict, paid, {"state": "active"}, Status.ACTIVE),
        ("inactive@x", lax, lax_paid, {"state": "inactive"}, Status.INACTIVE),
        ("declined@x", strict, paid, {"state": "inactive", "declined_at": now}, Status.DECLINED),
        (
            "change@x",
            strict,
            paid,
            {"state": "active", "pending_change": HChange.objects.create(method="invoice")},
            Status.CHANGE_PENDING,
        ),
    ]:
        user = HUser.objects.create(email=email, name=email, tenant=tenant, plan=plan)
        HProfile.objects.create(user=user, **fields)
        held = status in (Status.NONE, Status.PENDING, Status.DECLINED)  # of this cast
        expected[email] = (tenant.pk, STATUS_RANK[status], held)

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    stored = {
        profile.user.email: (profile.tenant_id, profile.status_rank, profile.held)
        for profile in PaymentProfile.objects.select_related("user")
    }
    assert stored == expected
    assert all(
        profile.held == user_is_held(profile.user)
        for profile in PaymentProfile.objects.select_related("user__tenant", "user__plan")
    )
