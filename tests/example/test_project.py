"""The example project in-process: the offline model on the real Agents SDK runner, the
model choice, the widget action's guards and the demo page."""

from __future__ import annotations

from typing import Any

import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool
from chatkit import types as ck
from django.test import override_settings

from django_chatkit.models import DailyUsage, Usage
from django_chatkit.testing import AsyncChatKitClient, assert_answered
from django_chatkit.testing.model import ModelRequest
from django_chatkit.testing.responses import chunks
from example_project.agent import get_model, run_config
from example_project.models import Todo
from example_project.offline import LONG_STORY, OfflineModel

EXAMPLE = override_settings(
    CHATKIT_SERVER="example_project.server.ExampleServer", DEMO_SLOW_TOOL_SECONDS=0
)


async def raw_events(agent: Agent, text: str) -> tuple[list[str], Any]:
    result = Runner.run_streamed(agent, text, run_config=run_config())
    types = [
        event.data.type
        async for event in result.stream_events()
        if event.type == "raw_response_event"
    ]
    return types, result.final_output


async def test_offline_model_streams_like_the_responses_api():
    agent = Agent(name="t", instructions="", model=OfflineModel(delay=0, words_per_delta=2))
    types, output = await raw_events(agent, "hello there")
    assert output == (
        "You said “hello there”. This is the start of our conversation. I am the offline demo "
        "model (no OPENAI_API_KEY is set), so I follow a few keywords: try “add a to-do: buy "
        "milk”, “show my to-do report” or “switch to dark mode”."
    )
    deltas = types.count("response.output_text.delta")
    assert deltas == len(output.split()) // 2 + len(output.split()) % 2
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


async def test_offline_model_calls_an_offered_tool_and_reports_its_output():
    calls = []

    @function_tool
    def todo_report() -> str:
        """Summarise the to-dos."""
        calls.append("todo_report")
        return "3 to-dos, 2 done."

    agent = Agent(name="t", instructions="", model=OfflineModel(delay=0), tools=[todo_report])
    types, output = await raw_events(agent, "Show my to-do report please")
    assert calls == ["todo_report"]
    assert output == "Here is your report: 3 to-dos, 2 done."
    # Two model calls: the function call (arguments streamed), then the answer.
    assert types[:6] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert types.count("response.completed") == 2
    # Without the tool on offer, the same words get a plain answer.
    plain = Agent(name="t", instructions="", model=OfflineModel(delay=0))
    _, output = await raw_events(plain, "Show my to-do report please")
    assert output.startswith("You said “Show my to-do report please”.")


async def test_offline_model_tells_a_long_story_at_its_pace():
    model = OfflineModel(words_per_delta=2, story_seconds=0.0)
    agent = Agent(name="t", instructions="", model=model)
    for text in ("tell me a long story", "Hello. Could you TELL ME A LONG STORY, please?"):
        types, output = await raw_events(agent, text)
        assert output == LONG_STORY
        assert types.count("response.output_text.delta") == len(chunks(LONG_STORY, 2))
    assert model.delay_for(model.requests[-1]) == 0.0
    paced = OfflineModel(words_per_delta=2, story_seconds=10.0)
    story, other = (
        ModelRequest(
            instructions=None, input=[{"role": "user", "content": text}], tools=[], handoffs=[]
        )
        for text in ("tell me a long story", "tell me a story")
    )
    # The story's deltas share the ten seconds; any other answer keeps the model's delay.
    assert paced.delay_for(story) == 10.0 / len(chunks(LONG_STORY, 2))
    assert paced.delay_for(other) == paced.delay == 0.02
    _, output = await raw_events(Agent(name="t", model=OfflineModel(delay=0)), "tell me a story")
    assert output.startswith("You said “tell me a story”.")


def test_demo_story_pace_follows_the_setting():
    with override_settings(OPENAI_API_KEY="", DEMO_STORY_SECONDS=1.5):
        model = get_model()
        assert isinstance(model, OfflineModel) and model.story_seconds == 1.5


