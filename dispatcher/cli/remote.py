"""The incident commands with NOTIFY_SERVER_URL set: the same output, from `notify serve`'s API (app/remote.py).

Who acts is the server's to say: with a personal token, its person (a --by or
NOTIFY_USER naming someone else is refused, 403); with the operator token,
--by or NOTIFY_USER as given. The login name is not sent: it means nothing to
a server on another host.
"""

from __future__ import annotations

from typing import Any

from .common import _emit, _emit_json, _settings, _table_output


def remote() -> Any:
    """The server the incident commands go through (app.remote.Remote), or None for the local store."""
    from ..app.remote import remote_from

    return remote_from(_settings())


def _by(by: str | None) -> str | None:
    if by is not None and by.strip():
        return by.strip()
    user = _settings().user
    return user.strip() if user and user.strip() else None


def ack(server: Any, incident_id: str, by: str | None, as_json: bool) -> None:
    settings = _settings()
    with server:
        answer = server.ack(incident_id, _by(by))
    via = f"via {server.url}"
    if as_json:
        _emit_json({"schema": 1, "command": "ack", "incident": incident_id, "acknowledged": answer["acknowledged"],
                    "status": answer["status"], "acked_by": answer["acked_by"], "acked_at": answer["acked_at"],
                    "by": {"name": answer["acked_by"], "found": via}}, settings, indent=None)
    elif answer["acknowledged"]:
        _emit(f"{incident_id} acknowledged by {answer['acked_by']} ({via}): escalation stopped", settings)
    else:
        _emit(f"{incident_id} is {answer['status']}" + (f" (acknowledged by {answer['acked_by']} at "
                                                        f"{answer['acked_at']})" if answer["acked_by"] else "")
              + ": nothing changed", settings)


def resolve(server: Any, incident_id: str, message: str | None, by: str | None, wait: float, as_json: bool) -> None:
    """As the local `resolve` prints: the resolution notices (sent by the server's worker) and who resolved it."""
    import sys

    from ..app.remote import notices_report, recorded

    settings = _settings()
    with server:
        answer = server.resolve(incident_id, message, _by(by))
        if not answer["resolved"]:
            _emit(f"{incident_id} was resolved already: nobody was notified again", settings)
            return
        report = notices_report(server, "resolve", incident_id, "resolved", wait)
        who = recorded(server.status(incident_id), "resolved")
    report.notes.append(f"incident resolved by {who} (via {server.url}): escalation, follow-up steps and "
                        "reminders stopped")
    if as_json:
        _emit_json(report.as_json(), settings)
    else:
        _emit(report.table(_table_output(settings)), settings)
    sys.exit(report.exit_status())


def update(server: Any, incident_id: str, message: str, by: str | None, as_json: bool) -> None:
    settings = _settings()
    with server:
        answer = server.update(incident_id, message, _by(by))
    if as_json:
        _emit_json({**answer, "command": "update"}, settings)
    else:
        _emit(f"{incident_id}: update recorded ({server.url})", settings)


def escalate_now(server: Any, incident_id: str, by: str | None, as_json: bool) -> None:
    settings = _settings()
    with server:
        answer = server.escalate(incident_id, _by(by))
    if as_json:
        _emit_json({**answer, "command": "escalate-now"}, settings)
    else:
        _emit(f"{incident_id}: escalation stage {answer['stage']} ({answer['audience']}) fired ({server.url}); "
              f"{answer['deliveries']} page(s) planned, later stages count from now", settings)


def reclassify(server: Any, incident_id: str, klass: str, by: str | None, as_json: bool) -> None:
    settings = _settings()
    with server:
        answer = server.reclassify(incident_id, klass, _by(by))
    if as_json:
        _emit_json(answer, settings)
    elif answer["outcome"] == "changed":
        _emit(f"{incident_id} reclassified from {answer['from']} to {answer['to']} ({server.url}): "
              f"{answer['notices']} notice(s) planned, {len(answer['cancelled'])} waiting page(s) cancelled", settings)
    elif answer["outcome"] == "confirmed":
        _emit(f"{incident_id}: class {answer['to']} confirmed ({server.url}); {answer['notices']} held notice(s) "
              "released", settings)
    else:
        _emit(answer.get("note") or f"{incident_id}: nothing changed", settings)


def status(server: Any, incident_id: str, as_json: bool) -> None:
    from ..app.incidents import status_text

    settings = _settings()
    with server:
        doc = server.status(incident_id)
    if as_json:
        _emit_json(doc, settings)
    else:
        _emit(status_text(doc, _table_output(settings)), settings)


def incidents(server: Any, open_only: bool) -> list[dict[str, Any]]:
    with server:
        return server.incidents(open_only=open_only)
