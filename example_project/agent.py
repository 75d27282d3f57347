"""The demo's agent (openai-agents) and its tools.

Each tool shows one ChatKit feature:

``add_todo``
    writes a row, then streams a **widget** (a form) into the thread; the form's
    Save button sends the ``todo.save`` **action** handled by ``ExampleServer.action()``.
``todo_report``
    a slow tool that streams **progress updates** while it works.
``switch_theme``
    a **client tool**: the browser (or the terminal client) runs it and sends the
    result back; the run stops there and resumes with the result.

:func:`get_model` picks the model: OpenAI's when ``OPENAI_API_KEY`` is set, else the
offline :class:`~example_project.offline.OfflineModel`.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Literal

from agents import (
    Agent,
    Model,
    RunConfig,
    RunContextWrapper,
    StopAtTools,
    function_tool,
    set_tracing_disabled,
)
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.types import ProgressUpdateEvent
from chatkit.widgets import DynamicWidgetRoot, WidgetTemplate
from django.conf import settings

from django_chatkit.context import ChatKitContext

from .models import Todo
from .offline import OfflineModel

DemoContext = RunContextWrapper[AgentContext[ChatKitContext]]

INSTRUCTIONS = """\
You are the assistant of a small to-do list app, shown inside ChatKit.
Answer briefly. Use the tools: add_todo to add a to-do (the user edits it in the form
that appears), todo_report for a summary of the user's to-dos, and switch_theme when the
user asks for dark or light mode.
"""

TITLE_INSTRUCTIONS = """\
Write a title of at most six words for a conversation that starts with the user's
message. Answer with the title only, without quotes.
"""

TODO_TEMPLATE = WidgetTemplate.from_file(str(Path(__file__).parent / "widgets" / "todo.widget"))


def todo_widget(todo: Todo, status: str) -> DynamicWidgetRoot:
    """The form that shows and edits one to-do; Save sends a ``todo.save`` action."""
    return TODO_TEMPLATE.build(
        {"id": todo.pk, "title": todo.title, "done": todo.done, "status": status}
    )


def todo_copy_text(todo: Todo) -> str:
    return f"To-do #{todo.pk}: {todo.title} ({'done' if todo.done else 'open'})"


@function_tool
async def add_todo(ctx: DemoContext, title: str) -> str:
    """Add a to-do to the user's list and show it in an editable form.

    Args:
        title: What there is to do, in a few words.
    """
    user = ctx.context.request_context.user
    todo = await Todo.objects.acreate(user=user, title=title[:200])
    await ctx.context.stream_widget(todo_widget(todo, "Added"), copy_text=todo_copy_text(todo))
    return f"Added to-do #{todo.pk} “{todo.title}”."


@function_tool
async def todo_report(ctx: DemoContext) -> str:
    """Summarise the user's to-do list: how many there are, and how many are done."""
    pause = float(getattr(settings, "DEMO_SLOW_TOOL_SECONDS", 1.0))
    await ctx.context.stream(ProgressUpdateEvent(icon="search", text="Counting your to-dos…"))
    await asyncio.sleep(pause)
    todos = [todo async for todo in Todo.objects.filter(user=ctx.context.request_context.user)]
    await ctx.context.stream(
        ProgressUpdateEvent(icon="check-circle", text="Checking what is done…")
    )
    await asyncio.sleep(pause)
    done = [todo for todo in todos if todo.done]
    open_titles = ", ".join(f"“{todo.title}”" for todo in todos if not todo.done)
    return f"{len(todos)} to-do{'s' if len(todos) != 1 else ''}, {len(done)} done." + (
        f" Still open: {open_titles}." if open_titles else ""
    )


@function_tool
async def switch_theme(ctx: DemoContext, theme: Literal["light", "dark"]) -> None:
    """Switch the chat between light and dark mode (runs in the user's browser).

    Args:
        theme: "light" or "dark".
    """
    ctx.context.client_tool_call = ClientToolCall(name="switch_theme", arguments={"theme": theme})


def offline() -> bool:
    """Whether the demo runs on the offline model (no ``OPENAI_API_KEY`` setting)."""
    return not getattr(settings, "OPENAI_API_KEY", "")


@lru_cache(maxsize=4)
def _openai_client(api_key: str):
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key=api_key)


def get_model(task: Literal["chat", "title"] = "chat") -> Model:
    """OpenAI's model named by ``DEMO_OPENAI_MODEL`` with a key, else the offline model."""
    if offline():
        # Nothing may leave the machine: no traces are exported either.
        set_tracing_disabled(True)
        return OfflineModel(
            task, story_seconds=float(getattr(settings, "DEMO_STORY_SECONDS", 10.0))
        )
    from agents import OpenAIResponsesModel

    return OpenAIResponsesModel(
        model=getattr(settings, "DEMO_OPENAI_MODEL", "gpt-4.1-mini"),
        openai_client=_openai_client(settings.OPENAI_API_KEY),
    )


def build_agent() -> Agent[AgentContext[ChatKitContext]]:
    return Agent[AgentContext[ChatKitContext]](
        name="To-do assistant",
        instructions=INSTRUCTIONS,
        model=get_model("chat"),
        tools=[add_todo, todo_report, switch_theme],
        # A client tool ends the run: the client answers, then respond() runs again.
        tool_use_behavior=StopAtTools(stop_at_tool_names=[switch_theme.name]),
    )


def build_title_agent() -> Agent[None]:
    return Agent(name="Title writer", instructions=TITLE_INSTRUCTIONS, model=get_model("title"))


def run_config() -> RunConfig:
    return RunConfig(workflow_name="django_chatkit demo", tracing_disabled=offline())
