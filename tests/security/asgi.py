"""Calling the ASGI app directly, with raw header bytes no HTTP client would send for us."""

from __future__ import annotations

import json
from typing import Any


async def call(app: Any, method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
               client: str = "192.0.2.10", query: bytes = b"") -> tuple[int, dict[str, str], Any]:
    """(status, headers, decoded JSON or bytes) of one request; an exception escaping the app is a 500."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers or [], "query_string": query,
             "client": (client, 40000)}
    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - what uvicorn would answer: 500 and a traceback in the log
        return 500, {}, repr(exc)
    start, body_message = sent[0], sent[1]
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    content = body_message["body"]
    if answer_headers.get("content-type") == "application/json":
        content = json.loads(content)
    return start["status"], answer_headers, content
