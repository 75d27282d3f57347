"""``ScriptedModel``: an ``agents.Model`` that plays a script, for tests and demos.

Each step of the script is the model's answer to one call (one turn of the agent's
loop): a ``str`` is a text answer (streamed in chunks of words), a :class:`ToolCall`
calls a function tool, a :class:`Handoff` hands the conversation to another agent, a
list is several of these at once, an exception is raised as a failing model would, and
a function of the :class:`ModelRequest` decides when the step is reached (to react to a
tool's output). Every call is recorded in :attr:`ScriptedModel.requests`: the
instructions, input items and tools the agent sent.

::

    model = ScriptedModel([
        ToolCall("add_todo", {"title": "buy milk"}),
        lambda request: f"Done: {request.tool_output}",
    ])
    agent = Agent(name="Assistant", model=model, tools=[add_todo])

Nothing is sent anywhere: no key, no network, the same answers every run. A function
instead of a list answers every call (a model of rules rather than of steps).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from agents import ModelResponse, Usage
from agents.handoffs import Handoff as AgentHandoff
from agents.items import TResponseOutputItem
from agents.models.interface import Model, ModelTracing
from openai.types.responses import ResponseStreamEvent, ResponseUsage

from django_chatkit.testing import responses

__all__ = ["Handoff", "ModelRequest", "ScriptExhausted", "ScriptedModel", "ToolCall"]


class ScriptExhausted(AssertionError):
    """The agent called the model once more than the script has steps."""


@dataclass(frozen=True)
class ToolCall:
    """The model calls the function tool ``name`` with ``arguments``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True)
class Handoff:
    """The model hands the conversation to ``agent`` (the agent, its name, or the hand-off's
    tool name), through the hand-off tool the agent offers for it."""

    agent: Any


Step: TypeAlias = (
    "str | ToolCall | Handoff | BaseException | Sequence[Step] | Callable[[ModelRequest], Any]"
)


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    return item.model_dump(exclude_unset=True)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        part["text"] for part in map(_as_dict, content or []) if isinstance(part.get("text"), str)
    )


@dataclass
class ModelRequest:
    """What the agent sent the model in one call."""

    instructions: str | None
    input: list[dict[str, Any]]  # Responses input items, as dicts
    tools: list[Any]  # the agents tools on offer
    handoffs: list[AgentHandoff[Any, Any]]
    model_settings: Any = None
    output_schema: Any = None

    @property
    def tool_names(self) -> list[str]:
        return [tool.name for tool in self.tools]

    @property
    def handoff_names(self) -> list[str]:
        """The agents this one can hand off to."""
        return [handoff.agent_name for handoff in self.handoffs]

    def texts(self, role: str = "user") -> list[str]:
        """The texts of the input's messages of ``role``, oldest first."""
        return [
            _text(item.get("content"))
            for item in self.input
            if item.get("role") == role and item.get("type", "message") == "message"
        ]

    @property
    def user_text(self) -> str:
        """The text of the latest user message (``""`` if none)."""
        texts = self.texts("user")
        return texts[-1] if texts else ""

    @property
    def tool_outputs(self) -> list[Any]:
        """The outputs of the tool calls in the input, oldest first."""
        return [
            item.get("output") for item in self.input if item.get("type") == "function_call_output"
        ]

    @property
    def tool_output(self) -> Any:
        """The output of the latest tool call, if the input ends with one, else ``None``
        (the model is called again once the tools it called have answered)."""
        last = self.input[-1] if self.input else {}
        return last.get("output") if last.get("type") == "function_call_output" else None

    def tool_call(self, call_id: str) -> dict[str, Any] | None:
        """The ``function_call`` input item of ``call_id`` (its ``name``, ``arguments``)."""
        return next(
            (
                item
                for item in self.input
                if item.get("type") == "function_call" and item.get("call_id") == call_id
            ),
            None,
        )

    @property
    def last_tool_call(self) -> dict[str, Any] | None:
        """The ``function_call`` whose output ends the input, with its ``arguments`` parsed."""
        last = self.input[-1] if self.input else {}
        if last.get("type") != "function_call_output":
            return None
        call = self.tool_call(last.get("call_id", ""))
        if call is None:
            return None
        return {**call, "arguments": json.loads(call.get("arguments") or "{}")}


