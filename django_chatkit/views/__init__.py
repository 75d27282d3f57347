"""The HTTP endpoints: the ChatKit protocol endpoint and the attachment routes."""

from django_chatkit.views.attachments import (
    AttachmentFileView,
    AttachmentUploadURLView,
    AttachmentUploadView,
)
from django_chatkit.views.csrf import csrf_failure_reason
from django_chatkit.views.endpoint import LEAN_ATTRIBUTE, ChatKitView

__all__ = [
    "LEAN_ATTRIBUTE",
    "AttachmentFileView",
    "AttachmentUploadURLView",
    "AttachmentUploadView",
    "ChatKitView",
    "csrf_failure_reason",
]
