"""The HTTP endpoints: the ChatKit protocol endpoint and the attachment routes."""

from django_chatkit.views.endpoint import (
    LEAN_ATTRIBUTE,
    AttachmentFileView,
    AttachmentUploadURLView,
    AttachmentUploadView,
    ChatKitView,
    csrf_failure_reason,
)

__all__ = [
    "LEAN_ATTRIBUTE",
    "AttachmentFileView",
    "AttachmentUploadURLView",
    "AttachmentUploadView",
    "ChatKitView",
    "csrf_failure_reason",
]
