"""The authorization matrix: user B against everything user A owns.

One table: every protocol operation and every file view, aimed by B (B's session, or
no session where the view takes none) at A's threads, items and attachments, alone or
mixed with B's own ids. Each row must be refused (404 exactly like a missing id, or
403), leak nothing of A's content, and leave every row and stored byte of A's
unchanged. Rows marked *n/a* cannot name another user's data at all and show that.

Signed file URLs (``attachments/files/<token>/``) are bearer capabilities by design:
the ChatKit UI loads previews from an iframe of another origin without cookies, so the
URL itself is the credential. Only A's own responses contain it, it expires after
``CHATKIT_ATTACHMENT_URL_MAX_AGE`` and cannot be forged for another row (the rows below
check both: a forged token is 403, a real one serves the file to whoever holds it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signing import TimestampSigner
from django.test import AsyncClient
from django.urls import reverse

from django_chatkit.attachments.files import FILE_SALT
from django_chatkit.models import Attachment
from tests.support.live import LiveServer, live_client
from tests.support.protocol import post, user_input
from tests.support.world import World, build_world, snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Row:
    name: str
    # (A's world, B's world) -> the request B sends: a protocol body, or a callable
    # taking B's client and returning the response (file views).
    request: Callable[[World, World], Any]
    status: int
    code: str | None = None


def op(op_type: str, **params: Any) -> dict[str, Any]:
    return {"type": op_type, "params": params}


def action() -> dict[str, Any]:
    return {"type": "confirm", "payload": {"order": 7}}


async def upload_to(url: str, client: AsyncClient) -> Any:
    note = SimpleUploadedFile("evil.txt", b"evil!", content_type="text/plain")
    return await client.post(urlsplit(url).path, {"file": note})


async def image_pk(a: World) -> int:
    return await Attachment.objects.filter(chatkit_id=a.image).values_list("pk", flat=True).aget()


async def forged_file_url(a: World, client: AsyncClient) -> Any:
    """A's image row, signed with B's best guess of the key: not our SECRET_KEY."""
    signer = TimestampSigner(key="guessed-secret", salt=FILE_SALT)
    token = signer.sign_object({"p": await image_pk(a)})
    return await client.get(reverse("django_chatkit:attachment-file", kwargs={"token": token}))


async def admin_file(a: World, client: AsyncClient) -> Any:
    pk = await image_pk(a)
    url = reverse("admin:django_chatkit_attachment_file", args=[pk])
    return await client.get(url)


ROWS = [
    # threads -----------------------------------------------------------------------
    Row("threads.get_by_id", lambda a, b: op("threads.get_by_id", thread_id=a.thread), 404),
    Row("threads.list shows only B's", lambda a, b: op("threads.list", limit=100), 200),
    Row(
        "threads.list after A's thread",
        lambda a, b: op("threads.list", after=a.thread),
        404,
        "not_found",
    ),
    Row("threads.update", lambda a, b: op("threads.update", thread_id=a.thread, title="B"), 404),
    Row("threads.delete", lambda a, b: op("threads.delete", thread_id=a.thread), 404),
    # items -------------------------------------------------------------------------
    Row("items.list", lambda a, b: op("items.list", thread_id=a.thread), 404),
    Row(
        "items.list of B's thread after A's item",
        lambda a, b: op("items.list", thread_id=b.thread, after=a.answer),
        404,
    ),
    Row(
        "items.feedback",
        lambda a, b: op("items.feedback", thread_id=a.thread, item_ids=[a.answer], kind="negative"),
        404,
    ),
    Row(
        "items.feedback on B's thread naming A's item",
        lambda a, b: op(
            "items.feedback", thread_id=b.thread, item_ids=[b.answer, a.answer], kind="negative"
        ),
        404,
    ),
    # streaming operations: refused before the 200 ------------------------------------
    Row(
        "threads.add_user_message",
        lambda a, b: op(
            "threads.add_user_message", thread_id=a.thread, input=user_input("echo hi")
        ),
        404,
    ),
    Row(
        "threads.add_user_message to B's thread with A's attachment",
        lambda a, b: op(
            "threads.add_user_message", thread_id=b.thread, input=user_input("echo x", [a.image])
        ),
        404,
    ),
    Row(
        "threads.create with A's attachment",
        lambda a, b: op("threads.create", input=user_input("echo mine", [b.loose, a.loose])),
        404,
    ),
    Row(
        "threads.create with A's pending upload",
        lambda a, b: op("threads.create", input=user_input("echo mine", [a.pending])),
        404,
    ),
    Row(
        "threads.add_client_tool_output",
        lambda a, b: op(
            "threads.add_client_tool_output", thread_id=a.tool_thread, result={"lat": 1}
        ),
        404,
    ),
    Row(
        "threads.add_structured_input",
        lambda a, b: op(
            "threads.add_structured_input",
            thread_id=a.form_thread,
            item_id=a.form,
            input={"answers": {"q1": {"values": ["Home"]}}},
        ),
        404,
    ),
    Row(
        "threads.add_structured_input on B's thread naming A's item",
        lambda a, b: op(
            "threads.add_structured_input",
            thread_id=b.form_thread,
            item_id=a.form,
            input={"answers": {}},
        ),
        404,
    ),
    Row(
        "threads.retry_after_item",
        lambda a, b: op("threads.retry_after_item", thread_id=a.thread, item_id=a.user_message),
        404,
    ),
    Row(
        "threads.retry_after_item on B's thread naming A's item",
        lambda a, b: op("threads.retry_after_item", thread_id=b.thread, item_id=a.user_message),
        404,
    ),
    Row(
        "threads.custom_action",
        lambda a, b: op(
            "threads.custom_action", thread_id=a.thread, item_id=a.widget, action=action()
        ),
        404,
    ),
    Row(
        "threads.custom_action on B's thread naming A's widget",
        lambda a, b: op(
            "threads.custom_action", thread_id=b.thread, item_id=a.widget, action=action()
        ),
        404,
    ),
    Row(
        "threads.sync_custom_action",
        lambda a, b: op(
            "threads.sync_custom_action", thread_id=a.thread, item_id=a.widget, action=action()
        ),
        404,
    ),
    Row(
        "threads.sync_custom_action on B's thread naming A's widget",
        lambda a, b: op(
            "threads.sync_custom_action", thread_id=b.thread, item_id=a.widget, action=action()
        ),
        404,
    ),
    # attachments -------------------------------------------------------------------
    Row("attachments.delete", lambda a, b: op("attachments.delete", attachment_id=a.image), 404),
    Row(
        "attachments.delete of an unsent one",
        lambda a, b: op("attachments.delete", attachment_id=a.loose),
        404,
    ),
    Row(
        "attachments.delete of a pending upload",
        lambda a, b: op("attachments.delete", attachment_id=a.pending),
        404,
    ),
    Row(  # n/a: takes no id, creates B's own attachment
        "attachments.create (n/a)",
        lambda a, b: op("attachments.create", name="b.txt", size=3, mime_type="text/plain"),
        200,
    ),
    Row(  # n/a: names no thread or item
        "input.transcribe (n/a)",
        lambda a, b: op("input.transcribe", audio_base64="AAAA", mime_type="audio/webm"),
        501,
        "not_implemented",
    ),
    # file views --------------------------------------------------------------------
    Row(
        "two-phase upload URL of A with B's session",
        lambda a, b: lambda client: upload_to(a.pending_upload_url, client),
        403,
        "forbidden",
    ),
    Row(
        "signed file URL forged for A's image",
        lambda a, b: lambda client: forged_file_url(a, client),
        403,
        "invalid_url",
    ),
    Row(  # a capability: whoever holds A's URL may load it, as the iframe does
        "signed file URL of A (bearer capability)",
        lambda a, b: lambda client: client.get(urlsplit(a.image_url).path),
        200,
    ),
    Row(
        "admin file view, B not staff",
        lambda a, b: lambda client: admin_file(a, client),
        302,  # to the admin login
    ),
    Row(
        "admin file view, B staff without view permission",
        lambda a, b: lambda client: admin_file(a, client),
        403,
    ),
    # direct upload (n/a): takes no id; it only ever creates the caller's attachment.
]

A_SECRETS = (b"hello world", b"photo.png", b"loose.png", b"later.txt", b"Order 7", b"Where?")


@dataclass
class Answer:
    """What B got back, from Django's test client or a live server."""

    status: int
    content_type: str
    body: bytes


