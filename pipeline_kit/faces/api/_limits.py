"""Request body size limits, enforced before a handler stores anything.

A declared ``Content-Length`` over the limit is refused at once; a body without
one (chunked transfer) is counted as it arrives and refused when it passes the
limit. Chunk uploads get ``max_chunk_bytes``, every other request ``max_json_bytes``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

CHUNK_PATH = re.compile(r"^/audio/uploads/[^/]+/chunks/[^/]+/?$")


def _too_large(limit: int, what: str) -> str:
    return f"{what} larger than the limit of {limit} bytes"


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over the limit of their route."""

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_chunk_bytes: int) -> None:
        self.app, self.max_json, self.max_chunk = app, max_json_bytes, max_chunk_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunk = bool(CHUNK_PATH.match(scope["path"]))
        limit = self.max_chunk if chunk else self.max_json
        what = "chunk body" if chunk else "request body"
        declared = _content_length(scope)
        if declared == -1:
            await _reply(send, 400, "invalid Content-Length header")
            return
        if declared is not None and declared > limit:
            await _reply(send, 413, _too_large(limit, what))
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes FastAPI's body parsing unchanged: a 413.
                    raise HTTPException(413, _too_large(limit, what))
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                n = int(value)
            except ValueError:
                return -1
            return n if n >= 0 else -1
    return None


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
