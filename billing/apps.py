from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from accounts.holds import PAYMENT_PROFILE, register_hold
        from billing import services, signals  # noqa: F401  (receivers; the acts' services)
        from billing.standing import user_is_held

        register_hold(PAYMENT_PROFILE, user_is_held, "billing:gate")
