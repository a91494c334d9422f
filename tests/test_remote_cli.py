"""The CLI from anywhere: personal tokens, and ack/resolve/status/incidents through a real `notify serve`."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatcher.app.tokens import digest

from .helpers import run
from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server

ID = "SEC-2024-001"


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN)
    yield srv
    srv.stop()


def on_server(stage: Stage, *args: str, **env: str) -> object:
    """A command on the host that holds the server's store, with the server's channels."""
    settings = stage.settings()
    channels = {f"NOTIFY_{name.upper()}": getattr(settings, name).get_secret_value()
                for name in ("email_url", "slack_url", "sms_url", "phone_url")}
    return run("--config-dir", str(stage.config_dir), *args,
               env={"NOTIFY_STORE_URL": f"sqlite:///{stage.store_path}", "NOTIFY_NOW": stage.clock.now().isoformat(),
                    "NOTIFY_CA_BUNDLE": str(settings.ca_bundle), **channels, **env})


def new_token(stage: Stage, person: str) -> str:
    created = on_server(stage, "token", "create", person, "--json")
    assert created.exit_code == 0, created.output
    return json.loads(created.stdout)["token"]


def laptop(server: Server, tmp_path: Path, token: str, *args: str, **env: str) -> object:
    """A command in another shell: its own state directory, no store, no configuration; only the server."""
    state = tmp_path / "laptop-state"
    return run(*args, env={"NOTIFY_SERVER_URL": server.url, "NOTIFY_API_TOKEN": token,
                           "NOTIFY_STATE_DIR": str(state), "XDG_STATE_HOME": str(state), **env})


def test_ack_from_another_state_directory_is_recorded_on_the_server_as_the_tokens_person(
        server: Server, stage: Stage, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stage.trigger()
    token = new_token(stage, "support-manager-a")
    with caplog.at_level(logging.DEBUG):
        acked = laptop(server, tmp_path, token, "ack", ID)
    assert acked.exit_code == 0, acked.output
    assert acked.stdout == f"{ID} acknowledged by Support Manager A (via {server.url}): escalation stopped\n"
    row = server.store.incident(ID)
    assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
    assert not (tmp_path / "laptop-state").exists() or not list((tmp_path / "laptop-state").rglob("*.db"))
    again = laptop(server, tmp_path, token, "ack", ID)
    assert again.stdout.startswith(f"{ID} is acknowledged (acknowledged by Support Manager A at ")
    assert token not in acked.output + again.output + caplog.text


def test_a_personal_token_cannot_act_as_someone_else(server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    token = new_token(stage, "support-manager-a")
    by_flag = laptop(server, tmp_path, token, "ack", ID, "--by", "CTO")
    by_env = laptop(server, tmp_path, token, "ack", ID, NOTIFY_USER="cto")
    for refused in (by_flag, by_env):
        assert refused.exit_code == 2
        assert "answered 403" in refused.output and "Support Manager A (support-manager-a)" in refused.output
    assert "cannot act as 'CTO'" in by_flag.output and "cannot act as 'cto'" in by_env.output
    assert server.store.incident(ID).status == "open"  # nothing changed
    itself = laptop(server, tmp_path, token, "ack", ID, "--by", "support-manager-a")  # their own id is fine
    assert itself.exit_code == 0 and server.store.incident(ID).acked_by == "Support Manager A"


def test_the_operator_token_records_by_as_the_local_cli_does(server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    acked = laptop(server, tmp_path, API_TOKEN, "ack", ID, "--by", "Night Operator")
    assert acked.exit_code == 0, acked.output
    assert server.store.incident(ID).acked_by == "Night Operator"
    resolved = laptop(server, tmp_path, API_TOKEN, "resolve", ID, "--message", "Fixed", NOTIFY_USER="support-manager-b")
    assert "incident resolved by Support Manager B (via " in resolved.stdout  # its notices are the server's to send
    # a person's id with the operator's token is recorded as that person's name, as `notify resolve --by` does locally
    assert [e.by for e in server.store.events(ID) if e.kind == "resolved"] == ["Support Manager B"]


def test_the_operator_token_without_by_is_told_how_to_name_someone(server: Server, stage: Stage,
                                                                   tmp_path: Path) -> None:
    stage.trigger()
    nameless = laptop(server, tmp_path, API_TOKEN, "ack", ID, NOTIFY_USER="")
    assert nameless.exit_code == 2 and nameless.stderr.startswith("notify: --by: ")
    assert "pass --by NAME or set NOTIFY_USER" in nameless.stderr and "nothing was sent" in nameless.stderr
    assert API_TOKEN not in nameless.output and server.store.incident(ID).status == "open"


def test_a_revoked_or_unknown_token_changes_nothing(server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    token = new_token(stage, "cto")
    [listed] = json.loads(on_server(stage, "token", "list", "--json").stdout)["tokens"]
    revoked = on_server(stage, "token", "revoke", listed["id"])
    assert revoked.exit_code == 0
    # the stored time, printed as ISO 8601 in UTC (the command's clock runs on from NOTIFY_NOW)
    printed = rf"^token {listed['id']} of cto revoked at {stage.clock.now():%Y-%m-%dT%H:%M:%S}(\.\d+)?\+00:00$"
    assert re.search(printed, revoked.output, re.MULTILINE), revoked.output
    for bad in (token, "notify_" + "x" * 43):
        refused = laptop(server, tmp_path, bad, "ack", ID)
        assert refused.exit_code == 2 and "answered 401" in refused.output and "unknown or revoked" in refused.output
    assert server.store.incident(ID).status == "open"


def test_a_personal_token_is_good_for_incidents_only(server: Server, stage: Stage) -> None:
    token = new_token(stage, "cto")
    assert server.post("/hooks/generic", {"title": "x"}, token=token).status_code == 401
    assert server.get("/incidents", token=token).status_code == 200
    health = server.get("/healthz", token=token)
    assert health.status_code in (200, 503) and set(health.json()) == {"ok", "failing"}  # no details
    assert server.get("/metrics", token=token).status_code == 200  # open without NOTIFY_METRICS_TOKEN, as before


def test_only_the_hash_is_stored_and_list_shows_no_secret(server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    token = new_token(stage, "support-manager-a")
    assert laptop(server, tmp_path, token, "incidents").exit_code == 0
    stored = b"".join(f.read_bytes() for f in stage.store_path.parent.glob(stage.store_path.name + "*"))  # WAL too
    assert token.encode() not in stored and digest(token).encode() in stored
    listing = on_server(stage, "token", "list")
    assert token not in listing.output and digest(token) not in listing.output
    [row] = json.loads(on_server(stage, "token", "list", "--json").stdout)["tokens"]
    assert set(row) == {"id", "person", "created", "last_used", "revoked"}
    assert row["person"] == "support-manager-a" and row["last_used"] is not None and row["revoked"] is None
    assert len(token.removeprefix("notify_")) >= 22  # token_urlsafe: 22 characters carry 128 bits


def test_status_and_incidents_print_as_they_do_locally(server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    token = new_token(stage, "cto")
    for args in (("status", ID), ("status", ID, "--json"), ("incidents",), ("incidents", "--open", "--json")):
        local = on_server(stage, *args)
        remote = laptop(server, tmp_path, token, *args, NOTIFY_NOW=stage.clock.now().isoformat())
        assert remote.exit_code == local.exit_code == 0, remote.output
        assert remote.stdout == local.stdout, args


def test_resolve_goes_through_the_server_and_prints_its_notices_as_locally(server: Server, stage: Stage,
                                                                          tmp_path: Path) -> None:
    stage.trigger()
    stage.trigger(incident_id="SEC-2024-002")
    token = new_token(stage, "support-manager-a")
    server.worker.tick()  # step 0 of both delivered: the resolution notices have someone to reach
    local = on_server(stage, "resolve", "SEC-2024-002", "--message", "rolled back", NOTIFY_USER="support-manager-a")
    stop = threading.Event()
    sender = threading.Thread(target=lambda: [server.worker.send_due() for _ in iter(lambda: stop.wait(0.05), True)])
    sender.start()  # the server's worker loop, sending what the resolution queued
    try:
        resolved = laptop(server, tmp_path, token, "resolve", ID, "--message", "rolled back")
    finally:
        stop.set()
        sender.join()
    assert resolved.exit_code == local.exit_code == 0, resolved.output
    assert server.store.incident(ID).status == "resolved"
    [event] = [e for e in server.store.events(ID) if e.kind == "resolved"]
    assert (event.by, event.detail) == ("Support Manager A", "rolled back")
    table = resolved.stdout.replace(ID, "SEC-2024-002").replace(f" (via {server.url})", "")
    assert table == local.stdout.replace(" (people.support-manager-a, from NOTIFY_USER)", "")
    assert "resolved" in table and "accepted" in table
    again = laptop(server, tmp_path, token, "resolve", ID)
    assert again.stdout == f"{ID} was resolved already: nobody was notified again\n"


def test_resolve_leaves_what_is_unsent_after_wait_to_the_server(server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    server.worker.tick()
    token = new_token(stage, "support-manager-a")
    resolved = laptop(server, tmp_path, token, "resolve", ID, "--wait", "0")
    assert resolved.exit_code == 3, resolved.output  # as locally: still being sent, by the server's worker
    assert "STILL RETRYING (left to `notify worker`)" in resolved.stdout
    server.worker.tick()
    assert all(d.status == "delivered" for d in server.store.deliveries(ID) if d.kind == "resolved")


def test_an_unknown_incident_and_an_unreachable_server_are_said_plainly(server: Server, stage: Stage,
                                                                         tmp_path: Path) -> None:
    token = new_token(stage, "cto")
    missing = laptop(server, tmp_path, token, "status", "SEC-2024-999")
    assert missing.exit_code == 2 and "SEC-2024-999: no such incident" in missing.output
    down = run("ack", ID, env={"NOTIFY_SERVER_URL": "http://127.0.0.1:9", "NOTIFY_API_TOKEN": token})
    assert down.exit_code == 2 and "could not be reached" in down.output and token not in down.output


def test_escalate_now_update_and_reclassify_go_through_the_server_as_the_tokens_person(
        server: Server, stage: Stage, tmp_path: Path) -> None:
    stage.trigger()
    token = new_token(stage, "support-manager-a")
    escalated = laptop(server, tmp_path, token, "escalate-now", ID)
    assert escalated.exit_code == 0, escalated.output
    assert escalated.stdout.startswith(f"{ID}: escalation stage 1 (") and server.url in escalated.stdout
    fired = [e for e in server.store.events(ID) if e.kind == "escalated"]
    assert [(e.key, e.by) for e in fired] == [("escalation-1", "Support Manager A")]

    updated = laptop(server, tmp_path, token, "update", ID, "--message", "Containment in progress")
    assert updated.exit_code == 0, updated.output
    assert [(e.kind, e.by, e.detail) for e in server.store.events(ID) if e.kind == "update"] == [
        ("update", "Support Manager A", "Containment in progress")]

    moved = laptop(server, tmp_path, token, "reclassify", ID, "outage", "--json")
    assert moved.exit_code == 0, moved.output
    answer = json.loads(moved.stdout)
    assert (answer["outcome"], answer["from"], answer["to"]) == ("changed", "security", "outage")
    assert server.store.incident(ID).klass == "outage"
    refused = laptop(server, tmp_path, token, "reclassify", ID, "legal", "--by", "CTO")  # not the token's person
    assert refused.exit_code == 2 and "answered 403" in refused.output
    assert server.store.incident(ID).klass == "outage"


def test_a_personal_token_cannot_say_it_came_by_sms(server: Server, stage: Stage) -> None:
    """`by` is the token's person; `via` is the API, whatever the body claims: the timeline says how it came."""
    stage.trigger()
    token = new_token(stage, "support-manager-a")
    assert server.post(f"/incidents/{ID}/ack", {"via": "sms"}, token=token).status_code == 200
    [acked] = [e for e in server.store.events(ID) if e.kind == "acknowledged"]
    assert acked.detail == "acknowledged by Support Manager A via api"


def test_a_command_that_does_not_go_through_the_server_says_it_reads_this_machines_store(
        server: Server, stage: Stage, tmp_path: Path) -> None:
    """`notify log` with NOTIFY_SERVER_URL set reads the local store: an empty one must not read as 'nobody paged'."""
    stage.trigger()  # paged, on the server's store
    token = new_token(stage, "support-manager-a")
    log = laptop(server, tmp_path, token, "log", "--limit", "2")
    assert log.exit_code == 0
    assert (f"notify: NOTIFY_SERVER_URL is set, but `notify log` does not go through the server: it uses this "
            f"machine's store, sqlite:///{tmp_path / 'laptop-state'}") in log.stderr
    assert token not in log.output
    status = laptop(server, tmp_path, token, "status", ID)  # an incident command goes through it, and says nothing
    assert status.exit_code == 0 and "NOTIFY_SERVER_URL is set" not in status.stderr
