"""Call the ASGI app of `notify serve` directly, without a socket: one request, its status and JSON answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

TOKEN = "inbound-token-123"


async def request(app: Any, method: str, path: str, body: bytes | dict = b"", token: str = TOKEN) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    messages = [{"type": "http.request", "body": data, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(data)).encode())]}
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


def call(app: Any, method: str, path: str, body: bytes | dict = b"", token: str = TOKEN) -> tuple[int, Any]:
    """One request, answered: (status, decoded JSON body)."""
    return asyncio.run(request(app, method, path, body, token))
