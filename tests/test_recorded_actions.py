"""Templates claim only what happened: an action appears once it is recorded (`notify update --record`), and the
customer's once a notice to them was accepted; the status page line follows its delivery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app import engine
from dispatcher.app.incidents import post_update
from dispatcher.app.worker import Worker

from .helpers import run
from .stage import Stage, make_stage


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def _email_to(stage: Stage, address: str) -> str:
    (message,) = [m for m in stage.smtp.messages if address in str(m["To"])]
    return message.get_body(("plain",)).get_content()


def test_an_action_is_claimed_only_after_it_is_recorded(stage: Stage) -> None:
    stage.trigger(fields={"summary": "Unusual admin logins"})  # no customer: nobody acknowledged them
    step_0 = _email_to(stage, "security-incident@teamflow.com")
    assert "- Security team notified" in step_0
    assert "Customer acknowledged" not in step_0 and "Environment secured" not in step_0

    rt, store = stage.runtime(), stage.store()
    stage.clock.advance(timedelta(minutes=5))
    posted = post_update(rt, store, "SEC-2024-001", "Sessions revoked", "support-manager-a", stage.clock.now(),
                         record=("environment-secured",))
    engine.send_pending(rt, store, stage.clock, posted.incident, posted.rows, wait=30)
    worker = Worker(rt, store, stage.clock)
    stage.clock.advance(timedelta(minutes=10))
    worker.tick()  # +15: the class's second step, rendered on the class's email template
    events = store.events("SEC-2024-001")
    worker.close()
    store.close()

    step_1 = _email_to(stage, "legal-emergency@teamflow.com")
    assert "- Environment secured" in step_1
    assert "Customer acknowledged" not in step_1
    (update,) = [e for e in events if e.kind in ("update", "uncounted-update")]  # uncounted: no customer email
    assert update.detail.startswith("Sessions revoked") and update.detail.endswith("(recorded: environment secured)")


def test_the_customer_is_acknowledged_once_a_notice_to_them_was_accepted(stage: Stage) -> None:
    stage.trigger()  # the customer notice goes out with step 0
    rt, store = stage.runtime(), stage.store()
    worker = Worker(rt, store, stage.clock)
    stage.clock.advance(timedelta(minutes=15))
    worker.tick()
    worker.close()
    store.close()
    assert "- Customer acknowledged" in _email_to(stage, "legal-emergency@teamflow.com")


def test_a_record_through_the_server_is_refused_rather_than_dropped(tmp_path: Path) -> None:
    result = run("update", "SEC-2026-001", "--message", "x", "--record", "environment-secured",
                 env={"NOTIFY_SERVER_URL": "https://notify.example.invalid", "NOTIFY_API_TOKEN": "t" * 32})
    assert result.exit_code == 2 and "--record is recorded in the local store only" in result.stderr
