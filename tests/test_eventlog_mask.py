"""The worker's log lines stay masked while they skip the searches a value cannot need (issue 21 item 5)."""

from __future__ import annotations

import io
import logging

import pytest

from dispatcher.eventlog import EVENTS, configure, emit


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = configure("text", secrets=("hunter2-secret",), stream=stream)
    yield stream
    for name in ("notify", "uvicorn"):
        logging.getLogger(name).removeHandler(handler)


@pytest.mark.parametrize("value, shown", [
    ("outage", "outage"),  # nothing to mask: as it is
    ("pw hunter2-secret here", '"pw *** here"'),  # a configured secret, no '/' nor '='
    ("https://bot:tok3n@hooks.example/x", "https://***@hooks.example/x"),  # credentials in a URL
    ("see ?token=abc123&x=1", '"see ?token=***&x=1"'),  # a query's key=
])
def test_every_field_is_masked_as_before(lines, value: str, shown: str) -> None:
    emit("incident.opened", "OUT-2026-001", source="alertmanager", detail=value)
    assert lines.getvalue().rstrip().endswith(f"detail={shown}")


def test_the_record_message_is_the_event_line(caplog) -> None:
    with caplog.at_level(logging.INFO, logger=EVENTS.name):
        emit("hook.ignored", None, source="grafana", outcome="duplicate", deliveries=0)
    assert caplog.messages[-1] == "hook.ignored incident=- source=grafana outcome=duplicate deliveries=0"
