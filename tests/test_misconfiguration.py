"""A wrong ``CHATKIT_SERVER`` at run time, where no system check ran (daphne, uvicorn):
each request is a 500 whose message, with ``DEBUG``, names the problem; the log says it
once, at ERROR; and ``get_server()`` in ``asgi.py`` stops the server at startup."""

from __future__ import annotations

import logging
import subprocess
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, override_settings

from django_chatkit.server import import_server_class
from tests.support.live import (
    APPLICATION,
    COMMANDS,
    LiveServer,
    live_client,
    server_env,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS_LIST = {"type": "threads.list", "params": {"limit": 5}}
CHAT = {"type": "threads.create", "params": {"input": {"content": [], "attachments": [],
        "inference_options": {}}}}  # fmt: skip
NOT_IMPORTABLE = (
    "CHATKIT_SERVER = 'tests.nowhere.Server' could not be imported: "
    "ModuleNotFoundError(\"No module named 'tests.nowhere'\")"
)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (None, "CHATKIT_SERVER is not set: name your ChatKitServer subclass"),
        ("tests.nowhere.Server", NOT_IMPORTABLE),
        ("tests.support.broken_server.Server", "CHATKIT_SERVER = "
         "'tests.support.broken_server.Server' could not be imported: "
         "RuntimeError('broken on import')"),
        ("django_chatkit.conf.conf", "CHATKIT_SERVER = 'django_chatkit.conf.conf' is not a "
         "subclass of chatkit.server.ChatKitServer."),
        ("django_chatkit.server.DjangoChatKitServer", "CHATKIT_SERVER = "
         "'django_chatkit.server.DjangoChatKitServer' is abstract: implement respond."),
    ],
)  # fmt: skip
def test_every_wrong_server_setting_is_an_error_that_names_it(path: Any, problem: str) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        import_server_class(path)
    assert str(raised.value).startswith(problem)


@pytest.fixture
async def client() -> AsyncClient:
    user = await get_user_model().objects.acreate_user("alice", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    return client


@pytest.mark.parametrize("debug", [True, False])
async def test_a_request_names_the_problem_with_debug_and_logs_it_once(
    client: AsyncClient, caplog: pytest.LogCaptureFixture, debug: bool
) -> None:
    path = f"tests.nowhere.Server{int(debug)}"  # a problem of its own: logged afresh
    with (
        override_settings(CHATKIT_SERVER=path, DEBUG=debug),
        caplog.at_level(logging.INFO, logger="django_chatkit"),
    ):
        answers = [
            await client.post("/chatkit/", body, content_type="application/json")
            for body in (THREADS_LIST, CHAT, THREADS_LIST)
        ]
    problem = f"CHATKIT_SERVER = {path!r} could not be imported: "
    for response in answers:
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error"
        if debug:
            assert response.json()["message"].startswith(
                f"django_chatkit is misconfigured: {problem}"
            )
            assert response.json()["message"].endswith(" (shown because DEBUG = True)")
        else:
            assert response.json()["message"] == "An unexpected error occurred."
    # (django.request adds its "Internal Server Error: /chatkit/" for every 500, as for
    # any view: that line does not say what is wrong.)
    errors = [
        r for r in caplog.records if r.name == "django_chatkit" and r.levelno >= logging.WARNING
    ]
    assert [(r.levelname, r.getMessage()[:70]) for r in errors] == [
        ("ERROR", f"django_chatkit is misconfigured: {problem}"[:70])
    ]
    assert errors[0].exc_info is not None  # with the traceback, once
    statuses = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chatkit op=")]
    assert len(statuses) == 3 and all(" status=500 " in line for line in statuses)


async def test_an_anonymous_request_is_still_a_401() -> None:
    with override_settings(CHATKIT_SERVER="tests.nowhere.Anonymous", DEBUG=True):
        response = await AsyncClient().post(
            "/chatkit/", THREADS_LIST, content_type="application/json"
        )
    assert response.status_code == 401  # who is not logged in learns nothing of the setup


@pytest.fixture(scope="module", params=sorted(COMMANDS))
def misconfigured_server(request: pytest.FixtureRequest, django_db_setup, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"misconfigured-{request.param}")
    (directory / "media").mkdir()
    env = server_env(directory / "media")
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings.misconfigured"
    server = start_server(request.param, env, directory / "server.log")
    try:
        yield server
    finally:
        stop_server(server)


def test_live_server_answers_the_problem_and_logs_it_once(
    misconfigured_server: LiveServer, django_user_model
) -> None:
    user = django_user_model.objects.create_user("bob", password="pw")
    with live_client(misconfigured_server, user) as http:
        answers = [http.post("/chatkit/", json=body) for body in (THREADS_LIST, CHAT)]
    for response in answers:
        assert response.status_code == 500
        assert response.json() == {
            "error": "internal_error",
            "message": f"django_chatkit is misconfigured: {NOT_IMPORTABLE} "
            "(shown because DEBUG = True)",
        }
    log = misconfigured_server.log()  # (daphne copies each record to its own root handler)
    line = f"ERROR django_chatkit django_chatkit is misconfigured: {NOT_IMPORTABLE}\n"
    assert log.count(line) == 1, log
    assert log.count("INFO django_chatkit chatkit op=") == 2, log


@pytest.mark.parametrize("kind", sorted(COMMANDS))
def test_get_server_in_asgi_py_stops_the_server_at_startup(kind: str, tmp_path) -> None:
    env = server_env(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings.misconfigured"
    command = [part.format(port=0) for part in COMMANDS[kind]]
    command[command.index(APPLICATION)] = "tests.support.asgi_startup:application"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode != 0
    output = finished.stdout + finished.stderr
    # ServerSettingError is the ImproperlyConfigured that names the setting's check.
    assert f"django_chatkit.exceptions.ServerSettingError: {NOT_IMPORTABLE}" in output
