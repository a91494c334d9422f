"""Call the ASGI app of `notify serve` directly, without a socket: one request, its status and JSON answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

TOKEN = "inbound-token-123"  # NOTIFY_WEBHOOK_TOKEN: what monitoring presents on /hooks/...
API_TOKEN = "operator-token-456"  # NOTIFY_API_TOKEN: what operators present everywhere else


async def request(app: Any, method: str, path: str, body: bytes | dict = b"", token: str | None = None
                  ) -> tuple[int, Any]:
    token = token or (TOKEN if path.startswith("/hooks/") else API_TOKEN)
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


def call(app: Any, method: str, path: str, body: bytes | dict = b"", token: str | None = None) -> tuple[int, Any]:
    """One request, answered: (status, decoded JSON body); by default with the credential its path takes."""
    return asyncio.run(request(app, method, path, body, token))
