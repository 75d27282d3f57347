"""Real ASGI servers (daphne, uvicorn) serving ``tests.support.asgi`` on loopback.

The ``asgi_server`` fixture starts one server process per test module and server kind
(tests using it run once under daphne, once under uvicorn). The ``endpoint_server``
fixture does the same on both paths of the protocol endpoint: Django's handler
(``tests.support.asgi``) and the lean path (``tests.support.asgi_lean``,
django_chatkit.asgi), so its tests run four times (``daphne``, ``daphne-lean``,
``uvicorn``, ``uvicorn-lean``). Both serve the settings module named by the
``live_settings`` fixture, which a test module overrides to serve other settings.

The process uses this test run's database (``CHATKIT_LIVE_DB_NAME``), so tests that talk
to it must commit what they create: mark them ``django_db(transaction=True)``.
``live_client(server, user)`` returns an ``httpx.Client`` logged in as ``user`` through a
real session cookie, with a CSRF cookie and header, as the ChatKit web component sends
them.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.db import connection
from django.test import Client
from django.utils.crypto import get_random_string

from django_chatkit.asgi import ChatKitRouter
from tests.support import ROOT

APPLICATION = "tests.support.asgi:application"
LEAN_APPLICATION = "tests.support.asgi_lean:application"  # the endpoint on django_chatkit.asgi
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
TIMEOUT = httpx.Timeout(20.0)

COMMANDS: dict[str, list[str]] = {
    "daphne": [sys.executable, "-m", "daphne", "-b", HOST, "-p", "{port}", APPLICATION],
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        APPLICATION,
        "--host",
        HOST,
        "--port",
        "{port}",
        "--lifespan",
        "off",
        "--timeout-graceful-shutdown",
        "2",
    ],
}


@dataclass
class LiveServer:
    """A running ASGI server process; ``url`` is the ChatKit endpoint."""

    kind: str  # "daphne" or "uvicorn"
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    lean: bool = False  # serves LEAN_APPLICATION
    media_root: Path | None = None  # its MEDIA_ROOT, where a fixture set one
    base_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = f"http://{HOST}:{self.port}"

    @property
    def name(self) -> str:
        """The server kind and the endpoint's path: ``daphne``, ``uvicorn-lean``..."""
        return f"{self.kind}-lean" if self.lean else self.kind

    @property
    def url(self) -> str:
        return f"{self.base_url}/chatkit/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# The request log line of django_chatkit.views (in a server's log, its handler's copy).
REQUEST_LOG_LINE = re.compile(
    r"^chatkit op=(\S+) user=(\S+) thread=(\S+) status=(\d+)(?: outcome=(\S+))? duration_ms=",
    re.MULTILINE,
)


def log_lines(
    server: LiveServer, pattern: re.Pattern[str], count: int, start: int = 0
) -> list[tuple[str, ...]]:
    """The groups of ``pattern``'s matches in the server's log from offset ``start``, once
    there are ``count`` of them; fails if there are not exactly ``count`` after
    ``START_TIMEOUT`` (a stream logs when it ends, maybe after its last byte reached the
    client)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        found = [match.groups("") for match in pattern.finditer(server.log()[start:])]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(0.05)


def request_log(server: LiveServer, count: int, start: int = 0) -> list[tuple[str, ...]]:
    """The fields (op, user, thread, status, outcome) of ``count`` request log lines."""
    return log_lines(server, REQUEST_LOG_LINE, count, start)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_command(kind: str, port: int, *, lean: bool = False) -> list[str]:
    """The command line of a ``kind`` server on ``port`` (the lean application if ``lean``)."""
    application = LEAN_APPLICATION if lean else APPLICATION
    return [
        application if part == APPLICATION else part.format(port=port) for part in COMMANDS[kind]
    ]


def launch_server(
    kind: str, env: dict[str, str], log_path: Path, *, lean: bool = False
) -> LiveServer:
    """Start a ``kind`` server on a free port (without waiting for it: ``wait_listening``)."""
    port = free_port()
    command = server_command(kind, port, lean=lean)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return LiveServer(kind, port, process, log_path, lean)


def wait_listening(server: LiveServer, timeout: float = START_TIMEOUT) -> LiveServer:
    """Wait until ``server`` accepts connections (stopping it if it never does)."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.kind} exited with {server.process.returncode}:\n{server.log()}"
            )
        try:
            with socket.create_connection((HOST, server.port), timeout=0.5):
                return server
        except OSError:
            if time.monotonic() > deadline:
                stop_server(server)
                raise RuntimeError(
                    f"{server.kind} did not listen on {server.port}:\n{server.log()}"
                ) from None
            time.sleep(0.05)


def start_server(
    kind: str, env: dict[str, str], log_path: Path, *, lean: bool = False
) -> LiveServer:
    """Start a ``kind`` server on a free port and wait until it accepts connections."""
    return wait_listening(launch_server(kind, env, log_path, lean=lean))


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def server_env(media_root: Path, settings_module: str = "tests.settings") -> dict[str, str]:
    """The environment of a server process: this run's settings, database and media."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        CHATKIT_LIVE_DB_NAME=str(connection.settings_dict["NAME"]),
        CHATKIT_MEDIA_ROOT=str(media_root),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="module")
def live_settings() -> str:
    """The settings module of this module's live servers (override it in a module)."""
    return "tests.settings"


