from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "CCM operations"
admin.site.site_title = "CCM operations"

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("billing.urls")),
]
