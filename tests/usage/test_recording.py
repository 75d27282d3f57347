"""Recording usage: the one-line ``record_usage``, the openai-agents helper
``stream_agent`` (finished and cancelled runs), and the offline model's numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import Agent, RunConfig, Usage, function_tool
from chatkit import types as ck
from chatkit.agents import AgentContext
from openai.types.completion_usage import CompletionUsage, PromptTokensDetails

from django_chatkit.models import DailyUsage
from django_chatkit.models import Usage as UsageRow
from django_chatkit.store import DjangoStore
from django_chatkit.testing import ScriptedModel, ToolCall
from django_chatkit.testing.responses import message
from django_chatkit.testing.responses import usage as response_usage
from django_chatkit.usage import UsageCounts, model_name, record_usage, stream_agent
from django_chatkit.usage.quotas import local_day
from tests.support.factories import make_thread

pytestmark = pytest.mark.django_db(transaction=True)
QUIET = RunConfig(tracing_disabled=True)


def test_counts_read_every_sdk_shape() -> None:
    expected = UsageCounts(1, 120, 64, 30, 8, 150)
    responses_usage = response_usage(120, 30, cached_tokens=64, reasoning_tokens=8)
    chat_usage = CompletionUsage(
        prompt_tokens=120,
        completion_tokens=30,
        total_tokens=150,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=64),
        completion_tokens_details={"reasoning_tokens": 8},
    )
    as_dict = {
        "input_tokens": 120,
        "output_tokens": 30,
        "input_tokens_details": {"cached_tokens": 64},
        "output_tokens_details": {"reasoning_tokens": 8},
    }
    agents_usage = Usage(requests=1, input_tokens=120, output_tokens=30, total_tokens=150)
    agents_usage.input_tokens_details.cached_tokens = 64
    agents_usage.output_tokens_details.reasoning_tokens = 8
    for shape in (responses_usage, chat_usage, as_dict, agents_usage, expected):
        assert UsageCounts.of(shape) == expected, shape
    assert UsageCounts.of(Usage()).is_empty()


async def test_the_one_liner_records_an_answer_and_its_day(alice: Any, as_alice: Any) -> None:
    thread = await asyncio.to_thread(make_thread, alice, "costly")
    usage = response_usage(1000, 200, cached_tokens=512)
    first = await record_usage(as_alice, thread.chatkit_id, "gpt-x", usage, 1.5, item_id="msg_1")
    await record_usage(as_alice, thread.chatkit_id, "gpt-x", {"input_tokens": 10}, 0.5)
    assert first is not None
    rows = [row async for row in UsageRow.objects.order_by("pk").values()]
    assert [
        (r["thread_id"], r["user_id"], r["scope"], r["model"], r["input_tokens"]) for r in rows
    ] == [(thread.pk, alice.pk, "", "gpt-x", 1000), (thread.pk, alice.pk, "", "gpt-x", 10)]
    assert rows[0]["cached_input_tokens"] == 512
    assert rows[0]["total_tokens"] == 1200
    assert rows[0]["item_chatkit_id"] == "msg_1"
    daily = await DailyUsage.objects.aget()
    assert (daily.user_id, daily.day, daily.model, daily.answers) == (
        alice.pk,
        local_day(),
        "gpt-x",
        2,
    )
    assert (daily.input_tokens, daily.cached_input_tokens, daily.total_tokens) == (1010, 512, 1210)
    assert daily.duration == pytest.approx(2.0)


async def test_nothing_is_recorded_for_empty_usage_and_a_foreign_thread_is_no_link(
    alice: Any, bob: Any, as_bob: Any
) -> None:
    alices = await asyncio.to_thread(make_thread, alice)
    assert await record_usage(as_bob, alices.chatkit_id, "m", Usage()) is None
    row = await record_usage(as_bob, alices.chatkit_id, "m", {"output_tokens": 5})
    assert row is not None
    await row.arefresh_from_db()
    assert (row.user_id, row.thread_id) == (bob.pk, None)


def agent_context(thread: Any, context: Any) -> AgentContext[Any]:
    return AgentContext(thread=thread.to_chatkit(), store=DjangoStore(), request_context=context)


async def test_stream_agent_records_the_run(alice: Any, as_alice: Any) -> None:
    thread = await asyncio.to_thread(make_thread, alice)
    model = ScriptedModel(["Hello there, how are you today?"], name="scripted-1")
    agent = Agent(name="a", instructions="Be brief.", model=model)
    events = [
        event
        async for event in stream_agent(
            agent, "hi", agent_context(thread, as_alice), run_config=QUIET
        )
    ]
    answer = next(e.item for e in events if isinstance(e, ck.ThreadItemDoneEvent))
    row = await UsageRow.objects.aget()
    expected = UsageCounts.of(model.usage(model.requests[0], [_message(answer)]))
    assert (row.thread_id, row.model, row.requests, row.item_chatkit_id) == (
        thread.pk,
        "scripted-1",
        1,
        answer.id,
    )
    assert (row.input_tokens, row.output_tokens) == (expected.input_tokens, expected.output_tokens)
    assert row.input_tokens > 0 and row.output_tokens > 0 and not row.cancelled
    assert row.duration > 0


def _message(item: ck.AssistantMessageItem) -> Any:
    return message(item.content[0].text)


async def test_stream_agent_records_what_a_cancelled_run_used(alice: Any, as_alice: Any) -> None:
    thread = await asyncio.to_thread(make_thread, alice)

    # Two model calls: a tool call (finished, reported), then a slow answer cut off.
    @function_tool
    def lookup() -> str:
        """Look something up."""
        return "found"

    model = ScriptedModel(
        [ToolCall("lookup"), "one two three four five six seven eight"],
        words_per_delta=1,
        delay=0.05,
    )
    agent = Agent(name="a", model=model, tools=[lookup])
    stream = stream_agent(agent, "look", agent_context(thread, as_alice), run_config=QUIET)
    async for event in stream:
        if isinstance(event, ck.ThreadItemUpdatedEvent):  # the answer has begun
            break
    await stream.aclose()  # what the SDK does when the client goes
    row = await UsageRow.objects.aget()
    assert row.cancelled and row.requests == 1 and row.input_tokens > 0


def test_model_name_follows_the_runner() -> None:
    assert model_name(Agent(name="a", model="gpt-4.1-mini")) == "gpt-4.1-mini"
    assert model_name(Agent(name="a", model=ScriptedModel(name="s"))) == "s"
    assert model_name(Agent(name="a", model="x"), RunConfig(model="y")) == "y"
    assert model_name(Agent(name="a"))  # the SDK's default model
