"""The example project's ChatKit server: an openai-agents agent behind django_chatkit.

``respond()`` is the pattern to copy: load the thread's recent items, convert them to
model input with a ``ThreadItemConverter``, and run the agent with
``django_chatkit.usage.stream_agent`` (``Runner.run_streamed`` turned into ChatKit events
by ``stream_agent_response``, the run's token usage recorded). The title agent's run is
recorded with the one-line ``record_usage``. Widgets,
progress updates and client tool calls come from the tools in
:mod:`example_project.agent`; ``action()`` handles the to-do form's Save button.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from agents import Runner
from chatkit import types as ck
from chatkit.actions import Action
from chatkit.agents import AgentContext, ThreadItemConverter
from chatkit.errors import CustomStreamError
from openai.types.responses import ResponseInputTextParam
from pydantic import BaseModel, ValidationError

from django_chatkit.context import ChatKitContext
from django_chatkit.server import DjangoChatKitServer
from django_chatkit.usage import model_name, record_usage, stream_agent

from .agent import build_agent, build_title_agent, run_config, todo_copy_text, todo_widget
from .models import Todo

HISTORY_ITEMS = 40  # how many recent thread items the model sees


class DemoConverter(ThreadItemConverter):
    """Thread items -> model input. Attachments reach the model as a short note."""

    async def attachment_to_message_content(self, attachment: ck.Attachment) -> Any:
        return ResponseInputTextParam(
            type="input_text",
            text=f"[The user attached {attachment.name} ({attachment.mime_type}).]",
        )


class TodoSave(BaseModel):
    """The payload of the to-do form's ``todo.save`` action (client input: validated)."""

    id: int
    title: str
    done: bool = False


class ExampleServer(DjangoChatKitServer):
    converter = DemoConverter()

    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        # The new user message is already stored: the history ends with it. After a
        # client tool call, input_user_message is None and the history ends with the
        # tool's result.
        page = await self.store.load_thread_items(
            thread.id, after=None, limit=HISTORY_ITEMS, order="desc", context=context
        )
        model_input = await self.converter.to_agent_input(list(reversed(page.data)))

        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        # Runner.run_streamed + stream_agent_response, and the run's usage recorded.
        async for event in stream_agent(
            build_agent(), model_input, agent_context, run_config=run_config()
        ):
            yield event

        if not thread.title and input_user_message is not None:
            # Changing the thread is enough: the SDK saves it and sends thread.updated.
            thread.title = await self.write_title(thread, input_user_message, context)

    async def write_title(
        self, thread: ck.ThreadMetadata, message: ck.UserMessageItem, context: ChatKitContext
    ) -> str:
        first_message = await self.converter.to_agent_input(message)
        agent = build_title_agent()
        started = time.monotonic()
        result = await Runner.run(agent, first_message, run_config=run_config())
        # Any other model call is recorded with one line:
        await record_usage(
            context, thread.id, model_name(agent), result.context_wrapper.usage,
            time.monotonic() - started,
        )  # fmt: skip
        return str(result.final_output).strip().strip('"“”')[:80] or "New chat"

    async def action(
        self,
        thread: ck.ThreadMetadata,
        action: Action[str, Any],
        sender: ck.WidgetItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        if action.type != "todo.save":
            raise CustomStreamError(f"Unknown action {action.type!r}.", allow_retry=False)
        try:
            form = TodoSave.model_validate(action.payload)
        except ValidationError as exc:
            raise CustomStreamError("The form is not valid.", allow_retry=False) from exc
        todo = await Todo.objects.filter(user=context.user, pk=form.id).afirst()
        if todo is None:  # someone else's id behaves like a missing one
            raise CustomStreamError(f"To-do #{form.id} does not exist.", allow_retry=False)
        todo.title = form.title.strip()[:200] or todo.title
        todo.done = form.done
        await todo.asave(update_fields=["title", "done", "updated_at"])

        if sender is not None:
            yield ck.ThreadItemReplacedEvent(
                item=sender.model_copy(
                    update={"widget": todo_widget(todo, "Saved"), "copy_text": todo_copy_text(todo)}
                )
            )
        # The model does not see form submissions unless it is told: hidden context is
        # stored for the next turn but never sent to the client.
        yield ck.ThreadItemDoneEvent(
            item=ck.HiddenContextItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=f"The user saved the form: {todo_copy_text(todo)}.",
            )
        )
        yield ck.ThreadItemDoneEvent(
            item=ck.AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[ck.AssistantMessageContent(text=f"Saved. {todo_copy_text(todo)}.")],
            )
        )
