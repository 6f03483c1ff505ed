"""The bound on request bodies: bytes are counted as they arrive, and reading stops at the limit.

A limit read from ``Content-Length`` alone is no limit: a chunked body
(``Transfer-Encoding: chunked``) has no such header, and without a count the
whole of it would be read into memory before it was parsed. So
:class:`BodyLimit` wraps the ASGI ``receive`` channel and counts the bytes of
every ``http.request`` message; past the limit it stops reading and the client
gets 413 (JSON ``{"detail": ...}``, as every other error of the server) with
``Connection: close``, so the server does not go on reading the rest. A body
that declares a larger ``Content-Length`` is refused before any of it is read.

Example:
    >>> import asyncio
    >>> async def app(scope, receive, send):  # reads the whole body, like a JSON endpoint
    ...     while (await receive()).get("more_body"):
    ...         pass
    >>> chunks = iter([{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 3)
    >>> sent = []
    >>> async def receive(): return next(chunks)
    >>> async def send(message): sent.append(message)
    >>> asyncio.run(BodyLimit(app, max_bytes=1000)({"type": "http", "headers": []}, receive, send))
    >>> sent[0]["status"]
    413
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit.

    An :class:`HTTPException`, so that FastAPI, which reads the body inside
    the endpoint, passes it on unchanged (any other exception there becomes
    400 "There was an error parsing the body") and its handler answers 413.
    """

    def __init__(self, detail: str):
        super().__init__(status_code=413, detail=detail, headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body, with or without ``Content-Length``.

    Args:
        app: the ASGI app to wrap.
        max_bytes: the most body bytes a request may carry (>= 0).
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.app, self.max_bytes = app, max_bytes

    def _message(self, declared: int | None = None) -> str:
        size = "" if declared is None else f"of {declared} bytes "
        unit = "byte" if self.max_bytes == 1 else "bytes"
        return f"request body {size}exceeds the limit of {self.max_bytes} {unit}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            exc = BodyTooLarge(self._message(declared))
            await JSONResponse({"detail": exc.detail}, status_code=413, headers=exc.headers)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self._message())
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:
            # Reached here only where nothing inside turned it into an answer (an app without FastAPI's handler).
            if started:
                raise
            await JSONResponse({"detail": exc.detail}, status_code=413, headers=exc.headers)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server rejects a malformed length before the app sees it
    return None