def answer_problems(
    row: Row, answer: Answer, a: World, b: World, files: dict[str, bytes]
) -> list[str]:
    """What is wrong with ``answer`` to ``row`` (``files``: A's stored bytes)."""
    problems = []
    if answer.status != row.status:
        problems.append(f"status {answer.status}: {answer.body[:200]!r}")
    elif row.status >= 400 and answer.content_type == "application/json":
        error = json.loads(answer.body)
        expected = row.code or ("not_found" if row.status == 404 else "forbidden")
        if error.get("error") != expected:
            problems.append(f"error {error}")
    if row.name == "threads.list shows only B's":
        listed = {thread["id"] for thread in json.loads(answer.body)["data"]}
        if listed != {b.thread, b.tool_thread, b.form_thread, b.spare_thread}:
            problems.append(f"listed {listed}")
    if row.name.startswith("signed file URL of A"):
        if answer.body not in files.values():
            problems.append("did not serve A's file to its URL's holder")
    else:
        problems += [f"leaks {secret!r}" for secret in A_SECRETS if secret in answer.body]
    a_threads = {a.thread, a.tool_thread, a.form_thread, a.spare_thread}
    if listed_a := a_threads & {t.decode() for t in _ids(answer.body)}:
        problems.append(f"names A's threads {listed_a}")
    return problems


