from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.index, name="index"),  # the demo page (login required)
    path("admin/", admin.site.urls),
    path("chatkit/", include("django_chatkit.urls")),
]
