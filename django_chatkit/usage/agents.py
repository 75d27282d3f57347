"""``stream_agent()``: run an openai-agents agent, stream it to ChatKit, record its usage.

What ``Runner.run_streamed`` plus ``chatkit.agents.stream_agent_response`` do in a
server's ``respond()``, and then :func:`~django_chatkit.usage.record_usage` of the
run's ``context_wrapper.usage``::

    agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
    async for event in stream_agent(agent, model_input, agent_context, run_config=config):
        yield event

The usage is recorded when the run ends, however it ends: finished, failed, or
cancelled by the Stop button (then what the model reported until then: a model
response cut off mid-stream reports nothing).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, RunConfig, Runner
from agents.models import get_default_model
from chatkit import types as ck
from chatkit.agents import AgentContext, stream_agent_response

from django_chatkit.usage.recording import record_usage


def model_name(agent: Agent[Any], run_config: RunConfig | None = None) -> str:
    """The name of the model ``agent`` runs on (``run_config.model`` wins, as in the
    runner): a model name, or a ``Model`` instance's ``model`` or ``name``."""
    model: Any = (run_config.model if run_config is not None else None) or agent.model
    if model is None:
        return get_default_model()
    if isinstance(model, str):
        return model
    for attribute in ("model", "name"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


async def stream_agent(
    agent: Agent[Any],
    input: Any,
    agent_context: AgentContext[Any],
    *,
    run_config: RunConfig | None = None,
    **runner_options: Any,
) -> AsyncIterator[ck.ThreadStreamEvent]:
    """Run ``agent`` on ``input`` (``Runner.run_streamed(..., context=agent_context,
    run_config=run_config, **runner_options)``), yield its ChatKit events, and record
    the run's usage for ``agent_context.request_context`` in ``agent_context.thread``."""
    started = time.monotonic()
    result = Runner.run_streamed(
        agent, input, context=agent_context, run_config=run_config, **runner_options
    )
    answer_id = ""
    finished = False
    try:
        async for event in stream_agent_response(agent_context, result):
            if isinstance(event, ck.ThreadItemDoneEvent) and isinstance(
                event.item, ck.AssistantMessageItem
            ):
                answer_id = event.item.id
            yield event
        finished = True
    finally:
        await record_usage(
            agent_context.request_context,
            agent_context.thread.id,
            model_name(getattr(result, "last_agent", None) or agent, run_config),
            result.context_wrapper.usage,
            time.monotonic() - started,
            item_id=answer_id,
            cancelled=not finished,
        )
