"""Each user's copy of their plan's name (``User.plan_name``, what the Users page sorts
by) says what their plan says, after every way a user's plan or a plan changes; and
accounts.0010 fills it in for the users that exist."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Plan, User
from accounts.services import plan_create, user_change_plan, user_create
from billing.user_list import user_list_for_admin
from tests.helpers import bulk_users


def _plan_name_of(user: User) -> str:
    """The copy, after checking it against the plan."""
    user = User.objects.select_related("plan").get(pk=user.pk)
    assert user.plan_name == (user.plan.name if user.plan else "")
    return user.plan_name


def test_it_follows_the_users_plan(alice, acme, paid_plan, bundle):
    nina = user_create(actor=alice, tenant=acme, name="Nina", email="n@acme.example", plan=bundle)
    assert _plan_name_of(nina) == "Starter Bundle"
    user_change_plan(actor=alice, user=nina, plan=paid_plan)
    assert _plan_name_of(nina) == "Cloud Pro"
    user_change_plan(actor=alice, user=nina, plan=None)
    assert _plan_name_of(nina) == ""
    # Django's admin site and the shell: a full save, a save naming the plan.
    nina.plan = bundle
    nina.save()
    assert _plan_name_of(nina) == "Starter Bundle"
    nina.plan_id = paid_plan.pk
    nina.save(update_fields=["plan_id"])
    assert _plan_name_of(nina) == "Cloud Pro"


def test_it_follows_a_plan_renamed_or_deleted(alice, bob, betty, acme, paid_plan, bundle):
    paid_plan.name = "Cloud Pro Max"
    paid_plan.save()
    assert (_plan_name_of(bob), _plan_name_of(betty)) == ("Cloud Pro Max", "Starter Bundle")
    paid_plan.delete()  # its users are left on no plan by an UPDATE
    assert (_plan_name_of(bob), _plan_name_of(betty)) == ("", "Starter Bundle")


def test_a_save_that_leaves_the_plan_alone_does_not_read_it(bob, django_assert_num_queries):
    bob = User.objects.get(pk=bob.pk)  # the plan not loaded
    with django_assert_num_queries(1):  # the UPDATE of the user alone
        bob.save(update_fields=["last_login"])


def test_the_sort_by_plan_is_by_the_plans_names_with_no_plan_first(alice, acme, paid_plan):
    zeta = plan_create(tenant=acme, name="Zeta Bundle", kind=Plan.Kind.BUNDLE)
    bulk_users(acme, 3, prefix="zeta", plan=zeta)
    bulk_users(acme, 2, prefix="none")
    expected = sorted(
        User.objects.filter(tenant=acme).select_related("plan"),
        key=lambda u: (u.plan.name if u.plan else "", u.name, u.email, u.pk),
    )
    ascending = list(user_list_for_admin(tenant=acme, sort="plan"))
    assert ascending == expected
    assert list(user_list_for_admin(tenant=acme, sort="-plan")) == expected[::-1]
    assert ascending[0].plan is None and ascending[-1].plan == zeta


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_copy_in_for_every_user():
    executor = MigrationExecutor(connection)
    before = [("accounts", "0009_tenant_user_count")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    HTenant, HPlan = apps.get_model("accounts", "Tenant"), apps.get_model("accounts", "Plan")
    HUser = apps.get_model("accounts", "User")
    tenant = HTenant.objects.create(name="T", slug="t")
    pro = HPlan.objects.create(tenant=tenant, name="Pro", kind="subscription")
    HUser.objects.create(email="pro@x", name="Pro", tenant=tenant, plan=pro)
    HUser.objects.create(email="none@x", name="None", tenant=tenant)

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(User.objects.values_list("email", "plan_name")) == {"pro@x": "Pro", "none@x": ""}
