"""The users' copy of their plan's name (``User.plan_name``, for the Users page's
sort by plan) kept right when the plan changes around them: a plan renamed, a
plan deleted (its users are left without a plan by an UPDATE that skips their
save()). A user's own save keeps it in ``User.save``. Here rather than in the
services, so that Django's admin site and the shell keep it right too.
"""

from __future__ import annotations

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from accounts.models import Plan, User


@receiver(post_save, sender=Plan, dispatch_uid="accounts.plan_name_of_users")
def copy_plan_name_to_users(sender, instance: Plan, created: bool, raw: bool, **kwargs) -> None:
    if not created and not raw:  # it may have been renamed
        User.objects.filter(plan=instance).exclude(plan_name=instance.name).update(
            plan_name=instance.name
        )


@receiver(pre_delete, sender=Plan, dispatch_uid="accounts.plan_name_of_deleted_plan")
def clear_plan_name_of_users(sender, instance: Plan, **kwargs) -> None:
    # Before the users are set to no plan (on_delete=SET_NULL), while they can be found.
    User.objects.filter(plan=instance).update(plan_name="")
