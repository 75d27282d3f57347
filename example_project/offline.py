"""An offline stand-in for an OpenAI model, so the demo runs without an API key.

:class:`OfflineModel` implements the Agents SDK's :class:`agents.models.interface.Model`
interface: it reads the Responses-format input the runner gives it and answers with
the same ``openai.types.responses`` stream events as ``OpenAIResponsesModel``, so the
whole pipeline (agent run -> ``stream_agent_response`` -> ChatKit events -> store ->
SSE) is the one a real model drives. Nothing is sent anywhere.

It is deterministic and follows keywords, not meaning:

* "add a to-do: buy milk"           -> calls the ``add_todo`` tool
* "show my to-do report"            -> calls the ``todo_report`` tool
* "switch to dark mode"             -> calls the ``switch_theme`` (client) tool
* after a tool ran                  -> reports its output
* anything else                     -> echoes the message and what it remembers of the
                                       thread (the history the server sent it)

A tool is only called when the agent offers it. With ``task="title"`` the model
answers with a short title for the conversation instead.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from agents import ModelResponse, Usage
from agents.items import TResponseOutputItem
from agents.models.interface import Model, ModelTracing
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

MODEL_NAME = "offline-demo"

# How ChatKit's ThreadItemConverter frames items that are not typed by the user: they
# reach the model as user messages, but are not something the user said.
CONVERTER_FRAMES = (
    "The following graphical UI widget",
    "Hidden context for the agent",
    "A message was displayed to the user",
    "A structured input request",
    "The user is referring to this",
    "# User-provided context",
)

ADD_TODO = re.compile(r"\b(add|new|create|remember)\b.*?\b(to-?dos?|tasks?)\b\s*:?\s*(.*)", re.I)
REPORT = re.compile(r"\b(report|summary|summari[sz]e|progress|status)\b", re.I)
THEME = re.compile(r"\b(dark|light)\b.*\b(mode|theme)\b|\b(mode|theme)\b.*\b(dark|light)\b", re.I)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    text: str


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    return item.model_dump(exclude_unset=True)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        part = _as_dict(part)
        if isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def said_by_user(items: Iterable[dict[str, Any]]) -> list[str]:
    """What the user typed, oldest first (converter framing left out)."""
    texts = []
    for item in items:
        if item.get("role") != "user" or item.get("type", "message") != "message":
            continue
        text = _text_of(item).strip()
        if text and not text.startswith(CONVERTER_FRAMES):
            texts.append(text)
    return texts


def quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def make_title(text: str, words: int = 6) -> str:
    """A short title: the first words of the first message, without trailing punctuation."""
    picked = text.split()[:words]
    title = " ".join(picked).rstrip(".,;:!?") or "New chat"
    return title[:1].upper() + title[1:]


class OfflineModel(Model):
    """A deterministic, keyword-driven ``Model`` that streams like a real one.

    ``delay`` is the pause between streamed text deltas, in seconds; ``words_per_delta``
    how many words each delta carries.
    """

    def __init__(
        self,
        task: Literal["chat", "title"] = "chat",
        *,
        delay: float = 0.02,
        words_per_delta: int = 3,
    ) -> None:
        self.task = task
        self.delay = delay
        self.words_per_delta = words_per_delta

    # -- deciding what to say ------------------------------------------------------

    def plan(self, input: str | list[Any], tool_names: set[str]) -> ToolCall | Reply:
        items = (
            [{"role": "user", "content": input}]
            if isinstance(input, str)
            else [_as_dict(item) for item in input]
        )
        said = said_by_user(items)
        if self.task == "title":
            return Reply(make_title(said[0] if said else ""))

        last = items[-1] if items else {}
        if last.get("type") == "function_call_output":
            return Reply(self.after_tool(items, last))

        text = said[-1] if said else ""
        if (match := ADD_TODO.search(text)) and "add_todo" in tool_names:
            title = match.group(3).strip().strip("“”\"'").rstrip(".!") or "Something to do"
            return ToolCall("add_todo", {"title": title})
        if REPORT.search(text) and "todo_report" in tool_names:
            return ToolCall("todo_report", {})
        if (match := THEME.search(text)) and "switch_theme" in tool_names:
            theme = (match.group(1) or match.group(4)).lower()
            return ToolCall("switch_theme", {"theme": theme})
        return Reply(self.chat_reply(said))

    def after_tool(self, items: list[dict[str, Any]], output_item: dict[str, Any]) -> str:
        call: dict[str, Any] = next(
            (
                item
                for item in reversed(items)
                if item.get("type") == "function_call"
                and item.get("call_id") == output_item.get("call_id")
            ),
            {},
        )
        name = call.get("name", "tool")
        output = output_item.get("output")
        if not isinstance(output, str):
            output = json.dumps(output)
        if name == "add_todo":
            return f"Done! {output} Edit it in the form above and press Save."
        if name == "todo_report":
            return f"Here is your report: {output}"
        if name == "switch_theme":
            arguments = json.loads(call.get("arguments") or "{}")
            return (
                f"Switched to the {arguments.get('theme', 'new')} theme. "
                f"The browser answered {output}."
            )
        return f"The tool {name} returned: {output}"

    def chat_reply(self, said: list[str]) -> str:
        current = said[-1] if said else ""
        earlier = said[:-1]
        if earlier:
            memory = (
                f"I remember {len(earlier)} earlier message{'s' if len(earlier) > 1 else ''} "
                f"in this thread; the last one was {quote(earlier[-1])}."
            )
        else:
            memory = "This is the start of our conversation."
        return (
            f"You said {quote(current)}. {memory} I am the offline demo model "
            "(no OPENAI_API_KEY is set), so I follow a few keywords: try "
            "“add a to-do: buy milk”, “show my to-do report” or “switch to dark mode”."
        )

    # -- building Responses objects ------------------------------------------------

    def output_items(self, step: ToolCall | Reply) -> list[TResponseOutputItem]:
        suffix = uuid.uuid4().hex
        if isinstance(step, ToolCall):
            return [
                ResponseFunctionToolCall(
                    type="function_call",
                    id=f"fc_{suffix}",
                    call_id=f"call_{suffix}",
                    name=step.name,
                    arguments=json.dumps(step.arguments),
                    status="completed",
                )
            ]
        return [
            ResponseOutputMessage(
                type="message",
                id=f"msg_{suffix}",
                role="assistant",
                status="completed",
                content=[ResponseOutputText(type="output_text", text=step.text, annotations=[])],
            )
        ]

    @staticmethod
    def response(output: list[Any], status: Literal["in_progress", "completed"]) -> Response:
        return Response(
            id=f"resp_{uuid.uuid4().hex}",
            created_at=0,
            model=MODEL_NAME,
            object="response",
            output=output,
            tool_choice="auto",
            tools=[],
            parallel_tool_calls=False,
            status=status,
            usage=ResponseUsage(
                input_tokens=0,
                output_tokens=0,
                total_tokens=0,
                input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
            ),
        )

    def deltas(self, text: str) -> list[str]:
        words = re.findall(r"\S+\s*", text)
        size = max(1, self.words_per_delta)
        return ["".join(words[i : i + size]) for i in range(0, len(words), size)]

    # -- the Model interface -------------------------------------------------------

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        output = self.output_items(self.plan(input, {tool.name for tool in tools}))
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> AsyncIterator[ResponseStreamEvent]:
        output = self.output_items(self.plan(input, {tool.name for tool in tools}))
        seq = iter(range(1_000_000))
        started = self.response([], "in_progress")
        yield ResponseCreatedEvent(
            type="response.created", response=started, sequence_number=next(seq)
        )
        yield ResponseInProgressEvent(
            type="response.in_progress", response=started, sequence_number=next(seq)
        )
        for index, item in enumerate(output):
            if isinstance(item, ResponseFunctionToolCall):
                yield ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=item.model_copy(update={"arguments": "", "status": "in_progress"}),
                    output_index=index,
                    sequence_number=next(seq),
                )
                yield ResponseFunctionCallArgumentsDeltaEvent(
                    type="response.function_call_arguments.delta",
                    item_id=item.id or item.call_id,
                    output_index=index,
                    delta=item.arguments,
                    sequence_number=next(seq),
                )
                # Older openai releases require "name"; newer ones keep it as an extra.
                yield ResponseFunctionCallArgumentsDoneEvent.model_validate(
                    {
                        "type": "response.function_call_arguments.done",
                        "item_id": item.id or item.call_id,
                        "name": item.name,
                        "output_index": index,
                        "arguments": item.arguments,
                        "sequence_number": next(seq),
                    }
                )
            else:
                part = item.content[0]
                assert isinstance(part, ResponseOutputText)
                yield ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=item.model_copy(update={"content": [], "status": "in_progress"}),
                    output_index=index,
                    sequence_number=next(seq),
                )
                yield ResponseContentPartAddedEvent(
                    type="response.content_part.added",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    part=part.model_copy(update={"text": ""}),
                    sequence_number=next(seq),
                )
                for delta in self.deltas(part.text):
                    await asyncio.sleep(self.delay)
                    yield ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        item_id=item.id,
                        output_index=index,
                        content_index=0,
                        delta=delta,
                        logprobs=[],
                        sequence_number=next(seq),
                    )
                yield ResponseTextDoneEvent(
                    type="response.output_text.done",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    text=part.text,
                    logprobs=[],
                    sequence_number=next(seq),
                )
                yield ResponseContentPartDoneEvent(
                    type="response.content_part.done",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    part=part,
                    sequence_number=next(seq),
                )
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done",
                item=item,
                output_index=index,
                sequence_number=next(seq),
            )
        yield ResponseCompletedEvent(
            type="response.completed",
            response=self.response(output, "completed"),
            sequence_number=next(seq),
        )
