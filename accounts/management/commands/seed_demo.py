from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Plan, Tenant, User

DEMO_USERS = [
    # email, password, name, tenant slug, admin?, plan name
    ("admin@acme.example", "demo-admin", "Ada Admin", "acme", True, None),
    ("user@acme.example", "demo-user", "Uma User", "acme", False, "Cloud Pro"),
    ("bundle@acme.example", "demo-bundle", "Bo Bundle", "acme", False, "Starter Bundle"),
    ("admin@globex.example", "demo-admin", "Gil Globex", "globex", True, None),
]


class Command(BaseCommand):
    help = (
        "Create the demo tenants, plans and users (idempotent). "
        "Refuses to run with DEBUG off unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with well-known passwords; it refuses to run with "
                "DEBUG off. Pass --force if you really mean it."
            )
        acme, _ = Tenant.objects.update_or_create(
            slug="acme", defaults={"name": "Acme", "require_payment_profile": True}
        )
        globex, _ = Tenant.objects.update_or_create(
            slug="globex", defaults={"name": "Globex", "require_payment_profile": True}
        )
        tenants = {"acme": acme, "globex": globex}
        plans = {
            "Cloud Pro": Plan.objects.update_or_create(
                tenant=acme, name="Cloud Pro", defaults={"kind": Plan.Kind.SUBSCRIPTION}
            )[0],
            "Starter Bundle": Plan.objects.update_or_create(
                tenant=acme, name="Starter Bundle", defaults={"kind": Plan.Kind.BUNDLE}
            )[0],
        }
        Plan.objects.update_or_create(
            tenant=globex, name="Globex Standard", defaults={"kind": Plan.Kind.SUBSCRIPTION}
        )
        created = 0
        for email, password, name, slug, is_admin, plan_name in DEMO_USERS:
            user, was_created = User.objects.get_or_create(
                email=email,
                defaults={
                    "name": name,
                    "tenant": tenants[slug],
                    "is_tenant_admin": is_admin,
                    "plan": plans.get(plan_name),
                },
            )
            if was_created:
                user.set_password(password)
                if is_admin:  # admins have seen the terms; users meet them at first login
                    user.terms_accepted_at = timezone.now()
                user.save()
                created += 1
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({created} new users).")
            + "\n  "
            + "\n  ".join(f"{e} / {p}" for e, p, *_ in DEMO_USERS)
        )
