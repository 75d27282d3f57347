"""The protocol endpoint through Django's test client: every error path, the request log
line, and a token-authenticated endpoint built on the ``get_context()`` hook
(``tests.support.token_site``); the error paths test_live_servers.py does not take,
through live servers on both paths (Django's handler, the lean path). The token endpoint
on the lean path: test_lean.py."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from chatkit import types as ck
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient

from django_chatkit.context import ChatKitContext
from django_chatkit.models import Attachment, Thread, ThreadItem
from django_chatkit.store import DjangoStore
from tests.support.live import LiveServer, live_client, request_log
from tests.support.protocol import add_message, is_delta, new_thread, parse_sse, post, stream
from tests.support.servers import ScriptedServer
from tests.support.token_site import token_signer

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/chatkit/"


class ExplodingServer(ScriptedServer):
    async def add_feedback(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")


async def thread_with_an_answer(client: AsyncClient) -> tuple[str, str]:
    """A new thread's id and its assistant message's."""
    events = await stream(client, new_thread("echo hi"))
    answer = next(
        e["item"]["id"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    )
    return events[0]["thread"]["id"], answer


def error(response: Any) -> tuple[int, dict[str, Any]]:
    assert response["Content-Type"] == "application/json"
    assert b"Traceback" not in response.content
    return response.status_code, json.loads(response.content)


@pytest.fixture
async def foreign_thread(bob: Any) -> str:
    client = AsyncClient()
    await client.aforce_login(bob)
    events = await stream(client, new_thread("echo private"))
    return events[0]["thread"]["id"]


async def item_types(thread_id: str) -> list[str]:
    rows = ThreadItem.objects.filter(thread__chatkit_id=thread_id).order_by("created_at", "id")
    return [item_type async for item_type in rows.values_list("type", flat=True)]


async def test_other_methods_are_405_with_allow_header() -> None:
    client = AsyncClient()
    for method in ("get", "put", "patch", "delete", "options"):
        response = await getattr(client, method)(URL)
        assert error(response) == (
            405,
            {
                "error": "method_not_allowed",
                "message": f"{method.upper()} is not allowed; use POST.",
            },
        )
        assert response["Allow"] == "POST"


async def test_anonymous_is_401() -> None:
    response = await post(AsyncClient(), {"type": "threads.list", "params": {}})
    assert error(response) == (
        401,
        {
            "error": "not_authenticated",
            "message": "Authentication required.",
            "login_url": "/accounts/login/",
        },
    )


async def test_session_requests_need_a_csrf_token(alice: Any) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(alice)
    body = {"type": "threads.list", "params": {}}

    assert error(await post(client, body)) == (
        403,
        {"error": "forbidden", "message": "CSRF verification failed: CSRF cookie not set."},
    )
    client.cookies["csrftoken"] = "a" * 32
    assert error(await post(client, body, headers={"X-CSRFToken": "b" * 32})) == (
        403,
        {
            "error": "forbidden",
            "message": "CSRF verification failed: "
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        },
    )
    response = await post(client, body, headers={"X-CSRFToken": "a" * 32})
    assert response.status_code == 200
    assert json.loads(response.content) == {"data": [], "has_more": False}


async def test_malformed_json_is_400(chat: AsyncClient) -> None:
    assert error(await post(chat, b'{"type": "threads.list",')) == (
        400,
        {
            "error": "invalid_request",
            "message": "Invalid JSON: EOF while parsing a value at line 1 column 24",
        },
    )


async def test_invalid_request_names_the_field(chat: AsyncClient) -> None:
    response = await post(chat, {"type": "items.list", "params": {"limit": "many"}})
    assert error(response) == (
        400,
        {
            "error": "invalid_request",
            "message": "items.list.params.thread_id: Field required; "
            "items.list.params.limit: Input should be a valid integer, "
            "unable to parse string as an integer",
        },
    )


async def test_foreign_thread_is_404_exactly_like_a_missing_one(
    chat: AsyncClient, foreign_thread: str
) -> None:
    missing = "thr_doesnotexist"
    for thread_id in (foreign_thread, missing):
        expected = (404, {"error": "not_found", "message": f"Thread {thread_id} not found"})
        for body in (
            {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
            {"type": "items.list", "params": {"thread_id": thread_id}},
            {"type": "threads.update", "params": {"thread_id": thread_id, "title": "Mine"}},
            {"type": "threads.delete", "params": {"thread_id": thread_id}},
            add_message(thread_id, "echo let me in"),  # streaming: refused before the 200
        ):
            assert error(await post(chat, body)) == expected, body["type"]

    thread = await Thread.objects.aget(chatkit_id=foreign_thread)
    assert thread.title == ""
    assert await item_types(foreign_thread) == ["user_message", "assistant_message"]


async def test_foreign_attachment_is_404(chat: AsyncClient, bob: Any, alice: Any) -> None:
    await DjangoStore().save_attachment(
        ck.FileAttachment(id="atc_theirs", name="secret.pdf", mime_type="application/pdf"),
        ChatKitContext(user=bob),
    )
    response = await post(chat, new_thread("echo look", attachments=["atc_theirs"]))
    assert error(response) == (
        404,
        {"error": "not_found", "message": "Attachment atc_theirs not found"},
    )
    assert not await Thread.objects.filter(user=alice).aexists()


@pytest.mark.parametrize("status", ["locked", "closed"])
async def test_inactive_thread_refuses_new_messages_with_409(
    chat: AsyncClient, status: str
) -> None:
    thread_id = (await stream(chat, new_thread("echo hi")))[0]["thread"]["id"]

    def set_status() -> None:
        thread = Thread.objects.get(chatkit_id=thread_id)
        thread.set_status(status, reason="moderation")
        thread.save()

    await sync_to_async(set_status)()
    assert error(await post(chat, add_message(thread_id, "echo again"))) == (
        409,
        {"error": "thread_not_active", "message": f"Thread {thread_id} is {status}"},
    )
    assert await item_types(thread_id) == ["user_message", "assistant_message"]


async def test_retry_after_a_non_user_item_is_400(chat: AsyncClient) -> None:
    thread_id, answer = await thread_with_an_answer(chat)
    body = {
        "type": "threads.retry_after_item",
        "params": {"thread_id": thread_id, "item_id": answer},
    }
    assert error(await post(chat, body)) == (
        400,
        {"error": "invalid_request", "message": f"Item {answer} is not a user message"},
    )


async def test_body_over_the_limit_is_413(chat: AsyncClient, settings: Any) -> None:
    settings.CHATKIT_MAX_REQUEST_BYTES = 100
    body = {"type": "threads.list", "params": {}, "metadata": {"note": "x" * 100}}
    assert error(await post(chat, body)) == (
        413,
        {"error": "request_too_large", "message": "The request body exceeds 100 bytes."},
    )
    response = await post(chat, {"type": "threads.list", "params": {}})  # 40 bytes
    assert response.status_code == 200


async def test_unimplemented_operation_is_501(chat: AsyncClient) -> None:
    body = {
        "type": "input.transcribe",
        "params": {"audio_base64": "AAAA", "mime_type": "audio/webm"},
    }
    assert error(await post(chat, body)) == (
        501,
        {"error": "not_implemented", "message": "This server does not support input.transcribe."},
    )


@pytest.mark.parametrize(
    ("audio", "reason"),
    [
        ("A", "Invalid base64-encoded string: number of data characters (1) cannot be 1 more"),
        ("AAA", "Incorrect padding"),
        ("\u0080", "string argument should contain only ASCII characters"),
    ],
)
async def test_transcribing_audio_that_is_not_base64_is_400(
    chat: AsyncClient, audio: str, reason: str
) -> None:
    body = {
        "type": "input.transcribe",
        "params": {"audio_base64": audio, "mime_type": "audio/webm"},
    }
    status, answer = error(await post(chat, body))
    assert (status, answer["error"]) == (400, "invalid_request")
    assert answer["message"].startswith(f"params.audio_base64 is not base64: {reason}")


async def test_a_sync_action_sent_by_an_item_that_is_not_a_widget_is_400(
    chat: AsyncClient,
) -> None:
    thread_id, answer = await thread_with_an_answer(chat)
    body = {
        "type": "threads.sync_custom_action",
        "params": {"thread_id": thread_id, "item_id": answer, "action": {"type": "confirm"}},
    }
    assert error(await post(chat, body)) == (
        400,
        {"error": "invalid_request", "message": f"Item {answer} is not a widget"},
    )


async def test_unexpected_error_is_500_without_details(
    chat: AsyncClient, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHATKIT_SERVER = "tests.views.test_endpoint.ExplodingServer"
    body = {
        "type": "items.feedback",
        "params": {"thread_id": "thr_x", "item_ids": ["msg_x"], "kind": "positive"},
    }
    with caplog.at_level(logging.INFO, logger="django_chatkit"):
        response = await post(chat, body)

    assert error(response) == (
        500,
        {"error": "internal_error", "message": "An unexpected error occurred."},
    )
    assert b"secret internals" not in response.content
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert failure.name == "django_chatkit"
    assert failure.getMessage() == "ChatKit request failed (op=items.feedback)"
    assert failure.exc_info is not None and "secret internals" in str(failure.exc_info[1])


async def test_one_log_line_per_request_without_content(
    chat: AsyncClient, alice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "echo my-password-is-hunter2"
    with caplog.at_level(logging.INFO, logger="django_chatkit"):
        events = await stream(chat, new_thread(secret))
        thread_id = events[0]["thread"]["id"]
        await post(chat, {"type": "threads.get_by_id", "params": {"thread_id": "thr_nope"}})
        await stream(chat, add_message(thread_id, "fail"))

    lines = [r for r in caplog.records if r.name == "django_chatkit"]
    assert all("hunter2" not in r.getMessage() for r in caplog.records)
    assert [r.levelno for r in lines] == [logging.INFO, logging.INFO, logging.INFO]
    created, missing, failed = lines
    assert created.getMessage().startswith(
        f"chatkit op=threads.create user={alice.pk} thread={thread_id} status=200 "
        "outcome=completed duration_ms="
    )
    assert missing.getMessage().startswith(
        f"chatkit op=threads.get_by_id user={alice.pk} thread=thr_nope status=404 duration_ms="
    )
    assert failed.getMessage().startswith(
        f"chatkit op=threads.add_user_message user={alice.pk} thread={thread_id} status=200 "
        "outcome=error duration_ms="
    )
    assert created.chatkit_op == "threads.create"
    assert created.chatkit_user_id == alice.pk
    assert created.chatkit_thread_id == thread_id
    assert created.chatkit_status == 200
    assert created.chatkit_outcome == "completed"
    assert created.chatkit_duration_ms >= 0


async def test_keepalive_comments_while_the_responder_is_silent(
    chat: AsyncClient, settings: Any, tmp_path: Any
) -> None:
    settings.CHATKIT_SSE_KEEPALIVE = 0.05
    gate = tmp_path / "gate"
    response = await post(chat, new_thread(f"gate {gate}"))
    chunks = aiter(response.streaming_content)
    async for chunk in chunks:
        if any(is_delta(event, "before-gate ") for event in parse_sse(chunk)):
            break
    # The responder waits on the gate: nothing but keep-alive comments can come now.
    assert await anext(chunks) == b": keep-alive\n\n"
    assert await anext(chunks) == b": keep-alive\n\n"
    gate.touch()
    rest = [chunk async for chunk in chunks if chunk != b": keep-alive\n\n"]
    assert any(is_delta(event, "after-gate") for event in parse_sse(b"".join(rest)))


@pytest.mark.urls("tests.support.token_site")
async def test_bearer_token_endpoint_through_get_context(alice: Any, chat: AsyncClient) -> None:
    client = AsyncClient(enforce_csrf_checks=True)  # no session, no CSRF token
    url = "/api/chatkit/"
    listing = {"type": "threads.list", "params": {}}
    unauthenticated = (
        401,
        {
            "error": "not_authenticated",
            "message": "Authentication required.",
            "login_url": "/accounts/login/",
        },
    )
    assert error(await post(client, listing, url)) == unauthenticated
    bad = {"Authorization": "Bearer " + token_signer.sign("999")[:-1] + "x"}
    assert error(await post(client, listing, url, headers=bad)) == unauthenticated

    auth = {"Authorization": f"Bearer {token_signer.sign(str(alice.pk))}"}
    events = await stream(client, new_thread("echo from the app"), url, headers=auth)
    thread_id = events[0]["thread"]["id"]
    thread = await Thread.objects.aget(chatkit_id=thread_id)
    assert (thread.user_id, thread.scope) == (alice.pk, "api")
    listed = json.loads((await post(client, listing, url, headers=auth)).content)
    assert [t["id"] for t in listed["data"]] == [thread_id]
    # The session endpoint keeps its own history (scope ""): the thread is not there.
    assert json.loads((await post(chat, listing)).content)["data"] == []


@pytest.mark.urls("tests.support.token_site")
async def test_bearer_token_direct_upload_through_the_same_hook(alice: Any) -> None:
    client = AsyncClient(enforce_csrf_checks=True)  # no session, no CSRF token
    url = "/api/chatkit/upload/"
    note = SimpleUploadedFile("note.txt", b"hello", content_type="text/plain")
    assert (await client.post(url, {"file": note})).status_code == 401

    auth = {"Authorization": f"Bearer {token_signer.sign(str(alice.pk))}"}
    note = SimpleUploadedFile("note.txt", b"hello", content_type="text/plain")
    response = await client.post(url, {"file": note}, headers=auth)
    assert response.status_code == 200, response.content
    stored = await Attachment.objects.aget(chatkit_id=response.json()["id"])
    assert (stored.user_id, stored.scope, stored.name) == (alice.pk, "api", "note.txt")


async def test_unreadable_stored_data_is_500_not_a_client_error(
    chat: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A payload the SDK cannot read (e.g. written by another SDK version) is the
    server's problem: 500 and logged, not a 400 blaming the request."""
    thread_id = (await stream(chat, new_thread("echo hi")))[0]["thread"]["id"]
    await Thread.objects.filter(chatkit_id=thread_id).aupdate(payload='{"id": 1}')

    with caplog.at_level(logging.INFO, logger="django_chatkit"):
        response = await post(
            chat, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
        )
    assert error(response) == (
        500,
        {"error": "internal_error", "message": "An unexpected error occurred."},
    )
    assert any(r.levelno == logging.ERROR for r in caplog.records if r.name == "django_chatkit")


