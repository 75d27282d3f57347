"""OpenAI Responses objects for a model that is not OpenAI's: what a scripted turn
becomes, as ``OpenAIResponsesModel`` would hand it to the Agents SDK.

:func:`output_items` builds a turn's output (assistant messages and function calls),
:func:`stream_events` the ``response.*`` stream events that deliver it: created, in
progress, each item added, its text in deltas (or its arguments), done, completed.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from agents.items import TResponseOutputItem
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


def message(text: str) -> ResponseOutputMessage:
    """A completed assistant message saying ``text``."""
    return ResponseOutputMessage(
        type="message",
        id=f"msg_{uuid.uuid4().hex}",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def function_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> Any:
    """A completed call of the function tool ``name``."""
    suffix = uuid.uuid4().hex
    return ResponseFunctionToolCall(
        type="function_call",
        id=f"fc_{suffix}",
        call_id=call_id or f"call_{suffix}",
        name=name,
        arguments=json.dumps(arguments),
        status="completed",
    )


def usage(
    input_tokens: int = 0, output_tokens: int = 0, cached_tokens: int = 0, reasoning_tokens: int = 0
) -> ResponseUsage:
    """The ``usage`` of a response (zero by default)."""
    return ResponseUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=cached_tokens, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning_tokens),
    )


def response(
    output: list[TResponseOutputItem],
    status: Literal["in_progress", "completed"],
    model: str,
    used: ResponseUsage | None = None,
) -> Response:
    """A response of ``model``; ``used`` is its usage (zero if not given)."""
    return Response(
        id=f"resp_{uuid.uuid4().hex}",
        created_at=0,
        model=model,
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=False,
        status=status,
        usage=used or usage(),
    )


def chunks(text: str, words: int) -> list[str]:
    """``text`` in pieces of ``words`` words (each with the spaces after it)."""
    pieces = re.findall(r"\S+\s*", text) or ([text] if text else [])
    size = max(1, words)
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def _call_events(
    item: ResponseFunctionToolCall, index: int, seq: Iterator[int]
) -> Iterator[ResponseStreamEvent]:
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


async def stream_events(
    output: list[TResponseOutputItem],
    *,
    model: str,
    words_per_delta: int,
    delay: float,
    used: ResponseUsage | None = None,
) -> AsyncIterator[ResponseStreamEvent]:
    """The stream of a response whose output is ``output``: messages in deltas of
    ``words_per_delta`` words, ``delay`` seconds before each delta; the completed
    response reports ``used``."""
    seq = iter(range(1_000_000))
    started = response([], "in_progress", model)
    yield ResponseCreatedEvent(type="response.created", response=started, sequence_number=next(seq))
    yield ResponseInProgressEvent(
        type="response.in_progress", response=started, sequence_number=next(seq)
    )
    for index, item in enumerate(output):
        if isinstance(item, ResponseFunctionToolCall):
            for event in _call_events(item, index, seq):
                yield event
        elif isinstance(item, ResponseOutputMessage):
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
                part=part.model_copy(update={"text": ""}),
                sequence_number=next(seq),
                item_id=item.id,
                output_index=index,
                content_index=0,
            )
            for delta in chunks(part.text, words_per_delta):
                if delay > 0:
                    await asyncio.sleep(delay)
                yield ResponseTextDeltaEvent(
                    type="response.output_text.delta",
                    delta=delta,
                    logprobs=[],
                    sequence_number=next(seq),
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                )
            yield ResponseTextDoneEvent(
                type="response.output_text.done",
                text=part.text,
                logprobs=[],
                sequence_number=next(seq),
                item_id=item.id,
                output_index=index,
                content_index=0,
            )
            yield ResponseContentPartDoneEvent(
                type="response.content_part.done",
                part=part,
                sequence_number=next(seq),
                item_id=item.id,
                output_index=index,
                content_index=0,
            )
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=item,
            output_index=index,
            sequence_number=next(seq),
        )
    yield ResponseCompletedEvent(
        type="response.completed",
        response=response(output, "completed", model, used),
        sequence_number=next(seq),
    )
