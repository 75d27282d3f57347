"""The server of the testing toolkit's tests (tests/test_testing_*.py): the example
project's agent server (widgets, progress updates, client tools, a widget action, on the
offline model), plus what it does not do:

``ask``
    a pending structured input (``threads.add_structured_input`` answers it);
``notice``
    a notice and a client effect, then an answer;
``fail``
    an ``error`` event (a ``CustomStreamError``);
``slow <n> <seconds>``
    ``tests.servers.ScriptedServer``'s slow answer (for hanging up mid-stream);

and a ``sync_action()`` and a ``transcribe()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit import types as ck
from chatkit.actions import Action
from chatkit.errors import CustomStreamError

from django_chatkit.context import ChatKitContext
from example_project.server import ExampleServer
from tests.support.servers import ScriptedServer


def text_of(message: ck.UserMessageItem | None) -> str:
    if message is None:
        return ""
    return " ".join(c.text for c in message.content if isinstance(c, ck.UserMessageTextContent))


class ToolkitServer(ExampleServer, ScriptedServer):
    def say(self, thread: ck.ThreadMetadata, context: ChatKitContext, text: str) -> Any:
        return ck.ThreadItemDoneEvent(
            item=ck.AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[ck.AssistantMessageContent(text=text)],
            )
        )

    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        text = text_of(input_user_message)
        if text == "ask":
            question = ck.StructuredInputMultipleChoice(
                id="color",
                question="Which color?",
                options=[ck.StructuredInputMultipleChoiceOption(value=v) for v in ("red", "blue")],
            )
            yield ck.ThreadItemDoneEvent(
                item=ck.StructuredInputItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    inputs=[question],
                )
            )
            return
        if text == "notice":
            yield ck.NoticeEvent(level="info", message="Heads up")
            yield ck.ClientEffectEvent(name="confetti", data={"pieces": 3})
            yield self.say(thread, context, "Noticed.")
            return
        if text == "fail":
            raise CustomStreamError("Scripted failure.", allow_retry=False)
        if text.startswith("slow "):
            async for event in ScriptedServer.respond(self, thread, input_user_message, context):
                yield event
            return
        if input_user_message is None:
            page = await self.store.load_thread_items(thread.id, None, 1, "desc", context)
            last = page.data[0] if page.data else None
            if isinstance(last, ck.StructuredInputItem):
                (answered,) = last.inputs
                values = answered.answer.values if answered.answer else []
                yield self.say(thread, context, f"You chose {', '.join(values) or 'nothing'}.")
                return
        async for event in super().respond(thread, input_user_message, context):
            yield event

    async def sync_action(
        self,
        thread: ck.ThreadMetadata,
        action: Action[str, Any],
        sender: ck.WidgetItem | None,
        context: ChatKitContext,
    ) -> ck.SyncCustomActionResponse:
        if sender is None:
            return ck.SyncCustomActionResponse()
        copy_text = f"{action.type}: {action.payload}"
        return ck.SyncCustomActionResponse(
            updated_item=sender.model_copy(update={"copy_text": copy_text})
        )

    async def transcribe(self, audio_input: ck.AudioInput, context: ChatKitContext) -> Any:
        return ck.TranscriptionResult(
            text=f"{len(audio_input.data)} bytes of {audio_input.media_type}"
        )
