"""URLs of django_chatkit: ``include("django_chatkit.urls")`` under any prefix.

The ChatKit protocol endpoint is the root of the include.
"""

from django.urls import path

from .views import ChatKitView

app_name = "django_chatkit"

urlpatterns = [
    path("", ChatKitView.as_view(), name="endpoint"),
]