async def build_worlds() -> tuple[World, World]:
    users = get_user_model().objects
    a = await build_world(await users.acreate_user("alice", password="pw"))
    b = await build_world(await users.acreate_user("bob", password="pw"))
    return a, b


async def test_user_b_cannot_reach_anything_of_user_a() -> None:
    a, b = await build_worlds()
    before = await snapshot(a.user)

    failures = []
    for row in ROWS:
        if row.name.startswith("admin file view, B staff"):
            b.user.is_staff = True
            await b.user.asave()
            view_own_only = await Permission.objects.aget(codename="view_thread")
            await b.user.user_permissions.aadd(view_own_only)
            await b.client.aforce_login(b.user)
        request = row.request(a, b)
        if callable(request):
            response = await request(b.client)
        else:
            response = await post(b.client, request)
        if response.streaming:  # the file view: read it (and close the file)
            body = b"".join([chunk async for chunk in response.streaming_content])
        else:
            body = response.content

        answer = Answer(response.status_code, response["Content-Type"], body)
        problems = answer_problems(row, answer, a, b, before["files"])
        if await snapshot(a.user) != before:
            problems.append("changed A's data")
            before = await snapshot(a.user)
        if problems:
            failures.append(f"{row.name}: {'; '.join(problems)}")

    assert failures == []
    await assert_a_still_can(a)


async def assert_a_still_can(a: World) -> None:
    """Nothing was refused for a reason unrelated to ownership: A still can."""
    response = await post(a.client, op("threads.get_by_id", thread_id=a.thread))
    assert response.status_code == 200
    assert [i["id"] for i in response.json()["items"]["data"]][:2] == [a.user_message, a.answer]


def test_user_b_cannot_reach_anything_of_user_a_through_a_live_server(
    endpoint_server: LiveServer, settings: Any
) -> None:
    """The protocol rows, sent by B's browser to a live server on either path. (The file
    views are Django's on both paths: tests/views/test_lean.py.) A's files are stored where
    the server keeps its own, so a wrong delete there would show."""
    settings.MEDIA_ROOT = str(endpoint_server.media_root)
    a, b = async_to_sync(build_worlds)()
    before = async_to_sync(snapshot)(a.user)

    failures = []
    sent = 0
    with live_client(endpoint_server, b.user) as client:
        for row in ROWS:
            request = row.request(a, b)
            if callable(request):
                continue
            response = client.post("/chatkit/", json=request)
            sent += 1
            answer = Answer(
                response.status_code, response.headers["content-type"], response.content
            )
            problems = answer_problems(row, answer, a, b, before["files"])
            if async_to_sync(snapshot)(a.user) != before:
                problems.append("changed A's data")
                before = async_to_sync(snapshot)(a.user)
            if problems:
                failures.append(f"{row.name}: {'; '.join(problems)}")

    assert failures == []
    assert sent == 27
    async_to_sync(assert_a_still_can)(a)


def _ids(body: bytes) -> set[bytes]:
    """Thread ids in a response (404 messages name the id B sent: not a leak)."""
    if not body.startswith(b"{") or b'"not_found"' in body:
        return set()
    return set(re.findall(rb"thr_[0-9A-Za-z]+", body))
