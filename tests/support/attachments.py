"""Small real files and request helpers for the attachment tests."""

from __future__ import annotations

import os
import struct
import time
import zlib
from typing import Any

from django.core import signing

from django_chatkit.attachments.files import FILE_SALT, UPLOAD_SALT


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
