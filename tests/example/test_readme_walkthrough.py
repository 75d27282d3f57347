"""README.md's setup, followed literally in a fresh project ("the first hour").

In a temporary folder the package's wheel is built and installed, with its dependencies,
into a fresh virtualenv; ``django-admin startproject mysite`` makes a project, and the
marked code blocks are applied in order: those of README.md (a code block right after
``<!-- walkthrough: ACTION [PATH] -->``), then those of the documentation pages in
``DOCS_PAGES`` (a ``.. code-block::`` right after the comment
``.. walkthrough: ACTION [PATH]``), each page in its own order:

``install``        the block is ``pip install django-openai-chatkit``: the built wheel is
                   installed instead (the package index here does not have it).
``create PATH``    the block is written to ``PATH`` (relative to the project folder).
``append PATH``    the block is appended to ``PATH``.
``run``            each line is run in the project; ``check`` must be clean.
                   ``createsuperuser`` gets ``--noinput`` and the ``DJANGO_SUPERUSER_*``
                   variables: the walkthrough's only prompt.
``serve``          the server command is started on a free port (its address appended),
                   the checks for that command run against it, and it is stopped.
``curl``           the curl example, run against the development server.

The development server (``runserver``) must serve the chat page with its script; an
ordinary user logs in through the documented login page, a thread streams, the curl
example and the terminal client (``chatkit_chat --url``) work, and the admin shows the
threads. The production server (``uvicorn`` with WhiteNoise, ``DEBUG = False``) serves the
collected script and writes the request log that the documented ``LOGGING`` turns on.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT
from tests.support.live import HOST, free_port
from tests.support.protocol import parse_sse

# Its own project, venv and SQLite database: the PostgreSQL runs would repeat it exactly.
pytestmark = pytest.mark.database_independent

README = ROOT / "README.md"
# The documentation pages with walkthrough blocks, applied in this order after README.md:
# the curl example, the request log's LOGGING, the production server.
DOCS_PAGES = ("docs/endpoint.rst", "docs/logging.rst", "docs/production.rst")
README_ORIGIN = "http://127.0.0.1:8000"  # where the documented examples point
PRODUCTION_HOST = "chat.example.com"  # the ALLOWED_HOSTS of docs/production.rst
USER, PASSWORD = "demo", "demo"  # an ordinary user: not staff (the curl example's login)
ADMIN, ADMIN_PASSWORD = "admin", "admin-pw-7f3k"
INSTALL = "pip install django-openai-chatkit"
MARKDOWN_MARKER = re.compile(r"<!-- walkthrough:")
MARKDOWN_STEP = re.compile(
    r"^(?P<indent>[ \t]*)<!-- walkthrough: (?P<action>\w+)(?: (?P<path>\S+))? -->\n"
    r"(?P=indent)```\w*\n(?P<code>.*?)^(?P=indent)```$",
    re.MULTILINE | re.DOTALL,
)
RST_MARKER = re.compile(r"^[ \t]*\.\. walkthrough:", re.MULTILINE)  # a comment
# The comment, a blank line, the code-block directive, a blank line, then the block: the
# lines indented deeper than the directive (blank lines inside it included).
RST_STEP = re.compile(
    r"^(?P<indent>[ \t]*)\.\. walkthrough: (?P<action>\w+)(?: (?P<path>\S+))?\n\n"
    r"(?P=indent)\.\. code-block:: [\w-]+\n\n"
    r"(?P<code>(?:(?P=indent)[ \t]+\S.*\n|[ \t]*\n)*(?P=indent)[ \t]+\S.*\n)",
    re.MULTILINE,
)
COMMAND_TIMEOUT = 300  # seconds, for one command (the install of every dependency included)
SERVER_START_TIMEOUT = 60
HTTP_TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True)
class Step:
    action: str
    path: str | None
    code: str


def walkthrough_steps(text: str, *, rst: bool = False) -> list[Step]:
    """The marked blocks of ``text`` (Markdown, or reStructuredText with ``rst``), in
    order, without the list item's or the directive's indentation."""
    pattern, marker = (RST_STEP, RST_MARKER) if rst else (MARKDOWN_STEP, MARKDOWN_MARKER)
    steps = [
        Step(match["action"], match["path"], textwrap.dedent(match["code"]))
        for match in pattern.finditer(text)
    ]
    assert len(steps) == len(marker.findall(text)), (
        "every walkthrough marker must be followed directly by a code block"
    )
    return steps


def walkthrough() -> list[Step]:
    """Every step: README.md's, then each page's of ``DOCS_PAGES``."""
    steps = walkthrough_steps(README.read_text())
    for page in DOCS_PAGES:
        page_steps = walkthrough_steps((ROOT / page).read_text(), rst=True)
        assert page_steps, f"{page} has no walkthrough block: take it out of DOCS_PAGES"
        steps += page_steps
    return steps


def test_rst_steps_are_the_indented_code_blocks():
    text = """Intro.

