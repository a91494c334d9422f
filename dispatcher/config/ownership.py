"""Whether a file or directory in the working directory may be trusted: the user's own, and nobody else's to write.

A directory someone else can write into can gain a `contacts.toml`, a `templates/`
or a `.env` the user never wrote; notify reads such configuration only from paths
that belong to the user (or root) and that neither the group nor others can write.
Stdlib only: settings and config resolution use it at every start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["untrusted"]


def untrusted(*paths: Path) -> tuple[Path, str] | None:
    """The first of ``paths`` that may not be trusted and why, e.g. (/x/.env, "is writable by other users
    (mode 0666)"); None when every one that exists is fine."""
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            return path, f"cannot be checked ({exc.strerror})"
        if info.st_uid not in (os.geteuid(), 0):
            return path, f"belongs to another user (uid {info.st_uid})"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return path, f"is writable by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None
