"""``DjangoThreadItemConverter``: thread items as model input, attachments included.

The SDK's ``ThreadItemConverter`` refuses attachments. This one reads their bytes from
the storage (only the context user's own attachments) and turns them into Responses
API input: images as ``input_image``, PDFs as ``input_file`` (both as ``data:`` URLs,
so the model provider needs no access to the storage), text files as ``input_text``.
Anything else, or a file that is gone, becomes a short note instead of an error, so one
bad attachment never breaks the conversation::

    async def respond(self, thread, input_user_message, context):
        items = await self.store.load_thread_items(thread.id, None, 50, "asc", context)
        converter = DjangoThreadItemConverter(context)
        input_items = await converter.to_agent_input(items.data)
"""

from __future__ import annotations

import base64
import json

from chatkit import types as ck
from chatkit.agents import ThreadItemConverter
from chatkit.store import NotFoundError
from openai.types.responses import (
    ResponseInputContentParam,
    ResponseInputFileParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)

from django_chatkit.attachments.backend import DjangoAttachmentStore
from django_chatkit.attachments.sniff import IMAGE_TYPES, is_text_type
from django_chatkit.context import ChatKitContext
from django_chatkit.exceptions import AttachmentRejected


def data_url(mime_type: str, data: bytes) -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"


class DjangoThreadItemConverter(ThreadItemConverter):
    """Converts thread items for the Agents SDK, reading attachments from the storage.

    ``context`` is the request's :class:`ChatKitContext`: attachments are read as its
    user, so a foreign attachment id yields nothing. Override
    :meth:`attachment_to_message_content` to handle more types.
    """

    def __init__(
        self, context: ChatKitContext, attachment_store: DjangoAttachmentStore | None = None
    ) -> None:
        self.context = context
        self.attachment_store = attachment_store or DjangoAttachmentStore()

    async def attachment_to_message_content(
        self, attachment: ck.Attachment
    ) -> ResponseInputContentParam:
        label = json.dumps(attachment.name, ensure_ascii=False)
        mime_type = attachment.mime_type
        try:
            data = await self.attachment_store.read_bytes(attachment.id, self.context)
        except (NotFoundError, AttachmentRejected):
            return ResponseInputTextParam(
                type="input_text",
                text=f"[The attached file {label} is no longer available.]",
            )
        if mime_type in IMAGE_TYPES:
            return ResponseInputImageParam(
                type="input_image", detail="auto", image_url=data_url(mime_type, data)
            )
        if mime_type == "application/pdf":
            return ResponseInputFileParam(
                type="input_file", file_data=data_url(mime_type, data), filename=attachment.name
            )
        if is_text_type(mime_type):
            text = data.decode("utf-8", errors="replace")
            return ResponseInputTextParam(
                type="input_text",
                text=f"The user attached the file {label} ({mime_type}):\n{text}",
            )
        return ResponseInputTextParam(
            type="input_text",
            text=f"[The user attached the file {label} ({mime_type}); its content cannot "
            "be shown to the model.]",
        )
