"""A local SMTP server for the benchmarks, run as its own process (aiosmtpd, accepts everything).

    python bench/_smtp_sink.py            prints "PORT <n>", then one line per accepted message:
                                          "MSG <time.monotonic()> <X-Notify-Incident or ->"

The arrival time is taken when the DATA command's content has been received,
before the 250 reply: the moment the message is the server's. On Linux
``time.monotonic()`` is one clock for every process of the machine.
"""

from __future__ import annotations

import re
import sys
import threading
import time

from aiosmtpd.controller import Controller

_INCIDENT = re.compile(rb"^X-Notify-Incident: *(\S+)", re.M | re.I)


class Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        arrived = time.monotonic()
        content = envelope.original_content or envelope.content or b""
        match = _INCIDENT.search(content.split(b"\r\n\r\n", 1)[0])
        incident = match.group(1).decode() if match else "-"
        with self.lock:
            sys.stdout.write(f"MSG {arrived:.6f} {incident} {len(envelope.rcpt_tos)}\n")
            sys.stdout.flush()
        return "250 2.0.0 Message accepted"


class _Controller(Controller):
    def _trigger_server(self) -> None:  # aiosmtpd probes host:port after binding; learn port 0's real port first
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main() -> None:
    controller = _Controller(Handler(), hostname="127.0.0.1", port=0, server_hostname="sink.test")
    controller.start()
    port = controller.port
    print(f"PORT {port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