- An item:

  .. walkthrough: append mysite/settings.py

  .. code-block:: python

     # mysite/settings.py
     DEBUG = False

     ALLOWED_HOSTS = ["chat.example.com"]

  .. walkthrough: run

  .. code-block:: sh

     python manage.py collectstatic --noinput
- Another item.

.. code-block:: sh

   not marked
"""
    assert walkthrough_steps(text, rst=True) == [
        Step(
            "append",
            "mysite/settings.py",
            '# mysite/settings.py\nDEBUG = False\n\nALLOWED_HOSTS = ["chat.example.com"]\n',
        ),
        Step("run", None, "python manage.py collectstatic --noinput\n"),
    ]
    with pytest.raises(AssertionError, match="followed directly by a code block"):
        walkthrough_steps(".. walkthrough: run\n\nSome prose.\n", rst=True)


def test_only_the_walked_pages_have_walkthrough_blocks():
    marked = sorted(
        str(page.relative_to(ROOT))
        for page in (ROOT / "docs").rglob("*.rst")
        if RST_MARKER.search(page.read_text())
    )
    assert marked == sorted(DOCS_PAGES), "a page's marked blocks would never be run"


@dataclass(frozen=True)
class Project:
    """The fresh project: its folder and the virtualenv that runs it."""

    directory: Path
    venv: Path

    @property
    def env(self) -> dict[str, str]:
        """A clean environment: the virtualenv first on PATH, nothing of this test run's
        settings, source tree or databases."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CHATKIT_", "PYTHON", "VIRTUAL_ENV"))
            and key not in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY")
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def run(self, argv: list[str], *, stdin: str = "", **extra_env: str) -> str:
        """Run ``argv`` in the project; its output, or a failure that shows it."""
        result = subprocess.run(
            argv,
            cwd=self.directory,
            env={**self.env, **extra_env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        assert result.returncode == 0, (
            f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout + result.stderr

    def manage(self, *args: str, stdin: str = "") -> str:
        return self.run(["python", "manage.py", *args], stdin=stdin)


@dataclass
class Server:
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def address_arguments(program: str, port: int) -> list[str]:
    if program == "python":  # python manage.py runserver
        return [f"{HOST}:{port}"]
    if program == "uvicorn":
        return ["--host", HOST, "--port", str(port)]
    if program == "daphne":
        return ["-b", HOST, "-p", str(port)]
    raise AssertionError(f"the walkthrough does not know how to serve with {program!r}")


@contextlib.contextmanager
def serving(project: Project, argv: list[str], log_path: Path) -> Iterator[Server]:
    """``argv`` on a free port until the block ends; the whole process group is stopped
    (runserver's autoreloader runs the server in a child process)."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv + address_arguments(argv[0], port),
            cwd=project.directory,
            env=project.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://{HOST}:{port}", log_path)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert process.poll() is None, f"{shlex.join(argv)} exited:\n{server.log()}"
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, (
                    f"{shlex.join(argv)} did not listen on {port}:\n{server.log()}"
                )
                time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        # The autoreloader's child shares the group: make sure it is gone too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def log_in(client: httpx.Client, login_path: str, username: str, password: str) -> None:
    """Log in through a Django login form, as a browser does."""
    page = client.get(login_path)
    assert page.status_code == 200, page.text
    answer = client.post(
        login_path,
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "next": "/",
        },
    )
    assert answer.status_code == 302, f"logging in as {username} failed:\n{answer.text}"
    assert "sessionid" in client.cookies


def chat_page_and_script(client: httpx.Client) -> str:
    """The chat page (logged in) and its script: the script's URL."""
    page = client.get("/")
    assert page.status_code == 200, page.text
    assert '<div id="chatkit" class="django-chatkit"' in page.text
    script = re.search(r'<script src="([^"]+)" defer data-django-chatkit-glue', page.text)
    assert script, page.text
    answer = client.get(script[1])
    assert answer.status_code == 200, f"{script[1]}: {answer.status_code}"
    assert "javascript" in answer.headers["content-type"]
    assert 'var ELEMENT = "openai-chatkit";' in answer.text
    return script[1]


def stream_thread(client: httpx.Client, text: str) -> list[dict]:
    """``threads.create`` through the endpoint, as the page's fetch sends it: the events."""
    body = {
        "type": "threads.create",
        "params": {
            "input": {
                "content": [{"type": "input_text", "text": text}],
                "attachments": [],
                "inference_options": {},
            }
        },
    }
    headers = {"X-CSRFToken": client.cookies["csrftoken"]}
    with client.stream("POST", "/chatkit/", json=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        return parse_sse(response.read())


def answers(events: list[dict]) -> list[str]:
    return [
        part["text"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
        for part in event["item"]["content"]
    ]


def check_development(project: Project, server: Server, steps: list[Step]) -> None:
    """``manage.py runserver``: the chat page with its script, the login of an ordinary
    user, a streamed thread, the curl example, the terminal client and the admin."""
    project.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({USER!r}, password={PASSWORD!r})",
    )
    with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT) as client:
        to_login = client.get("/")
        assert (to_login.status_code, to_login.headers["location"]) == (
            302,
            "/accounts/login/?next=/",
        )
        log_in(client, "/accounts/login/", USER, PASSWORD)
        assert chat_page_and_script(client) == "/static/django_chatkit/chatkit.js"
        events = stream_thread(client, "Hello")
        assert events[0]["type"] == "thread.created"
        assert answers(events) == [f"Hello {USER}!"]
        assert events[-1]["type"] == "thread.updated"
        assert events[-1]["thread"]["title"] == f"Chat with {USER}"

    (curl,) = [step for step in steps if step.action == "curl"]
    assert README_ORIGIN in curl.code and f"username={USER}&password={PASSWORD}" in curl.code
    output = project.run(
        ["bash", "-euo", "pipefail", "-c", curl.code.replace(README_ORIGIN, server.base_url)]
    )
    assert f'"text":"Hello {USER}!"' in output
    assert output.count('data: {"type":"thread.created"') == 1
    threads = json.loads(output.rsplit("\n\n", 1)[1])  # the last answer, after the stream
    assert [thread["title"] for thread in threads["data"]] == [f"Chat with {USER}"] * 2

    output = project.manage(
        "chatkit_chat",
        "--url",
        f"{server.base_url}/chatkit/",
        "--user",
        USER,
        "--password",
        PASSWORD,
        stdin="Hello from the terminal\n",
    )
    assert f"Logged in as {USER} at {server.base_url}/accounts/login/." in output
    assert f"assistant> Hello {USER}!" in output

    with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT) as admin:
        log_in(admin, "/admin/login/", ADMIN, ADMIN_PASSWORD)
        changelist = admin.get("/admin/django_chatkit/thread/")
        assert changelist.status_code == 200, changelist.text
        rows = [row for row in changelist.text.split("<tr")[1:] if f">Chat with {USER}<" in row]
        assert len(rows) == 3, changelist.text  # from the page's fetch, curl, the terminal
        assert all(f">{USER}<" in row for row in rows)


def check_production(project: Project, server: Server, steps: list[Step]) -> None:
    """``uvicorn`` with WhiteNoise and ``DEBUG = False``: the collected script, the chat,
    and the request log that ``LOGGING`` turns on."""
    headers = {"Host": PRODUCTION_HOST}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=HTTP_TIMEOUT) as client:
        missing = client.get("/static/django_chatkit/no-such-file.js")
        assert missing.status_code == 404  # DEBUG is off: Django's plain 404
        log_in(client, "/accounts/login/", USER, PASSWORD)
        script = chat_page_and_script(client)
        assert (project.directory / "staticfiles" / script.removeprefix("/static/")).is_file()
        assert answers(stream_thread(client, "Hello from production")) == [f"Hello {USER}!"]
    # The stream's log line is written when the stream ends, just after its last bytes.
    deadline = time.monotonic() + 15
    while not re.search(
        r"chatkit op=threads\.create user=\d+ thread=thr_\w+ status=200 outcome=completed",
        server.log(),
    ):
        assert time.monotonic() < deadline, f"no request log line:\n{server.log()}"
        time.sleep(0.1)


SERVER_CHECKS: dict[str, Callable[[Project, Server, list[Step]], None]] = {
    "runserver": check_development,
    "uvicorn": check_production,
}


def build_project(directory: Path, dist: Path) -> Project:
    """A fresh virtualenv with the built wheel (in ``dist``: ``package_dist``) installed
    (all its dependencies from the machine's package index), and ``django-admin
    startproject mysite`` in it."""
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=COMMAND_TIMEOUT)
    (wheel,) = dist.glob("django_openai_chatkit-*.whl")
    workspace = Project(directory, venv)
    workspace.run(["python", "-m", "pip", "install", "--quiet", str(wheel)])
    where = workspace.run(["python", "-c", "import django_chatkit; print(django_chatkit.__file__)"])
    assert where.startswith(str(venv)), f"not the installed wheel: {where}"
    workspace.run(["django-admin", "startproject", "mysite"])
    return Project(directory / "mysite", venv)


