from django.contrib import admin
from django.urls import include, path

from billing.api import api

admin.site.site_header = "CCM operations"
admin.site.site_title = "CCM operations"

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("billing.urls")),
    path("", include("identity.urls")),
    # allauth's views (two-factor, the identity providers' answers) under allauth's names.
    path("", include("identity.allauth_urls")),
    # The API (billing/api.py): tokens only, JSON; schema and docs under it.
    path("api/v1/", api.urls),
]

# Error pages that never read the request's body (see accounts/security.py).
handler400 = "accounts.security.bad_request"
handler403 = "accounts.security.permission_denied"
handler404 = "accounts.security.page_not_found"
handler500 = "accounts.security.server_error"
