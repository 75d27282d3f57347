"""Upload -> attach -> preview without cookies -> delete, through a live uvicorn server,
on local disk and on S3 (moto's server on loopback), with both upload strategies.

Each test prints its HTTP transcript (``pytest -s tests/attachments/test_live.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_chatkit.attachments.files import file_url
from django_chatkit.models import Attachment
from tests.support.attachments import PNG, TEXT, create_request, delete_request
from tests.support.live import LiveServer, live_client, server_env, start_server, stop_server
from tests.support.protocol import new_thread, parse_sse
from tests.support.s3 import BUCKET, S3Server

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class AttachmentServer:
    kind: str  # "local" or "s3"
    server: LiveServer
    media: Path
    s3: S3Server

    def stored(self) -> list[str]:
        if self.kind == "s3":
            return self.s3.object_keys()
        return sorted(str(p) for p in self.media.rglob("*") if p.is_file())


@pytest.fixture(scope="module", params=["local", "s3"])
def attachment_server(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    moto_s3: S3Server,
) -> Iterator[AttachmentServer]:
    kind = request.param
    directory = tmp_path_factory.mktemp(f"attachments-{kind}")
    media = directory / "media"
    media.mkdir()
    env = server_env(media)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings.attachments"
    if kind == "s3":
        env.update(CHATKIT_TEST_S3_ENDPOINT=moto_s3.endpoint, CHATKIT_TEST_S3_BUCKET=BUCKET)
    server = start_server("uvicorn", env, directory / "server.log")
    try:
        yield AttachmentServer(kind, server, media, moto_s3)
    finally:
        stop_server(server)


@pytest.fixture
def live(attachment_server: AttachmentServer, s3: S3Server) -> AttachmentServer:
    for path in attachment_server.media.rglob("*"):
        if path.is_file():
            path.unlink()
    return attachment_server


def _show(content: bytes, content_type: str) -> str:
    if content_type.startswith("text/event-stream"):
        events = parse_sse(content)
        return "\n".join(
            f"    data: {json.dumps(e) if 'attachments' in json.dumps(e) else json.dumps(e)[:120]}"
            for e in events
        )
    if content_type.startswith(("application/json", "text/")):
        text = content.decode(errors="replace")
        return "    " + (text if len(text) < 400 else text[:400] + "...")
    return f"    <{len(content)} bytes of {content_type or 'data'}>"


@dataclass
class Transcript:
    title: str
    lines: list[str] = field(default_factory=list)
    clients: list[httpx.Client] = field(default_factory=list)

    def hook(self, who: str) -> dict[str, list[Any]]:
        def on_response(response: httpx.Response) -> None:
            response.read()
            request = response.request
            cookies = request.headers.get("cookie")
            auth = "session cookie + X-CSRFToken" if cookies else "no cookies"
            self.lines.append(f"> {request.method} {request.url}   [{who}: {auth}]")
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("multipart/"):
                length = request.headers.get("content-length", "?")
                self.lines.append(f"    <multipart/form-data, field 'file', {length} bytes>")
            elif request.content:
                self.lines.append(_show(request.content, content_type))
            self.lines.append(f"< {response.status_code} {response.reason_phrase}")
            for name in (
                "content-type",
                "content-disposition",
                "x-content-type-options",
                "location",
            ):
                if name in response.headers:
                    value = response.headers[name]
                    self.lines.append(f"  {name}: {value[:160]}{'...' if len(value) > 160 else ''}")
            body = _show(response.content, response.headers.get("content-type", ""))
            if response.content:
                self.lines.append(body)
            self.lines.append("")

        return {"response": [on_response]}

    def client(self, server: LiveServer, user: Any = None, who: str = "") -> httpx.Client:
        client = (
            live_client(server, user)
            if user is not None
            else httpx.Client(base_url=server.base_url, timeout=20)
        )
        client.event_hooks = self.hook(who or ("browser" if user else "iframe"))
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        print(f"\n===== {self.title} =====\n" + "\n".join(self.lines))


@pytest.fixture
def transcript(request: pytest.FixtureRequest, live: AttachmentServer) -> Iterator[Transcript]:
    """Records every request and response; printed at the end (``pytest -s``)."""
    recorder = Transcript(f"{request.node.name}: {live.kind}")
    try:
        yield recorder
    finally:
        recorder.close()


def send(client: httpx.Client, text: str, attachment_ids: list[str]) -> tuple[str, dict]:
    response = client.post("/chatkit/", json=new_thread(text, attachment_ids))
    assert response.status_code == 200, response.text
    events = parse_sse(response.content)
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    message = next(
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "user_message"
    )
    return thread_id, message


def preview(transcript: Transcript, live: AttachmentServer, url: str) -> httpx.Response:
    """Fetch a preview as the ChatKit iframe does: no cookies, following a redirect."""
    iframe = transcript.client(live.server, who="iframe")
    response = iframe.get(url)
    if response.status_code == 302:
        assert live.kind == "s3"
        response = iframe.get(response.headers["location"])
    return response


def test_direct_upload_attach_preview_delete(live: AttachmentServer, transcript, alice, bob):
    browser = transcript.client(live.server, alice, "alice")
    files = {"file": ("../../cat.png", PNG, "image/png")}

    uploaded = browser.post("/chatkit/attachments/upload/", files=files)
    assert uploaded.status_code == 200, uploaded.text
    attachment = uploaded.json()
    assert attachment["name"] == "cat.png" and "metadata" not in attachment
    assert len(live.stored()) == 1 and "cat" not in live.stored()[0]

    stolen = transcript.client(live.server, bob, "bob").post(
        "/chatkit/", json=new_thread("echo mine", [attachment["id"]])
    )
    assert stolen.status_code == 404

    _, message = send(browser, "echo what is this?", [attachment["id"]])
    preview_url = message["attachments"][0]["preview_url"]
    assert preview_url.startswith(live.server.base_url + "/chatkit/attachments/files/")

    shown = preview(transcript, live, preview_url)
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline")

    deleted = browser.post("/chatkit/", json=delete_request(attachment["id"]))
    assert deleted.status_code == 200
    assert live.stored() == []
    assert preview(transcript, live, preview_url).status_code == 404


def test_two_phase_upload_attach_preview_delete(
    live: AttachmentServer, transcript, alice, settings
):
    browser = transcript.client(live.server, alice, "alice")

    created = browser.post("/chatkit/", json=create_request("notes.txt", len(TEXT), "text/plain"))
    assert created.status_code == 200, created.text
    attachment = created.json()
    descriptor = attachment["upload_descriptor"]
    uploader = transcript.client(live.server, who="uploader")
    if live.kind == "s3":  # presigned PUT straight to the bucket
        assert descriptor["method"] == "PUT"
        assert descriptor["url"].startswith(live.s3.endpoint)
        sent = uploader.put(descriptor["url"], content=TEXT, headers=descriptor["headers"])
    else:  # our upload URL: single use
        assert descriptor["method"] == "POST"
        files = {"file": ("notes.txt", TEXT, "text/plain")}
        sent = uploader.post(descriptor["url"], files=files)
        again = uploader.post(descriptor["url"], files=files)
        assert again.status_code == 403 and again.json()["error"] == "upload_url_used"
    assert sent.status_code == 200
    assert len(live.stored()) == 1

    thread_id, message = send(browser, "echo summarize", [attachment["id"]])
    assert message["attachments"][0]["id"] == attachment["id"]
    assert "upload_descriptor" not in message["attachments"][0]

    # A text file has no preview_url: a project links to it with a signed URL.
    settings.CHATKIT_ATTACHMENT_BASE_URL = live.server.base_url
    download_url = file_url(Attachment.objects.get(chatkit_id=attachment["id"]).pk, None)
    downloaded = preview(transcript, live, download_url)
    assert downloaded.status_code == 200 and downloaded.content == TEXT
    assert downloaded.headers["content-disposition"].startswith("attachment")

    deleted = browser.post(
        "/chatkit/", json={"type": "threads.delete", "params": {"thread_id": thread_id}}
    )
    assert deleted.status_code == 200
    assert live.stored() == []
    assert preview(transcript, live, download_url).status_code == 404
