"""What dispatcher/settings.py still uses of the old dataclass validation; goes with settings.py's move
to pydantic-settings (the configuration files are pydantic models: dispatcher/directory.py's ``Table``).

``Annotated[int, Rules(ge=1, le=4)]`` means ``Field(ge=1, le=4)``, resolved only when validating.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Rules", "validate"]

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


def validate(kind: type, data: Any) -> Any:
    """``data`` validated as ``kind`` (raises pydantic's ValidationError); imports pydantic on first use."""
    adapter = _adapters.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter.validate_python(data)
