"""Every user gets a payment profile row (state "none" where they had none), so
"not set up" has one shape from here on. New users get theirs from
billing.signals."""

from django.conf import settings
from django.db import migrations

BATCH = 2000


def create_missing_profiles(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    PaymentProfile = apps.get_model("billing", "PaymentProfile")
    missing = User.objects.filter(payment_profile__isnull=True).values_list("pk", flat=True)
    PaymentProfile.objects.bulk_create(
        (PaymentProfile(user_id=pk, state="none") for pk in missing.iterator()),
        batch_size=BATCH,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(create_missing_profiles, migrations.RunPython.noop, elidable=True),
    ]
