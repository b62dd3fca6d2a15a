"""The app's URLs plus the floors: bench-only routes the app never serves."""

from django.urls import path

from bench import views
from ccm.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/floor/", views.floor, name="bench_floor"),
    path("bench/floor-bytes/", views.floor_bytes, name="floor_bytes"),
    *app_urlpatterns,
]
