"""`notify serve` sends from a `notify worker` subprocess: woken by each stored event, gone when its parent is.

The unit tests start a stand-in child (a small Python script on the inherited
socket) through :class:`SenderProcess`; the process tests run `python -m
dispatcher serve` with its real child, an outbound webhook at a local
recording server, and read the process tree from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
import requests

from dispatcher.app.worker import worker_id
from dispatcher.server.sender import SenderProcess
from dispatcher.store import open_store
from dispatcher.testing.providers import RecordingServer, Reply

from . import pg
from .helpers import wait_for

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="the tests read /proc"),
              pytest.mark.slow]  # every test starts `notify serve` or a sender child process




def gone(pid: int) -> bool:
    """The process has exited (a zombie not reaped yet by whoever adopted it counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


# -- the parent's handle on a child -------------------------------------------------------------


def stand_in(code: str) -> list[str]:
    """A stand-in sender: `code` runs with `sock`, the child's end of the socket pair (its last argument)."""
    return [sys.executable, "-c", "import socket, sys\nsock = socket.socket(fileno=int(sys.argv[-1]))\n" + code]


ECHO = """
while data := sock.recv(4096):  # one delivered attempt reported per wake, until end of file
    for _ in data:
        sock.sendall(b"i\\talertmanager\\topened\\na\\twebhook\\tdelivered\\t1\\t2.5\\n")
sock.sendall(b"t\\t2026-11-26T03:00:00+00:00\\n")
"""


def test_each_wake_reaches_the_child_and_end_of_file_stops_it() -> None:
    attempts, ingested, ticks, exits = [], [], [], []
    child = SenderProcess.spawn(stand_in(ECHO))
    child.listen(lambda *a: attempts.append(a), lambda *a: ingested.append(a), ticks.append, exits.append)
    for _ in range(3):
        child.wake()
    wait_for("three reported attempts", lambda: len(attempts) == 3)
    assert attempts[0] == ("webhook", "delivered", 1, 2.5)
    assert ingested == [("alertmanager", "opened")] * 3
    assert child.stop(timeout=30) == 0
    assert exits == [0] and [t.isoformat() for t in ticks] == ["2026-11-26T03:00:00+00:00"]
    assert gone(child.pid)


def test_a_child_that_fails_exits_non_zero_and_the_parent_hears_it() -> None:
    exits: list[int] = []
    child = SenderProcess.spawn(stand_in("raise SystemExit('the sender broke')"))
    child.listen(lambda *a: None, lambda *a: None, lambda t: None, exits.append)
    wait_for("the child's exit", lambda: exits)
    assert exits == [1]
    child.stop(timeout=30)


def test_a_child_that_ignores_end_of_file_is_killed_after_the_timeout() -> None:
    child = SenderProcess.spawn(stand_in("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                         "time.sleep(3600)"))
    assert child.stop(timeout=0.1) == -signal.SIGKILL
    assert gone(child.pid)


# -- notify serve as a process -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class Serve:
    """`notify serve --no-auth` with a 60 s tick: anything sent within the test was sent on a wake."""

    def __init__(self, tmp_path: Path, hook_url: str, *extra: str, store_url: str | None = None,
                 new_session: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_url = store_url or f"sqlite:///{tmp_path / 'state' / 'notify.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        env.update(NOTIFY_STORE_URL=self.store_url, NOTIFY_WEBHOOK_URL=hook_url)
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "dispatcher", "serve", "--no-auth", "--port",
                                          str(self.port), "--interval", "60", *extra], env=env, stderr=log,
                                         start_new_session=new_session)
        wait_for("/healthz", self.healthy)

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"notify serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def alert(self, summary: str) -> str:
        answer = requests.post(self.url + "/hooks/generic", json={"class": "outage", "summary": summary}, timeout=10)
        assert answer.status_code == 202, answer.text
        return answer.json()["incident"]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


@pytest.fixture
def hook() -> Iterator[RecordingServer]:
    with RecordingServer(Reply(200, "ok")) as server:
        yield server


def argv_of(pid: int) -> list[bytes]:
    """A process's command line: the parent's until the child has exec'd its own, so ask until it has."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def incidents_heard(hook: RecordingServer) -> Counter:
    return Counter(r.json["incident"]["id"] for r in hook.requests)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with pg.store_url(request.param, tmp_path / "state" / "notify.db", "serve_sender") as url:
        yield url


def test_serve_sends_from_a_child_woken_by_each_stored_event_and_stops_it_on_sigterm(
        tmp_path: Path, hook: RecordingServer, store_url: str) -> None:
    serve = Serve(tmp_path, hook.url + "/out", store_url=store_url)
    try:
        (child,) = children(serve.proc.pid)
        assert Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[2:6] == [b"dispatcher", b"--config-dir",
                                                                                   str(REPO).encode(), b"worker"]
        sent = [serve.alert(f"API down {i}") for i in range(20)]
        wait_for("every step-0 webhook", lambda: set(incidents_heard(hook)) >= set(sent))
        keys = Counter(r.headers["Idempotency-Key"] for r in hook.requests)
        assert keys and max(keys.values()) == 1  # nothing sent twice
        assert all(incidents_heard(hook)[i] == 1 for i in sent)
        metrics = requests.get(serve.url + "/metrics", timeout=5).text  # the child's attempts, counted by the parent
        wait_for("the attempts in /metrics", lambda: 'notify_deliveries_total{channel="webhook",outcome="delivered"} '
                 in requests.get(serve.url + "/metrics", timeout=5).text)
        assert "notify_ingested_total" in metrics
    finally:
        status = serve.stop()
    assert status == 0, serve.log.read_text()
    assert gone(child)
    store = open_store(serve.store_url)
    assert [d for i in sent for d in store.deliveries(i) if d.status == "in-flight"] == []  # leases given back
    store.close()


def every_child(pid: int) -> set[int]:
    """The children of every thread of the process (the second sender is started by a thread of its own)."""
    return {int(p) for task in Path(f"/proc/{pid}/task").iterdir()
            for p in (task / "children").read_text().split()}


def test_a_backlog_after_a_burst_gets_a_second_sender_both_send_each_delivery_once_and_it_stops_when_drained(
        tmp_path: Path, hook: RecordingServer, store_url: str) -> None:
    """The first sender is stopped while the alerts arrive, so they leave a backlog; it resumes once the
    second has started, and both drain the outbox together."""
    serve = Serve(tmp_path, hook.url + "/out", store_url=store_url)
    try:
        (child,) = children(serve.proc.pid)
        os.kill(child, signal.SIGSTOP)
        try:
            sent = [serve.alert(f"API down {i}") for i in range(30)]  # about 300 step-0 rows in the outbox
            wait_for("a second sender", lambda: len(every_child(serve.proc.pid)) == 2)
        finally:
            os.kill(child, signal.SIGCONT)
        (second,) = every_child(serve.proc.pid) - {child}
        wait_for("the second sender's own command line", lambda: b"--no-timers" in argv_of(second))  # the first fires timers
        wait_for("every step-0 webhook", lambda: set(incidents_heard(hook)) >= set(sent))
        wait_for("the second sender to stop once the outbox is drained",  # said once its stop has returned
                 lambda: f"second sender {second} stopped (status 0)" in serve.log.read_text())
        assert every_child(serve.proc.pid) == {child} and gone(second)
        keys = Counter(r.headers["Idempotency-Key"] for r in hook.requests)
        assert len(keys) == len(sent) and max(keys.values()) == 1  # nothing sent twice
        assert f"second sender {second} started" in serve.log.read_text()
        store = open_store(serve.store_url)
        rows = [d for i in sent for d in store.deliveries(i)]
        store.close()
        assert rows and [d for d in rows if d.status in ("pending", "in-flight")] == []  # drained, leases back
    finally:
        assert serve.stop() == 0
    assert gone(child)


def test_a_burst_s_stored_webhooks_are_triaged_by_the_second_sender_too(
        tmp_path: Path, hook: RecordingServer, store_url: str) -> None:
    """Each sender leases groups of the inbox of its own: with the first sender stopped from before the burst
    to its end, the second alone opens every incident and sends its pages, each once."""
    payload = json.loads((Path(__file__).parent / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())
    serve = Serve(tmp_path, hook.url + "/out", store_url=store_url)
    try:
        (child,) = children(serve.proc.pid)
        os.kill(child, signal.SIGSTOP)  # it holds nothing yet: every webhook of the burst waits, stored
        try:
            for n in range(60):  # more than a second sender's START_AT
                payload["groupKey"] = f'{{}}:{{alertname="Load{n}"}}'
                assert requests.post(serve.url + "/hooks/alertmanager", json=payload, timeout=10).status_code == 202
            wait_for("a second sender", lambda: len(every_child(serve.proc.pid)) == 2)
            (second,) = every_child(serve.proc.pid) - {child}
            wait_for("the second sender's own command line", lambda: b"--no-timers" in argv_of(second))
            store = open_store(serve.store_url)
            try:
                wait_for("every alert's incident, opened by the second sender",
                         lambda: store.inbox_counts() == (0, 0, 0) and len(store.incidents()) == 60)
            finally:
                store.close()
        finally:
            os.kill(child, signal.SIGCONT)  # the first may send what the second left to a retry (a reset, under load)
        wait_for("an incident's step-0 webhook for every alert", lambda: len(incidents_heard(hook)) == 60)
        assert max(Counter(r.headers["Idempotency-Key"] for r in hook.requests).values()) == 1  # nothing sent twice
    finally:
        assert serve.stop() == 0


def test_the_child_exits_when_its_parent_is_killed(tmp_path: Path, hook: RecordingServer) -> None:
    serve = Serve(tmp_path, hook.url + "/out")
    (child,) = children(serve.proc.pid)
    serve.stop(signal.SIGKILL)
    wait_for("the orphaned sender to exit", lambda: gone(child))


def test_a_dead_child_is_replaced_by_a_new_notify_worker(tmp_path: Path, hook: RecordingServer) -> None:
    serve = Serve(tmp_path, hook.url + "/out")
    try:
        (child,) = children(serve.proc.pid)
        os.kill(child, signal.SIGKILL)
        wait_for("a new sender", lambda: children(serve.proc.pid) not in ([], [child]))
        (replacement,) = children(serve.proc.pid)
        incident = serve.alert("API down after the sender died")
        wait_for("its webhook, sent by the new sender", lambda: incident in incidents_heard(hook))
        wait_for("its attempt in /metrics", lambda: 'notify_deliveries_total{channel="webhook",outcome="delivered"} '
                 in requests.get(serve.url + "/metrics", timeout=5).text)
    finally:
        assert serve.stop() == 0
    assert gone(replacement)
    assert f"the sender process {child} exited with status -9; starting another" in serve.log.read_text()


def test_a_child_killed_while_holding_the_inbox_gives_it_back_at_once(tmp_path: Path, hook: RecordingServer) -> None:
    """Without the parent giving the dead child's hold back, its webhooks would wait a minute for its lease:
    for the second sender the burst started, or the replacement."""
    import sqlite3

    payload = json.loads((Path(__file__).parent / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())
    serve = Serve(tmp_path, hook.url + "/out")
    db = serve.store_url.removeprefix("sqlite:///")
    try:
        (child,) = children(serve.proc.pid)
        os.kill(child, signal.SIGSTOP)  # it holds nothing yet; the webhooks pile up, stored
        for n in range(300):
            payload["groupKey"] = f'{{}}:{{alertname="Load{n}"}}'
            assert requests.post(serve.url + "/hooks/alertmanager", json=payload, timeout=10).status_code == 202
        os.kill(child, signal.SIGCONT)
        held = lambda: sqlite3.connect(db).execute(  # noqa: E731
            "SELECT COUNT(*) FROM inbox WHERE lease_owner = ?", (worker_id(child),)).fetchone()[0]
        wait_for("the child to hold webhooks of the inbox", held, timeout=10)
        os.kill(child, signal.SIGKILL)
        wait_for("every stored webhook handled, well within the dead child's 60 s lease",
                 lambda: sqlite3.connect(db).execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0, timeout=45)
        wait_for("a replacement", lambda: "starting another" in serve.log.read_text())
    finally:
        assert serve.stop() == 0


def test_a_second_sender_killed_while_holding_webhooks_gives_them_back_at_once(
        tmp_path: Path, hook: RecordingServer) -> None:
    """Its hold is given back as the first sender's is: else the first would wait out its 60 s lease."""
    import sqlite3

    payload = json.loads((Path(__file__).parent / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())
    serve = Serve(tmp_path, hook.url + "/out")
    db = serve.store_url.removeprefix("sqlite:///")
    try:
        (child,) = children(serve.proc.pid)
        os.kill(child, signal.SIGSTOP)  # the second sender alone triages the burst
        try:
            for n in range(300):
                payload["groupKey"] = f'{{}}:{{alertname="Load{n}"}}'
                assert requests.post(serve.url + "/hooks/alertmanager", json=payload, timeout=10).status_code == 202
            wait_for("a second sender", lambda: len(every_child(serve.proc.pid)) == 2)
            (second,) = every_child(serve.proc.pid) - {child}
            held = lambda: sqlite3.connect(db).execute(  # noqa: E731
                "SELECT COUNT(*) FROM inbox WHERE lease_owner = ?", (worker_id(second),)).fetchone()[0]
            wait_for("the second sender to hold webhooks of the inbox", held, timeout=20)
            os.kill(second, signal.SIGKILL)
            wait_for("its hold given back", lambda: held() == 0, timeout=20)
        finally:
            os.kill(child, signal.SIGCONT)
        wait_for("every stored webhook handled, well within the dead sender's 60 s lease",
                 lambda: sqlite3.connect(db).execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0, timeout=45)
    finally:
        assert serve.stop() == 0


def test_sigterm_to_the_whole_process_group_stops_both_without_a_replacement_sender(tmp_path: Path,
                                                                                      hook: RecordingServer) -> None:
    """systemd's default KillMode signals every process of the service: the child's clean exit then is
    part of the stop, not a failure to replace."""
    serve = Serve(tmp_path, hook.url + "/out", new_session=True)
    incident = serve.alert("API down before the stop")
    wait_for("its webhook", lambda: incident in incidents_heard(hook))
    os.killpg(serve.proc.pid, signal.SIGTERM)
    assert serve.proc.wait(timeout=60) == 0
    log = serve.log.read_text()
    assert "starting another" not in log and "worker finished and leases released" in log


def test_serve_says_at_start_which_channels_cannot_deliver(tmp_path: Path, hook: RecordingServer) -> None:
    """Every hook is answered 202 whatever happens next: pages that cannot go out are said at start."""
    serve = Serve(tmp_path, hook.url + "/out")  # only the outbound webhook has settings here
    assert serve.stop() == 0
    log = serve.log.read_text()
    assert "warning: channel 'email' has no settings (set NOTIFY_EMAIL_URL): the 24 places in the policy that page by email will fail" in log
    assert {"email", "slack", "sms", "phone"} == {c for c in ("email", "slack", "sms", "phone", "webhook")
                                                  if f"warning: channel '{c}'" in log}


def test_a_generic_hook_that_waits_hears_the_child_s_outcomes(tmp_path: Path, hook: RecordingServer) -> None:
    """Only the outbound webhook has settings: the answer, given once the child has tried everything, says
    one delivery arrived and every other failed, instead of a bare count of what was planned."""
    serve = Serve(tmp_path, hook.url + "/out")
    try:
        answer = requests.post(serve.url + "/hooks/generic?wait=30", timeout=40,
                               json={"class": "outage", "summary": "API down, and the caller waits"})
        assert answer.status_code == 202, answer.text
        counts = answer.json()["deliveries"]
        assert counts["planned"] > 2 and counts["pending"] == 0
        assert (counts["delivered"], counts["failed"]) == (1, counts["planned"] - 1)
        assert [r.json["incident"]["id"] for r in hook.requests] == [answer.json()["incident"]]
    finally:
        assert serve.stop() == 0


@pytest.mark.parametrize("status, ran_for, pause", [
    (-9, 3600.0, 0.0),  # killed after running a while: replaced at once, pages are waiting
    (1, 5.0, 0.0),
    (1, 0.2, 5.0),  # fails as it starts: no tight restart loop
    (0, 3600.0, 5.0),  # a clean exit unasked: most likely the service manager stopping the whole group
])
def test_a_crashed_sender_is_replaced_at_once_unless_it_fails_at_start_or_exited_cleanly(
        status: int, ran_for: float, pause: float) -> None:
    from dispatcher.server.run import restart_pause

    assert restart_pause(status, ran_for) == pause
