"""The accept path's writer thread (server/inbox_writer.py): webhooks queued meanwhile are stored as one group."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from dispatcher.errors import StoreError, StoreRejected
from dispatcher.server.app import answer
from dispatcher.server.http_error import HTTPError, StoreTimeout
from dispatcher.server.inbox_writer import InboxWriter, enqueue_group


class Event:  # what enqueue_group reads of a parsed AlertEvent
    def __init__(self, key: str, source: str = "alertmanager") -> None:
        self.source, self.dedup_key = source, key


def test_webhooks_queued_during_a_commit_are_stored_together_in_order() -> None:
    first_in, release, groups = threading.Event(), threading.Event(), []

    def store_group(webhooks: list) -> list:
        groups.append([body for _, body, _ in webhooks])
        if len(groups) == 1:
            first_in.set()
            release.wait(10)
        return [{"event": body.decode()} for _, body, _ in webhooks]

    writer = InboxWriter(store_group, timeout=30, answer=answer)

    async def burst() -> list:
        first = asyncio.ensure_future(writer.store("alertmanager", b"0", None))
        await asyncio.get_running_loop().run_in_executor(None, first_in.wait, 10)  # the writer is committing "0"
        rest = [asyncio.ensure_future(writer.store("alertmanager", str(n).encode(), None)) for n in range(1, 6)]
        await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(first, *rest)

    answers = asyncio.run(burst())
    writer.close()
    assert [a["event"] for a in answers] == ["0", "1", "2", "3", "4", "5"]
    assert groups == [[b"0"], [b"1", b"2", b"3", b"4", b"5"]]  # one transaction for all that queued meanwhile


def test_a_failed_group_fails_each_request_with_the_store_s_answer() -> None:
    def store_group(webhooks: list) -> list:
        raise StoreError("store notify.db: disk I/O error")

    writer = InboxWriter(store_group, timeout=30, answer=answer)
    with pytest.raises(HTTPError) as refused:
        asyncio.run(writer.store("alertmanager", b"{}", None))
    writer.close()
    assert refused.value.status == 503 and "nothing was stored" in refused.value.message


def test_a_store_that_does_not_answer_is_a_503_while_the_write_goes_on() -> None:
    release = threading.Event()
    writer = InboxWriter(lambda webhooks: [release.wait(10)] * len(webhooks), timeout=0.05, answer=answer)
    with pytest.raises(StoreTimeout):
        asyncio.run(writer.store("alertmanager", b"{}", None))
    release.set()
    writer.close()


class Store:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def enqueue_many(self, webhooks: list, received: datetime) -> list[int]:
        if any("\x00" in body for _, _, body in webhooks):
            raise StoreRejected("store notify: cannot hold this value: NUL")
        self.rows += webhooks
        return list(range(len(self.rows) - len(webhooks) + 1, len(self.rows) + 1))


def test_one_webhook_refused_for_good_is_stored_alone_and_the_others_are_stored() -> None:
    store, woken = Store(), []
    webhooks = [("alertmanager", b"a", Event("g")), ("alertmanager", "b\x00".encode(), Event("h")),
                ("grafana", b"c", Event("k", "grafana"))]
    answers = enqueue_group(store, lambda: datetime(2026, 1, 1, tzinfo=UTC), woken.append, webhooks)
    assert answers[0] == {"schema": 1, "outcome": "queued", "event": 1, "dedup_key": "alertmanager:g"}
    assert isinstance(answers[1], StoreRejected)
    assert answers[2] == {"schema": 1, "outcome": "queued", "event": 2, "dedup_key": "grafana:k"}
    assert store.rows == [("alertmanager", "alertmanager:g", "a"), ("grafana", "grafana:k", "c")]
    assert woken == [2]  # the sender is woken once for the group, counting what was stored


def test_a_store_failing_midway_through_the_one_by_one_retry_answers_only_what_it_did_not_store() -> None:
    class Failing(Store):
        def enqueue_many(self, webhooks: list, received: datetime) -> list[int]:
            if len(webhooks) == 1 and webhooks[0][2] == "c":
                raise StoreError("store notify: database is locked")
            return super().enqueue_many(webhooks, received)

    store, woken = Failing(), []
    webhooks = [("alertmanager", b"a", Event("g")), ("alertmanager", "b\x00".encode(), Event("h")),
                ("alertmanager", b"c", Event("k"))]
    answers = enqueue_group(store, lambda: datetime(2026, 1, 1, tzinfo=UTC), woken.append, webhooks)
    assert answers[0] == {"schema": 1, "outcome": "queued", "event": 1, "dedup_key": "alertmanager:g"}
    assert isinstance(answers[1], StoreRejected)
    assert type(answers[2]) is StoreError  # 503: its sender retries it; the first was stored and is 202
    assert store.rows == [("alertmanager", "alertmanager:g", "a")] and woken == [1]
