from django.urls import path

from identity import views

app_name = "identity"

urlpatterns = [
    path("admin/sso/", views.sso_settings, name="sso_settings"),
    path("admin/sso/oidc/", views.sso_oidc, name="sso_oidc"),
    path("admin/sso/saml/", views.sso_saml, name="sso_saml"),
    path("admin/sso/options/", views.sso_options, name="sso_options"),
    path("admin/sso/remove/", views.sso_remove, name="sso_remove"),
    path("admin/sso/domains/add/", views.domain_add, name="domain_add"),
    path("admin/sso/domains/<int:pk>/remove/", views.domain_remove, name="domain_remove"),
]
