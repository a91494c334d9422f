"""Silences and maintenance windows: add, list, expire (`notify silence ...`, `notify maintenance ...`, the API).

A silence is Alertmanager's matchers (domain/matchers.py, as the routing rules use them) over an alert's
labels and the pseudo-labels class, tier, source and service; a window names services and is scheduled
ahead. Both affect alerts that arrive while they are in effect, never an incident already paging:
`silence add` lists the open incidents a silence matches so the operator sees what it does not cover.
Expiring one releases at once what it held (holds.py) instead of waiting for the worker's next tick.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from ..clock import iso
from ..domain.durations import parse_duration
from ..domain.matchers import parse_matcher
from ..domain.silences import MAINTENANCE, SILENCE, Silence, applies
from ..errors import InputError, SilenceNotFound
from ..render.table import Column, Output, render
from ..store import Store
from .engine import Runtime
from .holds import row_facts
from .release import release_due

__all__ = ["Expired", "add_maintenance", "add_silence", "expire", "list_silences",
           "silence_json", "silences_table"]

MAX_LENGTH = timedelta(days=90)  # longer is a forgotten silence, not planned work


@dataclass(frozen=True)
class Expired:
    silence: Silence
    released: list[str]  # incidents paged now that it no longer holds them back


def silence_json(s: Silence, now: datetime | None = None) -> dict[str, Any]:
    state = "expired" if s.expired else ("active" if now and s.active_at(now) else
                                         "pending" if now and now < s.starts else "ended" if now else None)
    return {"id": s.id, "kind": s.kind, "matchers": list(s.matchers), "services": list(s.services),
            "starts": s.starts.isoformat(), "ends": s.ends.isoformat(), "created": s.created.isoformat(),
            "by": s.by, "reason": s.reason, "expired": iso(s.expired), "state": state}


def add_silence(rt: Runtime, store: Store, matchers: Sequence[str], *, duration: str, by: str, reason: str,
                now: datetime, starts: datetime | None = None) -> tuple[Silence, list[dict[str, Any]]]:
    """Store a silence from now (or `starts`) for `duration`; returns it and the open incidents it matches,
    which it does not hold back (a silence affects alerts that arrive from now on)."""
    parsed = _matchers(rt, matchers)
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise InputError("for", str(exc)) from None
    begin = starts or now
    silence = Silence(_new_id("S"), SILENCE, begin, begin + _checked_length(length, "for"), now, _text(by, "by"),
                      _text(reason, "reason"), matchers=parsed)
    store.add_silence(silence)
    return silence, _matching_open(rt, store, silence, max(now, begin))


def add_maintenance(store: Store, services: Sequence[str], *, starts: datetime, ends: datetime, by: str,
                    reason: str, now: datetime) -> Silence:
    """Schedule a maintenance window for `services` (alerts naming one are held back while it is in effect)."""
    names = tuple(dict.fromkeys(s.strip() for s in services if s.strip()))
    if not names:
        raise InputError("service", "name at least one service (as alerts name it: the `service` label, or the "
                                    "generic hook's affected_services)")
    if ends <= starts:
        raise InputError("to", f"{iso(ends)} is not after --from {iso(starts)}")
    if ends <= now:
        raise InputError("to", f"{iso(ends)} is in the past: a window is scheduled ahead, or is in effect now")
    _checked_length(ends - starts, "to")
    window = Silence(_new_id("M"), MAINTENANCE, starts, ends, now, _text(by, "by"), _text(reason, "reason"),
                     services=names)
    store.add_silence(window)
    return window


def list_silences(store: Store, now: datetime, *, include_ended: bool = False) -> list[Silence]:
    """The silences and windows in effect or to come (every one ever, with `include_ended`)."""
    return store.silences() if include_ended else store.silences(ending_after=now)


def expire(rt: Runtime, store: Store, silence_id: str, now: datetime) -> Expired:
    """End a silence or window now and release at once the pages it alone held back."""
    ended = store.expire_silence(silence_id.strip(), now)
    if ended is None:
        raise SilenceNotFound(f"no silence or maintenance window {silence_id.strip()!r} (see `notify silence list`)")
    return Expired(ended, release_due(rt, store, now))


def _matchers(rt: Runtime, given: Sequence[str]) -> tuple[str, ...]:
    """The matchers, each parsed by the routing rules' parser; a pseudo-label's value checked where it can be."""
    if not given:
        raise InputError("match", 'give at least one matcher, such as alertname="DiskFull"')
    out = []
    for text in given:
        try:
            matcher = parse_matcher(text)
        except ValueError as exc:
            raise InputError("match", str(exc)) from None
        known = {"class": rt.policy.classes, "tier": rt.policy.tiers}.get(matcher.name)
        if known is not None and matcher.op == "=" and matcher.value not in known:
            raise InputError("match", f"{text!r}: no {matcher.name} {matcher.value!r} in the policy "
                                      f"(known: {', '.join(known)})")
        out.append(text.strip())
    if all(parse_matcher(m).matches({}) for m in out):  # matches an alert with no labels: it would hold everything
        raise InputError("match", "these matchers match every alert; name at least one label value, such as "
                                  'alertname="DiskFull"')
    return tuple(out)


def _matching_open(rt: Runtime, store: Store, silence: Silence, at: datetime) -> list[dict[str, Any]]:
    """The open incidents whose alerts the silence matches (ignoring when they arrived)."""
    found = []
    for row in store.incidents(open_only=True):
        if row.meta.get("hold") or row.drill:
            continue
        facts = row_facts(rt, row)
        if facts and all(applies(silence, f, at, arrived=silence.created) for f in facts):
            found.append({"id": row.id, "class": row.klass, "summary": row.fields.get("summary", ""),
                          "status": row.status})
    return found


def _checked_length(length: timedelta, field: str) -> timedelta:
    if length <= timedelta(0) or length > MAX_LENGTH:
        raise InputError(field, f"a silence or window lasts more than 0 and at most {MAX_LENGTH.days} days")
    return length


def _text(value: str | None, field: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise InputError(field, "required: say who and why, so the next on-call knows what is muted")
    return text[:500]


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


_COLUMNS = (Column("ID", fixed=True), Column("STATE", fixed=True), Column("FROM", fixed=True),
            Column("UNTIL", fixed=True), Column("WHAT"), Column("BY"), Column("REASON"))


def silences_table(rows: Sequence[Silence], now: datetime, out: Output) -> str:
    def what(s: Silence) -> str:
        return ", ".join(s.matchers) if s.kind == SILENCE else "maintenance: " + ", ".join(s.services)

    return render(_COLUMNS, [(s.id, silence_json(s, now)["state"], s.starts.isoformat()[:16],
                              s.ends.isoformat()[:16], what(s), s.by, s.reason) for s in rows], out)