def run_lines(project: Project, code: str) -> None:
    for line in code.splitlines():
        argv = shlex.split(line, comments=True)
        if not argv:
            continue
        if argv[-1] == "createsuperuser":
            output = project.run(
                [*argv, "--noinput"],
                DJANGO_SUPERUSER_USERNAME=ADMIN,
                DJANGO_SUPERUSER_EMAIL="admin@example.com",
                DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
            )
        else:
            output = project.run(argv)
        if argv[-1] == "check":
            assert output == "System check identified no issues (0 silenced).\n", output


def test_readme_setup_walkthrough(tmp_path: Path, package_dist: Path) -> None:
    steps = walkthrough()
    assert [step.action for step in steps][:1] == ["install"]
    served = []
    project = None
    for step in steps:
        if step.action == "install":
            assert step.code.startswith(INSTALL), step.code
            project = build_project(tmp_path, package_dist)
            continue
        assert project is not None
        if step.action == "create":
            path = project.directory / step.path
            assert not path.exists(), f"{step.path} exists already"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.code)
        elif step.action == "append":
            path = project.directory / step.path
            path.write_text(path.read_text() + "\n" + step.code)
        elif step.action == "run":
            run_lines(project, step.code)
        elif step.action == "serve":
            (line,) = step.code.strip().splitlines()
            argv = shlex.split(line, comments=True)
            check = SERVER_CHECKS[argv[2] if argv[0] == "python" else argv[0]]
            with serving(project, argv, tmp_path / f"server-{len(served)}.log") as server:
                check(project, server, steps)
            served.append(argv)
        elif step.action != "curl":  # run by the development checks
            raise AssertionError(f"unknown walkthrough action {step.action!r}")
    assert [argv[-1] for argv in served] == ["runserver", "mysite.asgi:application"]
