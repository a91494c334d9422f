"""A TCP proxy in front of PostgreSQL that can start hanging: it keeps every connection open and answers nothing.

That is what a database host under a stuck disk or a frozen VM looks like to a client: the TCP
connection is fine, no error ever comes. `release()` closes everything, so no thread of the
test stays blocked on it.
"""

from __future__ import annotations

import socket
import threading


class HangingProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hanging = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        """From now on nothing is forwarded, either way, on new or open connections; nothing is closed."""
        self.hanging.set()

    def release(self) -> None:
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _keep(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._keep(client)
            if self.hanging.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self._keep(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.hanging.is_set():
                continue  # swallowed: the other side waits forever
            try:
                sink.sendall(data)
            except OSError:
                return
