"""django_chatkit.testing's client against live servers: the scenarios of
tests/testing_scenarios.py through daphne and uvicorn, on Django's handler and on the
lean path (``endpoint_server``), and the two ways to log in there."""

from __future__ import annotations

from typing import Any

import pytest

from django_chatkit.testing import ChatKitClient, LoginFailed, plugin
from django_chatkit.testing.transports import LiveTransport
from tests.support import testing_scenarios
from tests.support.live import LiveServer, request_log
from tests.support.testing_scenarios import SCENARIOS, World

pytestmark = pytest.mark.django_db(transaction=True)

alice, bob = testing_scenarios.alice, testing_scenarios.bob  # fixtures

chatkit_user = plugin.chatkit_user  # the plugin's fixture (installed, pytest loads it itself)


@pytest.fixture(scope="module")
def live_settings() -> str:
    return "tests.settings.testing"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_every_method_against_a_live_server(
    endpoint_server: LiveServer,
    scenario: Any,
    alice: Any,
    bob: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def new_client() -> ChatKitClient:
        return ChatKitClient.live(endpoint_server.url)

    sent: list[str] = []  # the endpoint's requests, each logged by the server when it ends
    request = LiveTransport.request

    async def counted(self: LiveTransport, method: str, url: str, **options: Any) -> Any:
        if url == endpoint_server.url:
            sent.append(method)
        return await request(self, method, url, **options)

    monkeypatch.setattr(LiveTransport, "request", counted)
    start = len(endpoint_server.log())
    client = new_client()
    assert client.is_live and client.endpoint == endpoint_server.url
    client.force_login(alice)
    scenario(World(client, alice, bob, new_client, live=True))
    # A stream the client hung up on ends (its partial answer saved) once the server
    # notices: wait for that before the test's rows are flushed under it.
    request_log(endpoint_server, len(sent), start)


def test_login_through_the_login_form(endpoint_server: LiveServer, chatkit_user: Any) -> None:
    login_url = f"{endpoint_server.base_url}/accounts/login/"
    client = ChatKitClient.live(endpoint_server.url)
    with pytest.raises(LoginFailed, match="Please enter a correct username and password"):
        client.login("chatkit-user", "wrong", login_url=login_url)
    with pytest.raises(LoginFailed, match="shows no login form"):
        client.login("chatkit-user", "x", login_url=f"{endpoint_server.base_url}/nowhere/")
    with pytest.raises(LoginFailed, match="Pass login_url"):
        client.login("chatkit-user", plugin.CHATKIT_USER_PASSWORD)
    client.login("chatkit-user", plugin.CHATKIT_USER_PASSWORD, login_url=login_url)
    result = client.create_thread("Hello")
    assert result.ok and result.text.startswith("You said “Hello”.")
    assert [thread.id for thread in client.list_threads().data] == [result.thread_id]
    client.logout()
    assert client.create_thread("Hello").status == 401
