"""Problems found in configuration, named by file and key, ranked by severity.

Everything that validates (directory, policy, templates, channel settings)
reports a list of :class:`Problem` instead of raising on the first one, so
`notify check` can show them all at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError  # re-exported: raised with the problems below

__all__ = ["ConfigError", "Problem", "Severity", "pydantic_problems"]


class Severity(str, enum.Enum):
    ERROR = "error"  # blocks sending: exit 2
    WARNING = "warning"  # works, but probably not as intended
    NOTE = "note"  # worth knowing (placeholders, unused settings)


@dataclass(frozen=True)
class Problem:
    severity: Severity
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{self.severity.value}: {where}: {self.message}"

    def as_json(self) -> dict[str, str]:
        return {"severity": self.severity.value, "file": self.file, "key": self.key, "message": self.message}


def error(file: str, key: str, message: str) -> Problem:
    return Problem(Severity.ERROR, file, key, message)


def warning(file: str, key: str, message: str) -> Problem:
    return Problem(Severity.WARNING, file, key, message)


def note(file: str, key: str, message: str) -> Problem:
    return Problem(Severity.NOTE, file, key, message)


def pydantic_problems(path: Path, exc: Any) -> list[Problem]:
    """One problem per error of a pydantic ``ValidationError``, keyed by its dotted location (rules[3].class)."""
    problems = []
    for err in exc.errors():
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]).lstrip(".")
        message = "unknown key (typo?)" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        if err["type"] in ("literal_error", "enum") and isinstance(err.get("input"), str):
            message = f"{err['input'][:60]!r}: {message[0].lower()}{message[1:]}"  # what was written, then the choices
        problems.append(error(str(path), key, message))
    return problems
