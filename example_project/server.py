"""The example project's ChatKit server: a simple offline responder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from chatkit import types as ck

from django_chatkit.context import ChatKitContext
from django_chatkit.server import DjangoChatKitServer


class ExampleServer(DjangoChatKitServer):
    """Answers every message by echoing it back word by word, offline."""

    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        said = ""
        if input_user_message is not None:
            said = " ".join(
                part.text
                for part in input_user_message.content
                if isinstance(part, ck.UserMessageTextContent)
            )
        name = context.user.get_username()
        answer = f"Hello {name}! You said: {said or '(nothing)'}"
        item = ck.AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[ck.AssistantMessageContent(text="")],
        )
        yield ck.ThreadItemAddedEvent(item=item)
        for word in answer.split(" "):
            yield ck.ThreadItemUpdatedEvent(
                item_id=item.id,
                update=ck.AssistantMessageContentPartTextDelta(content_index=0, delta=word + " "),
            )
            await asyncio.sleep(0.03)
        item.content = [ck.AssistantMessageContent(text=answer)]
        yield ck.ThreadItemDoneEvent(item=item)
        if not thread.title:
            thread.title = (said or "New chat")[:60]
