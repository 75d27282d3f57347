"""An offline stand-in for an OpenAI model, so the demo runs without an API key.

:class:`OfflineModel` is a :class:`~django_chatkit.testing.ScriptedModel` played by
rules instead of a list of steps: it reads the Responses-format input the runner gives
it and answers with the same ``openai.types.responses`` stream events as
``OpenAIResponsesModel``, so the whole pipeline (agent run -> ``stream_agent_response``
-> ChatKit events -> store -> SSE) is the one a real model drives. Nothing is sent
anywhere.

It is deterministic and follows keywords, not meaning:

* "add a to-do: buy milk"           -> calls the ``add_todo`` tool
* "show my to-do report"            -> calls the ``todo_report`` tool
* "switch to dark mode"             -> calls the ``switch_theme`` (client) tool
* "tell me a long story"            -> a long story, streamed in many small deltas over
                                       ``story_seconds`` (about 10 s: time to press Stop,
                                       close the tab or reload while it answers)
* after a tool ran                  -> reports its output
* anything else                     -> echoes the message and what it remembers of the
                                       thread (the history the server sent it)

A tool is only called when the agent offers it. With ``task="title"`` the model
answers with a short title for the conversation instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from django_chatkit.testing.model import ModelRequest, ScriptedModel, ToolCall
from django_chatkit.testing.responses import chunks

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
STORY = re.compile(r"\btell me a long story\b", re.I)
THEME = re.compile(r"\b(dark|light)\b.*\b(mode|theme)\b|\b(mode|theme)\b.*\b(dark|light)\b", re.I)


LONG_STORY = """\
Once upon a time, at the end of a long grey pier, there was a lighthouse that nobody had \
visited for years. Its keeper, an old woman called Maren, kept the lamp burning every \
night all the same, because, as she told the gulls, a light that waits for ships is \
still a light.

Every evening she climbed the hundred and twelve steps, wound the clockwork that turned \
the lens, trimmed the wick and wrote one line in her logbook: the wind, the weather and \
the ships she had seen. For eleven years the last column stayed empty.

One winter night a storm came in from the west. The rain hammered the windows, the \
waves climbed the rocks, and somewhere in the noise Maren heard a horn, thin and \
frightened, far out beyond the reef. She turned the lamp as bright as it would go and \
stood by the glass with her hand on the rail, counting the seconds between the flashes \
as if counting could help.

The horn came nearer. A small fishing boat, its mast bent and its nets torn, found the \
gap in the reef by the sweep of her light and slid into the harbour as the storm \
wore itself out. Three sailors and a very wet dog climbed the pier at dawn and knocked \
on her door.

Maren made them tea, dried the dog by the stove and listened to their story of the \
night. When they had gone to sleep, she opened her logbook and, for the first time in \
eleven years, wrote something in the last column: one boat, three sailors, one dog, all \
home.

From then on the fishermen of the coast told one another that the old light on the pier \
was worth steering by, and every spring they brought Maren a basket of oranges, a new \
logbook and the news of the harbour. She kept the lamp burning for many years more, and \
when she finally handed the key to a young keeper, she gave him only one piece of \
advice: keep the light on, even when nobody seems to be coming. The end.\
"""


def said_by_user(request: ModelRequest) -> list[str]:
    """What the user typed, oldest first (converter framing left out)."""
    texts = (text.strip() for text in request.texts("user"))
    return [text for text in texts if text and not text.startswith(CONVERTER_FRAMES)]


def quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def make_title(text: str, words: int = 6) -> str:
    """A short title: the first words of the first message, without trailing punctuation."""
    picked = text.split()[:words]
    title = " ".join(picked).rstrip(".,;:!?") or "New chat"
    return title[:1].upper() + title[1:]


class OfflineModel(ScriptedModel):
    """A deterministic, keyword-driven model that streams like a real one.

    ``delay`` is the pause before each streamed text delta, in seconds;
    ``words_per_delta`` how many words each delta carries. The long story is paced
    apart: its deltas are spread over ``story_seconds`` in all.
    """

    def __init__(
        self,
        task: Literal["chat", "title"] = "chat",
        *,
        delay: float = 0.02,
        words_per_delta: int = 3,
        story_seconds: float = 10.0,
    ) -> None:
        super().__init__(self.plan, words_per_delta=words_per_delta, delay=delay, name=MODEL_NAME)
        self.task = task
        self.story_seconds = story_seconds

    def wants_story(self, request: ModelRequest) -> bool:
        """Whether ``request`` asks for the long story (and is not a tool's answer)."""
        said = said_by_user(request)
        return (
            self.task == "chat"
            and request.last_tool_call is None
            and bool(said)
            and STORY.search(said[-1]) is not None
        )

    def delay_for(self, request: ModelRequest) -> float:
        if self.wants_story(request):
            return self.story_seconds / len(chunks(LONG_STORY, self.words_per_delta))
        return self.delay

    def plan(self, request: ModelRequest) -> ToolCall | str:
        said = said_by_user(request)
        if self.task == "title":
            return make_title(said[0] if said else "")
        if (call := request.last_tool_call) is not None:
            return self.after_tool(call, request.tool_output)

        if self.wants_story(request):
            return LONG_STORY
        text = said[-1] if said else ""
        tools = set(request.tool_names)
        if (match := ADD_TODO.search(text)) and "add_todo" in tools:
            title = match.group(3).strip().strip("“”\"'").rstrip(".!") or "Something to do"
            return ToolCall("add_todo", {"title": title})
        if REPORT.search(text) and "todo_report" in tools:
            return ToolCall("todo_report")
        if (match := THEME.search(text)) and "switch_theme" in tools:
            return ToolCall("switch_theme", {"theme": (match.group(1) or match.group(4)).lower()})
        return self.chat_reply(said)

    def after_tool(self, call: dict[str, Any], output: Any) -> str:
        name = call.get("name", "tool")
        if not isinstance(output, str):
            output = json.dumps(output)
        if name == "add_todo":
            return f"Done! {output} Edit it in the form above and press Save."
        if name == "todo_report":
            return f"Here is your report: {output}"
        if name == "switch_theme":
            theme = call["arguments"].get("theme", "new")
            return f"Switched to the {theme} theme. The browser answered {output}."
        return f"The tool {name} returned: {output}"

    def chat_reply(self, said: Iterable[str]) -> str:
        *earlier, current = list(said) or [""]
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
