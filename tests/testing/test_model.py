"""``ScriptedModel`` on the Agents SDK's runner: text in chunks, tool calls and their
outputs, parallel calls, hand-offs, failures, rules, and the record of each request."""

from __future__ import annotations

import time
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, handoff

from django_chatkit.testing import Handoff, ModelRequest, ScriptedModel, ScriptExhausted, ToolCall


async def streamed(agent: Agent[Any], text: str) -> tuple[list[Any], Any]:
    result = Runner.run_streamed(agent, text)
    events = [
        event.data async for event in result.stream_events() if event.type == "raw_response_event"
    ]
    return events, result


async def test_a_text_answer_streams_in_chunks_of_words() -> None:
    model = ScriptedModel(["one two three four five"], words_per_delta=2, name="test-model")
    events, result = await streamed(Agent(name="a", instructions="Be brief.", model=model), "hi")
    assert result.final_output == "one two three four five"
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == [
        "one two ",
        "three four ",
        "five",
    ]
    assert [e.type for e in events][:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert events[-1].type == "response.completed" and events[-1].response.model == "test-model"
    (request,) = model.requests
    assert (request.instructions, request.user_text, request.tool_names) == ("Be brief.", "hi", [])
    assert request.texts("user") == ["hi"] and request.tool_output is None
    assert model.remaining == []


async def test_tool_calls_and_answers_that_read_their_output() -> None:
    calls = []

    @function_tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        calls.append((a, b))
        return a + b

    model = ScriptedModel().add(
        ToolCall("add", {"a": 2, "b": 3}),
        lambda request: f"The sum is {request.tool_output}.",
    )
    assert len(model.remaining) == 2
    events, result = await streamed(Agent(name="a", model=model, tools=[add]), "2 + 3?")
    assert calls == [(2, 3)]
    assert result.final_output == "The sum is 5."
    assert "response.function_call_arguments.done" in [e.type for e in events]
    asked, told = model.requests
    assert asked.tool_names == ["add"] and asked.tool_output is None
    assert told.tool_output == "5" and told.tool_outputs == ["5"]
    assert told.last_tool_call is not None
    assert (told.last_tool_call["name"], told.last_tool_call["arguments"]) == (
        "add",
        {"a": 2, "b": 3},
    )
    assert told.tool_call(told.last_tool_call["call_id"])["name"] == "add"
    assert told.tool_call("call_missing") is None


async def test_parallel_calls_and_the_non_streamed_runner() -> None:
    seen = []

    @function_tool
    def look(city: str) -> str:
        """Look a city up."""
        seen.append(city)
        return f"{city}: ok"

    model = ScriptedModel(
        [[ToolCall("look", {"city": "Paris"}), ToolCall("look", {"city": "Oslo"})], "Both ok."]
    )
    result = await Runner.run(Agent(name="a", model=model, tools=[look]), "Paris and Oslo?")
    assert sorted(seen) == ["Oslo", "Paris"] and result.final_output == "Both ok."
    assert sorted(model.requests[1].tool_outputs) == ["Oslo: ok", "Paris: ok"]


async def test_a_hand_off_to_another_agent() -> None:
    billing = Agent(name="Billing", model=ScriptedModel(["Billing here."]))
    triage_model = ScriptedModel([Handoff(billing)])
    triage = Agent(name="Triage", model=triage_model, handoffs=[billing])
    result = await Runner.run(triage, "My invoice?")
    assert (result.last_agent.name, result.final_output) == ("Billing", "Billing here.")
    assert triage_model.requests[0].handoff_names == ["Billing"]

    by_name = Agent(name="Triage", model=ScriptedModel([Handoff("Billing")]), handoffs=[billing])
    billing.model.add("Again.")  # type: ignore[union-attr]
    assert (await Runner.run(by_name, "Again?")).final_output == "Again."
    custom = handoff(billing, tool_name_override="to_billing")
    by_tool = Agent(name="Triage", model=ScriptedModel([Handoff("to_billing")]), handoffs=[custom])
    billing.model.add("Third.")  # type: ignore[union-attr]
    assert (await Runner.run(by_tool, "Once more?")).final_output == "Third."

    lost = Agent(name="Triage", model=ScriptedModel([Handoff("Sales")]), handoffs=[billing])
    with pytest.raises(ValueError, match=r"no hand-off to 'Sales' \(it offers \['Billing'\]\)"):
        await Runner.run(lost, "Sales?")


async def test_failures_the_end_of_the_script_and_rules() -> None:
    failing = Agent(name="a", model=ScriptedModel([RuntimeError("model down")]))
    with pytest.raises(RuntimeError, match="model down"):
        await Runner.run(failing, "hi")

    short = ScriptedModel(["only one"])
    agent = Agent(name="a", model=short)
    assert (await Runner.run(agent, "first")).final_output == "only one"
    with pytest.raises(
        ScriptExhausted, match=r"script has 1 step\(s\): the agent called the model a 2\. time"
    ):
        await Runner.run(agent, "second")

    with pytest.raises(TypeError, match="cannot play 42"):
        await Runner.run(Agent(name="a", model=ScriptedModel([42])), "hi")  # type: ignore[list-item]

    def rule(request: ModelRequest) -> str:
        return f"Echo: {request.user_text}"

    echo = ScriptedModel(rule)
    agent = Agent(name="a", model=echo)
    for text in ("a", "b", "c"):
        assert (await Runner.run(agent, text)).final_output == f"Echo: {text}"
    assert len(echo.requests) == 3 and echo.remaining == []


async def test_text_arrives_paced_by_delay() -> None:
    model = ScriptedModel(["a b c d"], words_per_delta=1, delay=0.05)
    started = time.monotonic()
    events, _ = await streamed(Agent(name="a", model=model), "hi")
    assert time.monotonic() - started >= 0.2
    assert len([e for e in events if e.type == "response.output_text.delta"]) == 4
