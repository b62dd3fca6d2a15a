from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_POST

from accounts import views
from accounts.forms import PasswordLinkForm, ThrottledPasswordChangeForm
from accounts.holds import PAYMENT_PROFILE, TERMS, open_while
from accounts.security import PasswordChangeView
from identity.sign_in import log_out

app_name = "accounts"

# Logging in and out and getting a password work whatever holds a user; changing
# the password works at the payment-profile gate (after the terms).
always_open = open_while(TERMS, PAYMENT_PROFILE)
open_at_gate = open_while(PAYMENT_PROFILE)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", always_open(views.LoginView.as_view()), name="login"),
    # Ends our session, and the identity provider's where it can (identity/sign_in.py).
    path("logout/", always_open(require_POST(log_out)), name="logout"),
    path("terms/", views.terms, name="terms"),
    path("account/", views.account, name="account"),
    # Admin area
    path("admin/users/add/", views.user_create, name="user_create"),
    path("admin/users/<int:pk>/plan/", views.user_plan, name="user_plan"),
    path("admin/plans/", views.plan_list, name="plan_list"),
    path("admin/plans/add/", views.plan_create, name="plan_create"),
    path("admin/settings/", views.tenant_settings, name="tenant_settings"),
    path("admin/api-tokens/", views.api_token_list, name="api_token_list"),
    path("admin/api-tokens/add/", views.api_token_create, name="api_token_create"),
    path("admin/api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path(
        "account/password/",
        open_at_gate(
            PasswordChangeView.as_view(
                form_class=ThrottledPasswordChangeForm,
                template_name="accounts/password_change.html",
                success_url=reverse_lazy("accounts:password_change_done"),
            )
        ),
        name="password_change",
    ),
    path(
        "account/password/done/",
        open_at_gate(
            auth_views.PasswordChangeDoneView.as_view(
                template_name="accounts/password_change_done.html"
            )
        ),
        name="password_change_done",
    ),
    path(
        "password-reset/",
        always_open(
            auth_views.PasswordResetView.as_view(
                form_class=PasswordLinkForm,
                template_name="accounts/password_reset.html",
                email_template_name="emails/password_reset.txt",
                html_email_template_name="emails/password_reset.html",
                subject_template_name="emails/password_reset_subject.txt",
                success_url=reverse_lazy("accounts:password_reset_done"),
            )
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        always_open(
            auth_views.PasswordResetDoneView.as_view(
                template_name="accounts/password_reset_done.html"
            )
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        always_open(
            auth_views.PasswordResetConfirmView.as_view(
                template_name="accounts/password_reset_confirm.html",
                success_url=reverse_lazy("accounts:password_reset_complete"),
            )
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        always_open(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="accounts/password_reset_complete.html"
            )
        ),
        name="password_reset_complete",
    ),
]