def launch_module_server(
    tmp_path_factory: pytest.TempPathFactory,
    kind: str,
    settings_module: str,
    *,
    lean: bool,
    **extra_env: str,
) -> LiveServer:
    """A ``kind`` server of ``settings_module`` (with ``extra_env``) in its own folder
    (log, media), started but not waited for."""
    directory = tmp_path_factory.mktemp(f"live-{kind}{'-lean' if lean else ''}")
    (directory / "media").mkdir()
    env = server_env(directory / "media", settings_module)
    env.update(extra_env)
    server = launch_server(kind, env, directory / "server.log", lean=lean)
    server.media_root = directory / "media"
    return server


@contextlib.contextmanager
def module_server(
    tmp_path_factory: pytest.TempPathFactory,
    kind: str,
    settings_module: str,
    *,
    lean: bool,
    **extra_env: str,
) -> Iterator[LiveServer]:
    """A ``kind`` server of ``settings_module`` (with ``extra_env``) while in the block."""
    server = launch_module_server(tmp_path_factory, kind, settings_module, lean=lean, **extra_env)
    try:
        yield wait_listening(server)
    finally:
        stop_server(server)


# Servers started ahead (see ``parametrized_server``): (fixture, module, kind, lean,
# settings module) -> the server, not yet handed to a test.
StartedAhead = dict[tuple[str, str, str, bool, str], LiveServer]


@pytest.fixture(scope="session")
def live_servers_ahead() -> Iterator[StartedAhead]:
    """The servers ``parametrized_server`` started ahead; any left are stopped at the end."""
    ahead: StartedAhead = {}
    yield ahead
    for server in ahead.values():
        stop_server(server)
    ahead.clear()


@contextlib.contextmanager
def parametrized_server(
    request: pytest.FixtureRequest,
    ahead: StartedAhead,
    tmp_path_factory: pytest.TempPathFactory,
    settings_module: str,
    paths: list[tuple[str, bool]],
) -> Iterator[LiveServer]:
    """The server of ``request.param`` (one of ``paths``: (kind, lean)) for this module,
    each module's own, as ``module_server``. pytest runs a module's tests one parameter
    after the other, in the order of ``paths``, so while this one serves the next one is
    started (its start, a couple of seconds of imports, overlaps the tests): it waits in
    ``ahead`` for the next parameter's fixture (or, unused, the next module's or the
    session's end, which stop it)."""
    module = request.node.nodeid
    for key in [key for key in ahead if key[1] != module]:
        stop_server(ahead.pop(key))  # another module's, not used (a deselected parameter)
    kind, lean = request.param
    name = request.fixturename

    def launch(kind: str, lean: bool) -> LiveServer:
        return launch_module_server(tmp_path_factory, kind, settings_module, lean=lean)

    server = ahead.pop((name, module, kind, lean, settings_module), None) or launch(kind, lean)
    try:
        wait_listening(server)
        position = paths.index((kind, lean))
        if position + 1 < len(paths):
            next_kind, next_lean = paths[position + 1]
            key = (name, module, next_kind, next_lean, settings_module)
            if key not in ahead:
                ahead[key] = launch(next_kind, next_lean)
        yield server
    finally:
        stop_server(server)


ASGI_PATHS = [(kind, False) for kind in sorted(COMMANDS)]


@pytest.fixture(scope="module", params=ASGI_PATHS, ids=[kind for kind, _ in ASGI_PATHS])
def asgi_server(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    live_settings: str,
    live_servers_ahead: StartedAhead,
) -> Iterator[LiveServer]:
    """A daphne, then a uvicorn server on loopback, sharing this run's test database."""
    with parametrized_server(
        request, live_servers_ahead, tmp_path_factory, live_settings, ASGI_PATHS
    ) as server:
        yield server


# (kind, lean): Django's handler and the lean path, under each server.
ENDPOINT_PATHS = [(kind, lean) for kind in sorted(COMMANDS) for lean in (False, True)]


@pytest.fixture(
    scope="module",
    params=ENDPOINT_PATHS,
    ids=[f"{kind}-lean" if lean else kind for kind, lean in ENDPOINT_PATHS],
)
def endpoint_server(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    live_settings: str,
    live_servers_ahead: StartedAhead,
) -> Iterator[LiveServer]:
    """``asgi_server`` on both paths of the protocol endpoint: a daphne, a lean daphne, a
    uvicorn and a lean uvicorn server (``server.name`` says which)."""
    with parametrized_server(
        request, live_servers_ahead, tmp_path_factory, live_settings, ENDPOINT_PATHS
    ) as server:
        yield server


# Django's handler and the lean path, for tests that drive the ASGI application in process.
both_paths = pytest.mark.parametrize("lean", [False, True], ids=["django", "lean"])


def asgi_application(*, lean: bool) -> Any:
    """Django's ASGI handler, or the lean path's router around it (django_chatkit.asgi)."""
    application = get_asgi_application()
    return ChatKitRouter(application) if lean else application


def live_client(server: LiveServer, user: Any = None, *, csrf: bool = True) -> httpx.Client:
    """An HTTP client for ``server``, logged in as ``user`` (if given) by session cookie."""
    cookies: dict[str, str] = {}
    headers: dict[str, str] = {}
    if user is not None:
        client = Client()
        client.force_login(user)
        cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    if csrf:
        token = get_random_string(32)
        cookies[settings.CSRF_COOKIE_NAME] = token
        headers["X-CSRFToken"] = token
    return httpx.Client(base_url=server.base_url, cookies=cookies, headers=headers, timeout=TIMEOUT)


@contextlib.contextmanager
def streamed(client: httpx.Client, body: dict[str, Any]) -> Iterator[httpx.Response]:
    with client.stream("POST", "/chatkit/", json=body) as response:
        yield response
