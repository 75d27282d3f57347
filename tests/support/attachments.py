"""Small real files, request bodies and test-client helpers for the attachment tests."""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
from django.core import signing
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from django_chatkit.attachments.files import FILE_SALT, UPLOAD_SALT
from tests.support.protocol import new_thread, parse_sse

ENDPOINT = "/chatkit/"
UPLOAD = "/chatkit/attachments/upload/"
BOUNDARY = "chatkit-test-boundary"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(width: int = 1, height: int = 1, noise: bool = False) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` red (or random, incompressible) pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(
        b"\x00" + (os.urandom(3 * width) if noise else b"\xff\x00\x00" * width)
        for _ in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


PNG = png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = "Grüße, plain text.\n".encode()
HTML = b"<html><script>alert(document.cookie)</script></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 4


def create_request(name: str, size: int, mime_type: str) -> dict[str, Any]:
    return {
        "type": "attachments.create",
        "params": {"name": name, "size": size, "mime_type": mime_type},
    }


def delete_request(attachment_id: str) -> dict[str, Any]:
    return {"type": "attachments.delete", "params": {"attachment_id": attachment_id}}


def delete_thread_request(thread_id: str) -> dict[str, Any]:
    return {"type": "threads.delete", "params": {"thread_id": thread_id}}


def items_request(thread_id: str) -> dict[str, Any]:
    return {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}


class _PastSigner(signing.TimestampSigner):
    def __init__(self, age: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.age = age

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.age)


def old_token(data: dict[str, Any], *, upload: bool = False, age: int = 100_000) -> str:
    """A genuinely signed token, ``age`` seconds old."""
    signer = _PastSigner(age, salt=UPLOAD_SALT if upload else FILE_SALT)
    return signer.sign_object(data)


def tamper(token: str) -> str:
    """``token`` with one character of its signature changed."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


# through Django's test client ------------------------------------------------------------


async def client_for(user: Any = None, **kwargs: Any) -> AsyncClient:
    client = AsyncClient(**kwargs)
    if user is not None:
        await client.aforce_login(user)
    return client


def multipart(name: str, content: bytes, mime_type: str | None) -> bytes:
    """A multipart body with one ``file`` part, the file name sent as is."""
    header = f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
    if mime_type:
        header += f"Content-Type: {mime_type}\r\n"
    return f"--{BOUNDARY}\r\n{header}\r\n".encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


async def upload(
    client: AsyncClient, name: str, content: bytes, mime_type: str | None, url: str = UPLOAD
):
    return await client.post(
        url,
        data=multipart(name, content, mime_type),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


async def call(client: AsyncClient, body: dict[str, Any]):
    response = await client.post(ENDPOINT, data=json.dumps(body), content_type="application/json")
    if isinstance(response, StreamingHttpResponse):
        response.body = b"".join([chunk async for chunk in response.streaming_content])
    else:
        response.body = response.content
    return response


async def read(response) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join([chunk async for chunk in response.streaming_content])
    return response.content


def media(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


def stored_files(settings) -> list[str]:
    root = media(settings)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def path_of(url: str) -> str:
    assert url.startswith("http://testserver/"), url
    return url[len("http://testserver") :]


async def uploaded(client: AsyncClient, name="cat.png", content=PNG, mime="image/png"):
    response = await upload(client, name, content, mime)
    assert response.status_code == 200, response.content
    return response.json()


async def send(client: AsyncClient, text: str, attachment_ids: list[str]):
    response = await call(client, new_thread(text, attachment_ids))
    assert response.status_code == 200, response.body
    events = parse_sse(response.body)
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    return thread_id, events


async def presigned(client, name: str, content: bytes, mime: str, body: bytes | None = None):
    response = await call(client, create_request(name, len(content), mime))
    assert response.status_code == 200, response.body
    data = json.loads(response.body)
    descriptor = data["upload_descriptor"]
    async with httpx.AsyncClient() as bucket:
        put = await bucket.put(
            descriptor["url"], content=body or content, headers=descriptor["headers"]
        )
    return data, put
