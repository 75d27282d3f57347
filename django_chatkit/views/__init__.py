"""The HTTP endpoints: the ChatKit protocol endpoint, Stop, and the attachment routes."""

from django_chatkit.views.attachments import (
    AttachmentFileView,
    AttachmentUploadURLView,
    AttachmentUploadView,
)
from django_chatkit.views.cancel import CancelResponseView
from django_chatkit.views.csrf import csrf_failure_reason
from django_chatkit.views.endpoint import LEAN_ATTRIBUTE, ChatKitView

__all__ = [
    "LEAN_ATTRIBUTE",
    "AttachmentFileView",
    "AttachmentUploadURLView",
    "AttachmentUploadView",
    "CancelResponseView",
    "ChatKitView",
    "csrf_failure_reason",
]
