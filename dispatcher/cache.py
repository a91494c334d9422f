"""A private on-disk cache: what is left of it is channel discovery's (dispatcher/registry.py).

Configuration files are validated every run and templates are compiled through
jinja2's own bytecode cache (dispatcher/rendering.py), so this module goes as
soon as registry.py reads entry points through importlib.metadata alone.

Any failure to find, read or write the cache falls back to doing the work,
silently. It holds pickles, so it is used only when the directory belongs to
this user and nobody else can write to it. Where: ``NOTIFY_CACHE_DIR``, else
``$XDG_CACHE_HOME/notify``, else ``~/.cache/notify``; ``NOTIFY_CACHE_DIR=off``
turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "code_stamp", "content_key", "load", "save"]

_PACKAGE = Path(__file__).resolve().parent
_code_stamp: str | None = None


def code_stamp() -> str:
    """A short hash of notify's own source files (name, size, mtime), so new code means new entries."""
    global _code_stamp
    if _code_stamp is None:
        digest = hashlib.sha256()
        for root, dirs, files in os.walk(_PACKAGE):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(root, name))
                    digest.update(f"{root}/{name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
        _code_stamp = digest.hexdigest()[:16]
    return _code_stamp


def cache_dir(kind: str) -> Path | None:
    """This code version's private directory for ``kind`` entries, or None when there is no usable cache."""
    root = _root()
    if root is None:
        return None
    try:
        _private_dir(root)
        current = root / code_stamp()
        if not current.is_dir():
            _forget_other_versions(root)
            _private_dir(current)
        path = current / kind
        _private_dir(path)
        return path
    except OSError:
        return None


def content_key(*parts: bytes | str) -> str:
    """A key for an entry derived from ``parts`` (file contents, names, options)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def load(kind: str, key: str) -> Any | None:
    """The value saved under ``key``, or None on a miss or an unreadable entry."""
    directory = cache_dir(kind)
    if directory is None:
        return None
    try:
        with open(directory / key, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # a truncated or foreign entry is a miss; the work is redone and the entry rewritten
        return None


def save(kind: str, key: str, value: Any) -> None:
    """Keep ``value`` under ``key``; a failure (full disk, unpicklable value) costs only the saving."""
    directory = cache_dir(kind)
    if directory is None:
        return
    try:
        write_atomically(directory / key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        pass


def write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it, so a reader never sees half of it."""
    import tempfile

    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _root() -> Path | None:
    configured = os.environ.get("NOTIFY_CACHE_DIR")
    if configured:
        return None if configured.lower() in ("off", "0", "false", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "notify"


def _private_dir(path: Path) -> None:
    """Create ``path`` as 0700, or check an existing one is ours and not writable by others (else OSError)."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"{path} is not a private directory of this user")


def _forget_other_versions(root: Path, keep: int = 3) -> None:
    """Entries of old code versions never hit again: keep the ``keep`` most recently written, remove the rest.

    Several installations of different versions may share one cache (two venvs, a
    checkout and a wheel); keeping a few stops them from wiping each other's entries.
    """
    import shutil

    versions = [entry for entry in root.iterdir()
                if entry.is_dir() and not entry.is_symlink() and len(entry.name) == 16]
    versions.sort(key=lambda entry: entry.stat().st_mtime_ns, reverse=True)
    for entry in versions[keep:]:
        shutil.rmtree(entry, ignore_errors=True)
