"""A local HTTP endpoint for the benchmarks, run as its own process (its own GIL, like a real provider).

    python bench/_endpoint.py [--delay 0.2]      prints "PORT <n>" on stdout, then serves until killed

Every POST is answered 200 ``{}`` after `--delay` seconds and recorded with
its arrival time (``time.monotonic()``, which on Linux is one clock for every
process of the machine, so a client can subtract its own send time), path,
``Idempotency-Key`` header and the incident id of a notify webhook body.
``GET /_stats?since=N`` returns the records from index N on; ``POST /_reset``
forgets them. TCP_NODELAY, thread per connection, HTTP/1.1 keep-alive, a listen backlog of
1024 so that a burst of connections is never held in SYN retries.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Endpoint(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.records: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Endpoint

    def setup(self) -> None:
        super().setup()
        # Headers and body are two writes: without TCP_NODELAY, Nagle holds the body until the client's
        # delayed ACK (40 ms) on a kept-alive connection, a stall no real provider has.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_reset":
            with self.server.lock:
                self.server.records.clear()
            return self._reply(b"{}")
        incident = None
        try:
            incident = json.loads(body).get("incident", {}).get("id")
        except (ValueError, AttributeError):
            pass
        with self.server.lock:
            self.server.records.append({"at": arrived, "path": self.path, "incident": incident,
                                        "key": self.headers.get("Idempotency-Key")})
        if self.server.delay:
            time.sleep(self.server.delay)
        self._reply(b"{}")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        query = parse_qs(urlsplit(self.path).query)
        since = int(query.get("since", ["0"])[0])
        with self.server.lock:
            records = self.server.records[since:]
            total = len(self.server.records)
        self._reply(json.dumps({"count": total, "records": records}).encode())

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    server = Endpoint(args.delay)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
