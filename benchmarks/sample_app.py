"""Stack (a): the SDK's ``ChatKitServer`` over ``MemoryStore`` behind a minimal ASGI app.

The official samples put ``server.process()`` behind one FastAPI route::

    result = await server.process(await request.body(), context)
    if isinstance(result, StreamingResult):
        return StreamingResponse(result, media_type="text/event-stream")
    return Response(content=result.json, media_type="application/json")

This is that route in plain ASGI, without FastAPI (not a dependency of the project): the
limit a Django stack can be compared with. No sessions, no CSRF, no database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit import types as ck
from chatkit.server import ChatKitServer, StreamingResult

from .echo import MemoryStore, echo_respond


class SampleServer(ChatKitServer[dict[str, Any]]):
    def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        return echo_respond(self.store, thread, input_user_message, context)


server = SampleServer(MemoryStore())


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def application(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = await _read_body(receive)
    # The samples' context: whoever the app says the user is (here, one fixed user).
    result = await server.process(body, {"user_id": "bench"})
    if isinstance(result, StreamingResult):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        async for chunk in result:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": result.json})
