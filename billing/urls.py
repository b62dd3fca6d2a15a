from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("account/billing/", views.profile_edit, name="profile_edit"),
    path("payment-profile-required/", views.gate, name="gate"),
]
