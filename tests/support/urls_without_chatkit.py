"""A URLconf that forgot ``include("django_chatkit.urls")`` (for ``django_chatkit.W030``)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
