"""``DjangoAttachmentStore``: ChatKit attachments on Django's storage API."""

from __future__ import annotations

from chatkit.store import AttachmentStore, NotFoundError

from .context import ChatKitContext
from .internal.db import run_db
from .internal.ids import new_id
from .models import Attachment
from .store import owner_filter


class DjangoAttachmentStore(AttachmentStore[ChatKitContext]):
    """Stores attachment bytes in a Django storage (``STORAGES`` alias)."""

    def generate_attachment_id(self, mime_type: str, context: ChatKitContext) -> str:
        return new_id("atc")

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)

        def delete() -> None:
            attachment = (
                Attachment.objects.filter(**owner, chatkit_id=attachment_id)
                .only("pk", "storage", "file_name")
                .first()
            )
            if attachment is None:
                raise NotFoundError(f"Attachment {attachment_id} not found")
            attachment.delete_file()

        await run_db(delete)
