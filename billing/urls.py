from django.urls import path

from billing import views
from billing.acts import ACTS

app_name = "billing"

urlpatterns = [
    path("account/billing/", views.profile_edit, name="profile_edit"),
    path(
        "account/billing/withdraw/", views.profile_change_withdraw, name="profile_change_withdraw"
    ),
    path("account/billing/remind/", views.profile_remind, name="profile_remind"),
    path("account/billing/card-setup/", views.profile_card_setup, name="profile_card_setup"),
    # Stripe's events: register this URL in Stripe's dashboard (README, "Card payments").
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("payment-profile-required/", views.gate, name="gate"),
]

urlpatterns += [
    # Admin > Users, its CSV, and a tenant admin's acts on a user's payment profile:
    # one page per act of billing.acts (admin/users/<id>/activate/, …/change/, …).
    path("admin/users/", views.user_list, name="user_list"),
    path("admin/users/export.csv", views.user_export, name="user_export"),
    *(
        path(
            f"admin/users/<int:pk>/{act.slug}/",
            views.profile_act,
            {"act": name},
            name=act.url_name.removeprefix("billing:"),
        )
        for name, act in ACTS.items()
    ),
    path("admin/users/<int:pk>/billing/", views.profile_detail, name="profile_detail"),
    path("admin/users/<int:pk>/history/", views.profile_history, name="profile_history"),
    # Bulk actions: many users' profiles at once.
    path("admin/users/bulk/", views.bulk_confirm, name="bulk_confirm"),
    path("admin/users/bulk/<int:pk>/", views.bulk_detail, name="bulk_detail"),
    path("admin/users/bulk/<int:pk>/progress/", views.bulk_progress, name="bulk_progress"),
    path("admin/activity/", views.activity, name="activity"),
    path("admin/activity/export.csv", views.activity_export, name="activity_export"),
]
