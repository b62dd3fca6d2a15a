"""Make an API token for a tenant admin from the command line (CI's schema fuzzing,
an operator setting up an integration): prints the token, once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.tokens import api_token_create


class Command(BaseCommand):
    help = "Make an API token acting as the tenant admin with this e-mail; prints it once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args, email: str, name: str, **options) -> None:
        admin = User.objects.filter(email=email.strip().lower(), is_active=True).first()
        if admin is None or not (admin.is_tenant_admin and admin.tenant_id):
            raise CommandError(f"{email} is not an active tenant admin.")
        self.stdout.write(api_token_create(admin=admin, name=name, expires_at=None).plaintext)
