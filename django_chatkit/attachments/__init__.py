"""Attachments on Django's storage API: uploads, signed file URLs, content checks.

:class:`DjangoAttachmentStore` lives in :mod:`django_chatkit.attachments.backend`;
``files`` holds the signed URLs and the bytes, ``sniff`` the content checks.
"""

from django_chatkit.attachments.backend import (
    DjangoAttachmentStore,
    composer_attachments,
    upload_strategy,
)

__all__ = ["DjangoAttachmentStore", "composer_attachments", "upload_strategy"]