async def test_answering_a_structured_input_twice_is_400(chat: AsyncClient, alice: Any) -> None:
    thread_id = (await stream(chat, new_thread("echo hi")))[0]["thread"]["id"]
    question = ck.StructuredInputItem(
        id="si_1",
        thread_id=thread_id,
        created_at=datetime.now(),
        status="answered",
        inputs=[ck.StructuredInputFreeform(id="q1", question="Why?")],
    )
    await DjangoStore().add_thread_item(thread_id, question, ChatKitContext(user=alice))
    body = {
        "type": "threads.add_structured_input",
        "params": {"thread_id": thread_id, "item_id": "si_1", "input": {"answers": {}}},
    }
    assert error(await post(chat, body)) == (  # refused before the stream starts
        400,
        {"error": "invalid_request", "message": "Structured input item si_1 is not pending"},
    )


def test_error_paths_through_a_live_server(endpoint_server: LiveServer, alice: Any) -> None:
    with live_client(endpoint_server, alice) as client:
        created = client.post(URL, json=new_thread("echo hi"))
        events = parse_sse(created.content)
        thread_id = events[0]["thread"]["id"]
        answer = next(
            e["item"]["id"]
            for e in events
            if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
        )
        cases = [
            (
                {"type": "items.list", "params": {"limit": "many"}},
                400,
                {
                    "error": "invalid_request",
                    "message": "items.list.params.thread_id: Field required; "
                    "items.list.params.limit: Input should be a valid integer, "
                    "unable to parse string as an integer",
                },
            ),
            (
                {
                    "type": "threads.retry_after_item",
                    "params": {"thread_id": thread_id, "item_id": answer},
                },
                400,
                {"error": "invalid_request", "message": f"Item {answer} is not a user message"},
            ),
            (
                {
                    "type": "input.transcribe",
                    "params": {"audio_base64": "AAAA", "mime_type": "audio/webm"},
                },
                501,
                {
                    "error": "not_implemented",
                    "message": "This server does not support input.transcribe.",
                },
            ),
        ]
        for body, status, answer_json in cases:
            response = client.post(URL, json=body)
            assert response.headers["content-type"] == "application/json"
            assert (response.status_code, response.json()) == (status, answer_json), body["type"]
        thread = Thread.objects.get(chatkit_id=thread_id)
        thread.set_status("locked", reason="moderation")
        thread.save()
        response = client.post(URL, json=add_message(thread_id, "echo again"))
        assert (response.status_code, response.json()) == (
            409,
            {"error": "thread_not_active", "message": f"Thread {thread_id} is locked"},
        )

    assert sorted(ThreadItem.objects.values_list("type", flat=True)) == [
        "assistant_message",
        "user_message",
    ]
    assert sorted(request_log(endpoint_server, 5)) == sorted(
        [
            ("threads.create", str(alice.pk), thread_id, "200", "completed"),
            ("-", str(alice.pk), "-", "400", ""),  # not parsed: no operation
            ("threads.add_user_message", str(alice.pk), thread_id, "409", ""),
            ("threads.retry_after_item", str(alice.pk), thread_id, "400", ""),
            ("input.transcribe", str(alice.pk), "-", "501", ""),
        ]
    )
