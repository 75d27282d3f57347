"""django_chatkit.testing's pytest plugin: its fixtures, sync and async, on the example
project's server with a scripted model; and that pytest can load it before Django."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from typing import Any

import pytest
from django.test import override_settings

from django_chatkit.testing import (
    AsyncChatKitClient,
    ChatKitClient,
    ScriptedModel,
    ToolCall,
    assert_answered,
    plugin,
)
from example_project import agent
from example_project.models import Todo
from tests.support import ROOT

# The plugin's fixtures (where the package is installed, pytest loads the plugin itself).
chatkit_user = plugin.chatkit_user
chatkit_client = plugin.chatkit_client
async_chatkit_client = plugin.async_chatkit_client


@pytest.fixture(autouse=True)
def _example_server() -> Any:
    with override_settings(
        CHATKIT_SERVER="example_project.server.ExampleServer", DEMO_SLOW_TOOL_SECONDS=0
    ):
        yield


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> dict[str, ScriptedModel]:
    """The example agent's two models (the chat and the title writer), scripted."""
    scripted = {"chat": ScriptedModel(), "title": ScriptedModel(lambda request: "A title")}
    monkeypatch.setattr(agent, "get_model", lambda task="chat": scripted[task])
    return scripted


def test_chatkit_client_is_logged_in_as_chatkit_user(
    chatkit_client: ChatKitClient, chatkit_user: Any, models: Any
) -> None:
    models["chat"].add(
        ToolCall("add_todo", {"title": "write tests"}),
        lambda request: f"Added: {request.tool_output}",
    )
    result = assert_answered(chatkit_client.create_thread("Please remember to write tests"))
    todo = Todo.objects.get()
    assert todo.user == chatkit_user and todo.title == "write tests"
    assert result.text == f"Added: Added to-do #{todo.pk} “write tests”."
    assert result.thread is not None and result.thread.title == "A title"
    (widget,) = result.widgets
    assert widget.copy_text == f"To-do #{todo.pk}: write tests (open)"
    # The model saw the agent's instructions and the user's words.
    first = models["chat"].requests[0]
    assert first.instructions == agent.INSTRUCTIONS
    assert first.user_text == "Please remember to write tests"
    assert first.tool_names == ["add_todo", "todo_report", "switch_theme"]


def test_chatkit_user(chatkit_user: Any) -> None:
    assert chatkit_user.get_username() == "chatkit-user"
    assert chatkit_user.check_password(plugin.CHATKIT_USER_PASSWORD)


async def test_async_chatkit_client(async_chatkit_client: AsyncChatKitClient, models: Any) -> None:
    models["chat"].add(ToolCall("switch_theme", {"theme": "dark"}), "Dark it is.")
    result = await async_chatkit_client.create_thread("Dark mode please")
    assert result.client_tool_call is not None
    assert result.client_tool_call.arguments == {"theme": "dark"}
    answered = await async_chatkit_client.add_client_tool_output(result.thread, {"ok": True})
    assert answered.text == "Dark it is."
    assert models["chat"].requests[-1].tool_output == '{"ok": true}'


def test_the_plugin_imports_nothing_of_django() -> None:
    """pytest imports its plugins before pytest-django has configured Django."""
    code = (
        "import sys, django_chatkit.testing.plugin, django_chatkit.testing.assertions;"
        "loaded = [m for m in sys.modules if m == 'django' or m.startswith('django.')];"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_entry_point_names_the_plugin() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry_points = pyproject["project"]["entry-points"]["pytest11"]
    assert entry_points == {"django_chatkit": "django_chatkit.testing.plugin"}
