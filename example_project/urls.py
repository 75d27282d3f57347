from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.index, name="index"),  # the demo page (login required)
    path("accounts/", include("django.contrib.auth.urls")),  # login at /accounts/login/
    path("admin/", admin.site.urls),
    path("chatkit/", include("django_chatkit.urls")),
]
