"""Call the ASGI app of `notify serve` with a bearer token: one request, its status and JSON answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .asgi import call as raw_call

TOKEN = "inbound-token-123"  # NOTIFY_WEBHOOK_TOKEN: what monitoring presents on /hooks/...
API_TOKEN = "operator-token-456"  # NOTIFY_API_TOKEN: what operators present everywhere else


async def request(app: Any, method: str, path: str, body: bytes | dict = b"", token: str | None = None
                  ) -> tuple[int, Any]:
    """(status, decoded JSON body); by default with the credential its path takes."""
    token = token or (TOKEN if path.startswith("/hooks/") else API_TOKEN)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    path, _, query = path.partition("?")
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(data)).encode())]
    status, _, answer = await raw_call(app, method, path, data, headers, query=query.encode())
    return status, answer


def call(app: Any, method: str, path: str, body: bytes | dict = b"", token: str | None = None) -> tuple[int, Any]:
    """One request, answered: (status, decoded JSON body)."""
    return asyncio.run(request(app, method, path, body, token))
