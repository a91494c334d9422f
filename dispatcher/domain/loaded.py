"""What is worked out once per loaded configuration: a memo keyed by the identity of frozen config objects.

Triage and planning ask on every alert for things that depend only on the loaded routing rules, policy or
directory. Those are frozen once loaded, and a key made of their contents would cost more than the work it
saves; so the memo is keyed by identity, and holds the objects, so that an id is not reused while cached.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

__all__ = ["PerLoaded"]

T = TypeVar("T")


class PerLoaded(Generic[T]):
    """`get(objects, make)`: make() once for the same objects (by identity); at most `limit` kept."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._known: dict[tuple[int, ...], tuple[tuple[Any, ...], T]] = {}

    def get(self, objects: tuple[Any, ...], make: Callable[[], T]) -> T:
        ids = tuple(map(id, objects))
        known = self._known.get(ids)
        if known is None or any(held is not given for held, given in zip(known[0], objects)):
            if len(self._known) >= self.limit:
                self._known.clear()
            known = self._known[ids] = (objects, make())
        return known[1]
