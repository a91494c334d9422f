"""domain/loaded.py: worked out once per loaded configuration object, by identity."""

from dispatcher.domain.loaded import PerLoaded


def test_the_same_objects_are_worked_out_once_and_a_reloaded_equal_one_again() -> None:
    memo: PerLoaded[int] = PerLoaded()
    made: list[int] = []
    first, reloaded = {"rules": 1}, {"rules": 1}  # equal contents, a new load

    def make() -> int:
        made.append(1)
        return len(made)

    assert memo.get((first,), make) == 1
    assert memo.get((first,), make) == 1
    assert memo.get((reloaded,), make) == 2
    assert len(made) == 2


def test_past_its_limit_the_memo_starts_again_instead_of_growing() -> None:
    memo: PerLoaded[int] = PerLoaded(limit=2)
    made: list[int] = []
    a, b, c = object(), object(), object()
    for load in (a, b, c, c, a):
        memo.get((load,), lambda: made.append(1) or len(made))
    assert len(made) == 4  # c is kept after the clear; a, cleared with b, is worked out again
