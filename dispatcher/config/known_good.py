"""The last contacts.toml and policy.toml that validated, so that one typo cannot silence paging.

Alertmanager keeps running its last good configuration when a reload fails.
notify's commands read the files afresh every run, so after a bad edit (a
phone number missing its +, a role misspelt) the next trigger would page
nobody at all. A trigger, and only a trigger, then pages with the last copy
that validated and says so loudly; `notify check` and every other command
still refuse the broken files. The copies live in the state directory (they
are as private as the store), one pair per config directory, and are
rewritten whenever the files validate and differ from them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from .paths import ConfigPaths

__all__ = ["recall", "remember"]

_FILES = ("contacts", "policy")  # ConfigPaths fields; templates fail per notice and have their own fallback


def remember(paths: ConfigPaths, state_dir: Path) -> None:
    """Keep a copy of the files `paths` names, which just validated; never fails a command."""
    try:
        target = _copies(paths, state_dir)
        for name in _FILES:
            content = getattr(paths, name).read_bytes()
            copy = target / f"{name}.toml"
            if not copy.is_file() or copy.read_bytes() != content:
                target.mkdir(parents=True, exist_ok=True, mode=0o700)
                write_atomically(copy, content)
    except OSError:
        pass  # a read-only state dir costs only the safety net


def recall(paths: ConfigPaths, state_dir: Path) -> tuple[ConfigPaths, datetime] | None:
    """The paths of the last copies that validated for this config directory, and when they were saved."""
    target = _copies(paths, state_dir)
    copies = {name: target / f"{name}.toml" for name in _FILES}
    if not all(copy.is_file() for copy in copies.values()):
        return None
    saved = max(copy.stat().st_mtime for copy in copies.values())
    return replace(paths, **copies), datetime.fromtimestamp(saved, timezone.utc)


def _copies(paths: ConfigPaths, state_dir: Path) -> Path:
    return state_dir / "last-good" / hashlib.sha256(str(paths.config_dir).encode()).hexdigest()[:16]



def write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it, so a reader never sees half of it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
