"""A minimal keep-alive HTTP/1.1 client on asyncio streams: the load generator.

It does only what the benchmark needs (POST, ``Content-Length`` or chunked answers),
at a fraction of httpx's CPU per request: client and servers share the machine.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any


def chatkit_body(op: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"type": op, "params": params}).encode()


class Connection:
    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.port = port
        self.path = path
        self.headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        #: ``time.perf_counter()`` when the last answer's first SSE ``data:`` frame
        #: arrived (``None``: no such frame, e.g. a JSON answer).
        self.first_event_at: float | None = None

    @classmethod
    async def open(cls, port: int, path: str, headers: dict[str, str]) -> Connection:
        conn = cls(port, path, headers)
        await conn.reopen()
        return conn

    async def reopen(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def post(self, body: bytes, deadline: float = 60) -> tuple[int, bytes]:
        """POST ``body``; the status and the whole answer, within ``deadline`` seconds."""
        async with asyncio.timeout(deadline):
            return await self._post(body)

    async def post_and_hang_up(self, body: bytes, chunks: int, deadline: float = 60) -> int:
        """POST ``body``, read the status, the headers and ``chunks`` chunks of the
        streamed answer, then close the connection (a tab closed mid-answer)."""
        assert self.reader is not None and self.writer is not None
        async with asyncio.timeout(deadline):
            head = (
                f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"{self.headers}\r\n"
            )
            self.writer.write(head.encode() + body)
            status = int((await self.reader.readline()).split(b" ", 2)[1])
            while (await self.reader.readline()) not in (b"\r\n", b""):
                pass
            for _ in range(chunks):
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if not size:
                    break
                await self.reader.readexactly(size + 2)
        self.close()
        return status

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.first_event_at = None
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{self.headers}\r\n"
        )
        self.writer.write(head.encode() + body)
        reader = self.reader
        status = int((await reader.readline()).split(b" ", 2)[1])
        length = None
        chunked = close = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                close = value == "close"
        if chunked:
            parts: list[bytes] = []
            tail = b""  # a frame's "data:" may span two chunks
            while size := int((await reader.readline()).split(b";")[0], 16):
                part = await reader.readexactly(size)
                if self.first_event_at is None and b"data:" in tail + part:
                    self.first_event_at = time.perf_counter()
                tail = part[-4:]
                parts.append(part)
                await reader.readexactly(2)
            await reader.readline()  # the empty trailer
            data = b"".join(parts)
        elif length is not None:
            data = await reader.readexactly(length)
        else:
            data = await reader.read()
            close = True
        if close:
            await self.reopen()
        return status, data
