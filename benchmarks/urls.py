from django.urls import include, path

urlpatterns = [path("chatkit/", include("django_chatkit.urls"))]
