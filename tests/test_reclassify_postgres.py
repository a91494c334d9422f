"""tests/test_reclassify.py again, on a stage whose store is a private PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatcher.store import open_store

from . import pg
from .stage import Stage, make_stage
from .test_reclassify import (  # noqa: F401 - collected again here, on the PostgreSQL stage
    test_a_held_notice_the_new_class_also_sends_is_replaced_not_sent_twice,
    test_a_needs_review_incident_pages_the_team_and_holds_the_customer_notice_visibly,
    test_a_reclassified_incident_needs_its_own_acknowledgement,
    test_a_resolved_incident_or_an_unknown_class_is_refused_and_nothing_changes,
    test_a_running_worker_renders_the_new_classs_pages_on_the_new_classs_templates,
    test_a_two_hour_old_incident_reclassified_starts_the_new_ladder_at_its_first_rung,
    test_confirming_the_class_releases_the_held_notice_once,
    test_reclassifying_cancels_the_old_classs_waiting_pages_and_tells_both_audiences,
    test_resolving_an_unconfirmed_incident_never_sends_its_held_notice,
    test_the_new_classs_ladder_counts_from_the_reclassification,
    test_two_processes_confirming_at_once_release_the_notice_once,
)


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The reclassification stage (SMTP server, provider proxy, fake clock) with its store on PostgreSQL."""
    with pg.schema("reclassify") as url:
        for staged in make_stage(config_dir, tmp_path, monkeypatch):
            staged.store = lambda: open_store(url)  # every store the tests open is this schema
            yield staged


def test_the_store_under_these_tests_is_postgres(stage: Stage) -> None:
    with stage.store() as store:
        assert type(store).__name__ == "PostgresStore"
