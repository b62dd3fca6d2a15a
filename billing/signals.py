"""Every user has a payment profile row, from the moment the user exists.

This is the one hook that sees every way a user is created (the admin area's
Add user, ``createsuperuser``, Django's admin site, ``get_or_create`` in the demo
seed), so "not set up" is always a row in state ``none`` and never a missing row.
It is not an act: it writes no log entry and sends nothing. Bulk inserts skip
signals; they create the rows themselves (``bench.seed``), and the data migration
``billing.0002`` gave every earlier user theirs.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from billing.models import PaymentProfile


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="billing.profile_for_new_user")
def create_profile_for_new_user(sender, instance, created: bool, raw: bool, **kwargs) -> None:
    if created and not raw:
        PaymentProfile.objects.create(user=instance)
