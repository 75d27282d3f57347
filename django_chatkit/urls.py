"""URLs of django_chatkit: ``include("django_chatkit.urls")`` under any prefix.

The ChatKit protocol endpoint is the root of the include; ``threads/<id>/cancel/`` stops
a durable answer (:mod:`django_chatkit.durable`).
"""

from django.urls import path

from django_chatkit.views import (
    AttachmentFileView,
    AttachmentUploadURLView,
    AttachmentUploadView,
    CancelResponseView,
    ChatKitView,
)

app_name = "django_chatkit"

urlpatterns = [
    path("", ChatKitView.as_view(), name="endpoint"),
    path("threads/<str:thread_id>/cancel/", CancelResponseView.as_view(), name="cancel"),
    path("attachments/upload/", AttachmentUploadView.as_view(), name="attachment-upload"),
    path(
        "attachments/<str:attachment_id>/upload/<str:token>/",
        AttachmentUploadURLView.as_view(),
        name="attachment-upload-url",
    ),
    path("attachments/files/<str:token>/", AttachmentFileView.as_view(), name="attachment-file"),
]
