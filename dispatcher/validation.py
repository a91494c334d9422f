"""Configuration types as plain dataclasses that pydantic validates only when it has to.

pydantic is the validator of record for every configuration file, but
importing it and building its validators costs a command more than the rest
of its start-up together. So the configuration types are stdlib dataclasses,
cheap to import and to unpickle from the cache (:mod:`dispatcher.cache`), and
their constraints are annotation metadata that pydantic reads when a file is
actually validated: ``Annotated[int, Rules(ge=1, le=4)]`` means
``Field(ge=1, le=4)``; ``Annotated[str, Check(fn)]`` runs ``fn`` after
pydantic's own checks (``Check(fn, before=True)``: before). The messages are
pydantic's own, as they were when the types were pydantic models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from .problems import Problem, error

__all__ = ["FORBID_EXTRA", "Check", "Rules", "cached_check", "pydantic_problems", "validate"]

T = TypeVar("T")

# A dataclass's ``__pydantic_config__``: an unknown key is an error (a typo must not be ignored).
FORBID_EXTRA = {"extra": "forbid"}

_adapters: dict[type, Any] = {}


class Rules:
    """Annotation metadata standing for ``pydantic.Field(**constraints)``, resolved only when validating."""

    __slots__ = ("constraints",)

    def __init__(self, **constraints: Any) -> None:
        self.constraints = constraints

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from typing import Annotated

        from pydantic import Field

        return handler(Annotated[source, Field(**self.constraints)])


class Check:
    """Annotation metadata: a validator function run after (or ``before``) pydantic's checks of the value."""

    __slots__ = ("function", "before")

    def __init__(self, function: Callable[[Any], Any], *, before: bool = False) -> None:
        self.function = function
        self.before = before

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        if self.before:
            return core_schema.no_info_before_validator_function(self.function, handler(source))
        return core_schema.no_info_after_validator_function(self.function, handler(source))


def validate(kind: type, data: Any) -> Any:
    """``data`` validated as ``kind`` (raises pydantic's ValidationError); imports pydantic on first use."""
    adapter = _adapters.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter.validate_python(data)


def cached_check(kind: str, path: Path, check: Callable[[], tuple[T, list[Problem]]],
                 *inputs: Any) -> tuple[T, list[Problem]]:
    """``check()``, the validation of the file at ``path``, or its result from the last run with the
    same file bytes, path, ``inputs`` (what the check also depends on: dataclasses, whose repr shows
    every field), pydantic and notify code."""
    from . import cache

    try:
        content = path.read_bytes()
    except OSError:
        return check()  # the check reports the unreadable file
    key = cache.content_key(kind, str(path), content, cache.package_stamp("pydantic"),
                            *(repr(value) for value in inputs))
    result = cache.load("config", key)
    if result is None:
        result = check()
        cache.save("config", key, result)
    return result


def pydantic_problems(path: Path, exc: Any) -> list[Problem]:
    """One problem per pydantic error, keyed by its dotted location."""
    problems = []
    for err in exc.errors():
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]).lstrip(".")
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "unknown key (typo?)"
        elif err["type"] == "missing_argument":
            message = "Field required"
        problems.append(error(str(path), key, message))
    return problems
