"""The app's URLs plus the floor: a bench-only route the app never serves."""

from django.urls import path

from bench import views
from ccm.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/floor/", views.floor, name="bench_floor"),
    path("bench/floor-bytes/", views.floor_bytes, name="bench_floor_bytes"),
    *app_urlpatterns,
]