async def test_offline_title_model():
    title_agent = Agent(name="t", instructions="", model=OfflineModel("title"))
    result = await Runner.run(title_agent, "can you add a to-do: water the plants?")
    assert result.final_output == "Can you add a to-do: water"


def test_model_choice_follows_the_api_key_setting():
    with override_settings(OPENAI_API_KEY=""):
        assert isinstance(get_model(), OfflineModel)
        assert get_model("title").task == "title"
        assert run_config().tracing_disabled is True
    with override_settings(OPENAI_API_KEY="sk-test-not-used", DEMO_OPENAI_MODEL="gpt-test"):
        model = get_model()
        assert isinstance(model, OpenAIResponsesModel)
        assert model.model == "gpt-test"
        assert run_config().tracing_disabled is False


@EXAMPLE
@pytest.mark.django_db(transaction=True)
async def test_widget_action_guards(alice: Any, bob: Any) -> None:
    bobs = await Todo.objects.acreate(user=bob, title="bob's")
    client = AsyncChatKitClient()
    await client.force_login(alice)
    thread = assert_answered(await client.create_thread("hi")).thread
    assert thread is not None

    foreign = await client.custom_action(
        thread, "todo.save", payload={"id": bobs.pk, "title": "mine"}
    )
    invalid = await client.custom_action(thread, "todo.save", payload={"title": "no id"})
    unknown = await client.custom_action(thread, "todo.delete", payload={"id": bobs.pk})
    assert foreign.error == ck.ErrorEvent(
        code="custom", message=f"To-do #{bobs.pk} does not exist.", allow_retry=False
    )
    assert invalid.error is not None and invalid.error.message == "The form is not valid."
    assert unknown.error is not None and unknown.error.message == "Unknown action 'todo.delete'."
    await bobs.arefresh_from_db()
    assert bobs.title == "bob's"


@override_settings(ROOT_URLCONF="example_project.urls", LOGIN_REDIRECT_URL="/")
@pytest.mark.django_db
def test_demo_page_requires_login_and_embeds_the_chat(client, django_user_model):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"

    # An ordinary user (not staff) logs in through Django's login page.
    django_user_model.objects.create_user("demo", password="pw")
    login = client.get("/accounts/login/?next=/")
    assert login.status_code == 200
    assert '<input type="hidden" name="next" value="/">' in login.content.decode()
    response = client.post("/accounts/login/", {"username": "demo", "password": "pw", "next": "/"})
    assert (response.status_code, response["Location"]) == (302, "/")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<div id="chatkit" class="django-chatkit" data-django-chatkit="' in html
    assert "&quot;prompt&quot;:&quot;Add a to-do: buy oat milk&quot;" in html
    assert '<script src="/static/example_project/demo.js" defer></script>' in html
    assert "<code>python manage.py chatkit_chat --user demo</code>" in html
    assert "offline demo model" in html
    assert "/admin/" not in html  # no admin link for a user who is not staff
    assert response.cookies["csrftoken"].value  # the chat's fetch sends it back


@EXAMPLE
@pytest.mark.django_db(transaction=True)
async def test_the_demo_records_each_answers_usage(alice: Any) -> None:
    client = AsyncChatKitClient()
    await client.force_login(alice)
    thread = assert_answered(await client.create_thread("hello")).thread
    assert thread is not None
    assert_answered(await client.add_user_message(thread, "and again"))
    rows = [row async for row in Usage.objects.filter(user=alice).order_by("pk")]
    # The first answer, the title, the second answer: the offline model's real numbers.
    assert [(row.model, row.requests) for row in rows] == [("offline-demo", 1)] * 3
    assert all(row.input_tokens > 50 and row.output_tokens > 10 for row in rows)
    assert rows[2].input_tokens > rows[0].input_tokens  # the history grew
    daily = await DailyUsage.objects.aget(user=alice)
    assert daily.answers == 3
    assert daily.total_tokens == sum(row.total_tokens for row in rows)
