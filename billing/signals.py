"""Every user has a payment profile row, from the moment the user exists.

This is the one hook that sees every way a user is created (the admin area's
Add user, ``createsuperuser``, Django's admin site, ``get_or_create`` in the demo
seed), so "not set up" is always a row in state ``none`` and never a missing row.
It is not an act: it writes no log entry and sends nothing. Bulk inserts skip
signals; they create the rows themselves (``bench.seed``), and the data migration
``billing.0002`` gave every earlier user theirs.

The other hooks keep the profile's copies for the Users page (``tenant``,
``status_rank``, ``held``: see PaymentProfile) right when something around the profile
changes what they say: a user's plan or tenant, a plan's kind or its deletion (its
users are left without a plan), a tenant's requirement. Here rather than in each
service, so that Django's admin site and the shell keep them right too. Saves of
the profile itself keep them in ``PaymentProfile.save``.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Plan, Tenant
from billing.models import PaymentProfile, State
from billing.services import payment_profile_log_sign_in
from billing.standing import needs_profile
from identity.signals import signed_in_through_sso

# A user's save that names its fields changes the profile's copies only through these.
_USER_FIELDS = {"tenant", "plan"}


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="billing.profile_for_new_user")
def create_profile_for_new_user(sender, instance, created: bool, raw: bool, **kwargs) -> None:
    if created and not raw:
        PaymentProfile.objects.create(user=instance)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="billing.sort_keys_of_user")
def refresh_sort_keys_of_user(
    sender, instance, created: bool, raw: bool, update_fields=None, **kwargs
) -> None:
    # Not on a login's last_login, nor a password change: one UPDATE otherwise.
    if created or raw or (update_fields is not None and not _USER_FIELDS & set(update_fields)):
        return
    PaymentProfile.objects.filter(user=instance).refresh_sort_keys()


# Below, only the profiles a change can move are refreshed: those not active (an
# active profile is neither held nor "not set up", whatever its owner needs) whose
# ``held`` says the opposite of what the change makes true. "Not set up" is a held
# profile in state none, so its rank moves with ``held``.


@receiver(post_save, sender=Plan, dispatch_uid="billing.sort_keys_of_plan")
def refresh_sort_keys_of_plan(sender, instance, created: bool, raw: bool, **kwargs) -> None:
    if created or raw:
        return
    # Its kind may have changed: its users' need of a profile with it.
    needed = needs_profile(
        required=instance.tenant.require_payment_profile, plan_kind=instance.kind
    )
    PaymentProfile.objects.filter(user__plan=instance, held=not needed).exclude(
        state=State.ACTIVE
    ).refresh_sort_keys()


@receiver(post_delete, sender=Plan, dispatch_uid="billing.sort_keys_of_deleted_plan")
def refresh_sort_keys_of_deleted_plan(sender, instance, **kwargs) -> None:
    # Its users were set to no plan before this: none of them needs a profile now.
    PaymentProfile.objects.filter(
        tenant_id=instance.tenant_id, held=True, user__plan=None
    ).refresh_sort_keys()


@receiver(post_save, sender=Tenant, dispatch_uid="billing.sort_keys_of_tenant")
def refresh_sort_keys_of_tenant(sender, instance, created: bool, raw: bool, **kwargs) -> None:
    if created or raw:
        return
    paid = Plan.Kind.SUBSCRIPTION
    # The requirement may have changed: the need of the users on paid plans.
    PaymentProfile.objects.filter(
        tenant=instance,
        held=not needs_profile(required=instance.require_payment_profile, plan_kind=paid),
        user__plan__kind=paid,
    ).exclude(state=State.ACTIVE).refresh_sort_keys()


@receiver(signed_in_through_sso, dispatch_uid="billing.note_sso_sign_in")
def note_sso_sign_in(sender, user, act: str, description: str, **kwargs) -> None:
    # Here, not in identity: the history is billing's (identity never imports billing).
    payment_profile_log_sign_in(user=user, act=act, description=description)