class ScriptedModel(Model):
    """A deterministic model that plays ``script`` one step per call (see the module).

    ``script`` is a list of steps, or a function of the :class:`ModelRequest` that
    answers every call. ``words_per_delta``: the words in each streamed text delta;
    ``delay``: seconds before each delta (0: none). ``name`` is the model name the
    responses carry.
    """

    def __init__(
        self,
        script: Iterable[Step] | Callable[[ModelRequest], Any] = (),
        *,
        words_per_delta: int = 3,
        delay: float = 0.0,
        name: str = "scripted",
    ) -> None:
        self.rule: Callable[[ModelRequest], Any] | None = script if callable(script) else None
        self.script: list[Step] = [] if callable(script) else list(script)
        self.words_per_delta = words_per_delta
        self.delay = delay
        self.name = name
        self.requests: list[ModelRequest] = []

    #: Characters per token of :meth:`usage` (about four for English text).
    chars_per_token = 4

    def add(self, *steps: Step) -> ScriptedModel:
        """Append steps to the script (``self``, to chain)."""
        self.script.extend(steps)
        return self

    @property
    def remaining(self) -> list[Step]:
        """The steps not played yet."""
        return self.script[len(self.requests) :] if self.rule is None else []

    # -- playing -------------------------------------------------------------------

    def _record(
        self,
        instructions: str | None,
        input: str | list[Any],
        settings: Any,
        tools: list[Any],
        schema: Any,
        handoffs: list[Any],
    ) -> ModelRequest:
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        request = ModelRequest(
            instructions=instructions,
            input=[_as_dict(item) for item in items],
            tools=list(tools),
            handoffs=list(handoffs),
            model_settings=settings,
            output_schema=schema,
        )
        self.requests.append(request)
        return request

    def _step(self, request: ModelRequest) -> Any:
        if self.rule is not None:
            return self.rule(request)
        played = len(self.requests) - 1
        if played >= len(self.script):
            raise ScriptExhausted(
                f"ScriptedModel's script has {len(self.script)} step(s): the agent called the "
                f"model a {played + 1}. time (the input ended with {request.input[-1:]!r})."
            )
        return self.script[played]

    def output(self, step: Any, request: ModelRequest) -> list[TResponseOutputItem]:
        """The Responses output items of one step."""
        while callable(step):  # a function of the request decides
            step = step(request)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, str):
            return [responses.message(step)]
        if isinstance(step, ToolCall):
            return [responses.function_call(step.name, step.arguments, step.call_id)]
        if isinstance(step, Handoff):
            return [responses.function_call(self._handoff_tool(step, request), {})]
        if isinstance(step, Sequence):
            return [item for part in step for item in self.output(part, request)]
        raise TypeError(f"ScriptedModel cannot play {step!r}: a str, ToolCall, Handoff or list")

    @staticmethod
    def _handoff_tool(step: Handoff, request: ModelRequest) -> str:
        target = getattr(step.agent, "name", step.agent)
        for handoff in request.handoffs:
            if target in (handoff.agent_name, handoff.tool_name):
                return handoff.tool_name
        raise ValueError(
            f"The agent offers no hand-off to {target!r} (it offers {request.handoff_names})."
        )

    def delay_for(self, request: ModelRequest) -> float:
        """Seconds before each streamed delta of the answer to ``request``: ``delay``
        (override to pace some answers differently, as the demo's long story does)."""
        return self.delay

    def usage(self, request: ModelRequest, output: list[TResponseOutputItem]) -> ResponseUsage:
        """Plausible, deterministic usage of one call: a token per :attr:`chars_per_token`
        characters of the instructions, input and tool names (in) and of the output
        (out); past 1024 input tokens, the input's first half (in steps of 128 tokens)
        counts as cached, as OpenAI's prompt caching would. Override for other numbers."""
        sent = (request.instructions or "") + json.dumps(request.input, default=str)
        sent += "".join(request.tool_names) + "".join(request.handoff_names)
        received = json.dumps([item.model_dump(mode="json") for item in output])
        input_tokens = math.ceil(len(sent) / self.chars_per_token)
        cached = (input_tokens // 2 // 128) * 128 if input_tokens >= 1024 else 0
        return responses.usage(
            input_tokens=input_tokens,
            output_tokens=math.ceil(len(received) / self.chars_per_token),
            cached_tokens=cached,
        )

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
        request = self._record(
            system_instructions, input, model_settings, tools, output_schema, handoffs
        )
        output = self.output(self._step(request), request)
        used = self.usage(request, output)
        return ModelResponse(
            output=output,
            usage=Usage(
                requests=1,
                input_tokens=used.input_tokens,
                input_tokens_details=used.input_tokens_details,
                output_tokens=used.output_tokens,
                output_tokens_details=used.output_tokens_details,
                total_tokens=used.total_tokens,
            ),
            response_id=None,
        )

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
        request = self._record(
            system_instructions, input, model_settings, tools, output_schema, handoffs
        )
        output = self.output(self._step(request), request)
        async for event in responses.stream_events(
            output,
            model=self.name,
            words_per_delta=self.words_per_delta,
            delay=self.delay_for(request),
            used=self.usage(request, output),
        ):
            yield event
