from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Sign-in: SSO and two-factor"

    def ready(self) -> None:
        from identity import signals  # noqa: F401
