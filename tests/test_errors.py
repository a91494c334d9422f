"""The error tree (dispatcher/errors.py): every deliberate error is a NotifyError, its statuses chosen by type."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from dispatcher import errors
from dispatcher.config.problems import ConfigError, error
from dispatcher.domain.incident import started_at
from dispatcher.errors import (
    IncidentClosed,
    IncidentNotFound,
    InputError,
    LinkExpired,
    LinkGone,
    NotifyError,
    PayloadError,
    StoreBehind,
    NotYours,
    RemoteError,
    SilenceNotFound,
    StoreError,
    StoreRejected,
    TemplateError,
)
from dispatcher.server.app import answer

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)

# (error, HTTP status, exit status): the table errors.py's docstring draws.
STATUSES = [
    (ConfigError([error("policy.toml", "classes.x", "no such incident class")]), 422, 2),
    (InputError("started", "2099-01-01T00:00:00+00:00 is in the future"), 422, 2),
    (PayloadError("labels", "expected an object"), 422, 2),
    (PayloadError("body", "not JSON"), 400, 2),
    (IncidentNotFound("SEC-2026-999"), 404, 2),
    (IncidentClosed("SEC-2026-001", "resolved at 2026-11-26T03:00:00+00:00: no more updates"), 409, 2),
    (StoreError("cannot open /var/lib/notify/notify.db"), 503, 2),
    (StoreBehind("schema 5, this program needs 6: run `notify db upgrade`"), 503, 2),
    (StoreRejected("a NUL in text"), 422, 2),
    (TemplateError("security/email.txt:3: undefined"), 500, 2),
    (NotYours("Jane Doe (jane)", "bob"), 403, 2),
    (RemoteError("http://notify.internal:8080 answered 401: missing or invalid credentials", 401), 502, 2),
    (LinkGone("this link is not one notify sent"), 404, 2),
    (LinkExpired("this link for SEC-2026-001 expired"), 410, 2),
    (SilenceNotFound("no silence or maintenance window 'S-000000'"), 404, 2),
]


@pytest.mark.parametrize(("exc", "http_status", "exit_status"), STATUSES, ids=lambda v: type(v).__name__)
def test_each_error_carries_its_statuses(exc: NotifyError, http_status: int, exit_status: int) -> None:
    assert isinstance(exc, NotifyError)
    assert (exc.http_status, exc.exit_status) == (http_status, exit_status)
    assert answer(exc).status == http_status


def test_every_class_of_the_module_is_in_the_tree_and_drawn_in_its_docstring() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    for cls in classes:
        assert f" {cls.__name__} " in errors.__doc__, cls
        assert issubclass(cls, NotifyError) or cls is errors.AlreadyHandled  # a replay, not an error
    assert {type(exc) for exc, _, _ in STATUSES} == {c for c in classes if c not in (NotifyError, errors.IncidentError,
                                                                                      errors.AlreadyHandled)}


def test_the_old_homes_still_export_the_classes() -> None:
    from dispatcher.app.incidents import IncidentNotFound as from_app
    from dispatcher.hooks import PayloadError as from_hooks
    from dispatcher.render.templates import TemplateError as from_render
    from dispatcher.store import AlreadyHandled
    from dispatcher.store import StoreBehind as behind
    from dispatcher.store import StoreError as store_error
    from dispatcher.store import StoreRejected as rejected

    assert (from_app, from_hooks, from_render) == (IncidentNotFound, PayloadError, TemplateError)
    assert (store_error, behind, rejected, AlreadyHandled) == (StoreError, StoreBehind, StoreRejected,
                                                               errors.AlreadyHandled)


def test_the_answer_says_what_the_caller_may_know(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "notify.server"):
        down = answer(StoreError("cannot open postgresql://notify@db/notify: connection refused"))
        broken = answer(TemplateError("security/email.txt:3: undefined"))
    assert (down.status, down.message) == (503, "the store is unavailable; nothing was stored, retry later")
    assert (broken.status, broken.message) == (500, "internal error; see the server's log")  # details: the log
    assert "connection refused" in caplog.text and "security/email.txt:3" in caplog.text
    bad = answer(InputError("started", "2099-01-01T00:00:00+00:00 is in the future"))
    assert (bad.status, bad.message, bad.field) == (422, "started: 2099-01-01T00:00:00+00:00 is in the future",
                                                    "started")
    assert answer(IncidentNotFound("SEC-2026-999")).message == "SEC-2026-999: no such incident"


@pytest.mark.parametrize(("given", "expected"), [
    (None, NOW),
    ("2026-11-26T02:00:00Z", NOW - timedelta(hours=1)),
    ("2026-11-26T02:00:00", NOW - timedelta(hours=1)),  # no zone: UTC
    ("2026-11-26T03:04:59Z", NOW + timedelta(minutes=4, seconds=59)),  # another clock a little ahead
])
def test_started_is_taken_as_given_when_it_is_a_past_time(given: str | None, expected: datetime) -> None:
    assert started_at(given, NOW) == expected


@pytest.mark.parametrize(("given", "problem"), [
    ("2026-11-26T03:05:01Z", "2026-11-26T03:05:01+00:00 is in the future"),
    ("2099-01-01T00:00:00Z", "2099-01-01T00:00:00+00:00 is in the future"),
    ("yesterday", "'yesterday' is not an ISO 8601 time (e.g. 2026-11-26T03:12:00Z)"),
])
def test_started_in_the_future_or_not_a_time_is_refused_naming_the_field(given: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        started_at(given, NOW)
    assert (caught.value.field, caught.value.problem) == ("started", problem)
