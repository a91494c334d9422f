"""`notify check` takes drill files too, so the check a rejected drill points to really finds its problems."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import run

DRILLS = Path(__file__).resolve().parent.parent / "drills"
SHIPPED = sorted(str(p) for p in DRILLS.glob("*.toml"))


def drill_file(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = (DRILLS / "nobody-acks.toml").read_text()
    for old, new in edits:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_passes_the_shipped_drills(providers) -> None:
    result = run("check", *SHIPPED)
    assert result.exit_code == 0, result.stdout
    assert f"drill files: {len(SHIPPED)}" in result.stdout


def test_check_finds_every_problem_of_every_drill_file_given(providers, tmp_path: Path) -> None:
    malformed = drill_file(tmp_path, "malformed.toml", ('action = "ack"', 'action = "acknowledge"'))
    misfit = drill_file(tmp_path, "misfit.toml", ('class = "', 'class = "x'), ('who = "rotation:', 'who = "rotation:x'))
    result = run("check", str(malformed), str(misfit), *SHIPPED)
    assert result.exit_code == 2
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert any(line.startswith(f"error: {malformed}: events[1].action") for line in errors), errors
    assert any(line.startswith(f"error: {misfit}: class: no such incident class 'x") for line in errors), errors
    assert any(re.match(rf"error: {re.escape(str(misfit))}: expect\[\d+\]\.who: unknown rotation slot 'x", line)
               for line in errors), errors
    assert len(errors) == 3, errors  # nothing said about the shipped drills, nothing else wrong


@pytest.mark.slow
def test_a_rejected_drill_points_to_a_check_that_finds_the_same_problems(providers, tmp_path: Path) -> None:
    for path in (drill_file(tmp_path, "malformed.toml", ('action = "ack"', 'action = "acknowledge"')),
                 drill_file(tmp_path, "misfit.toml", ('class = "', 'class = "x'))):  # found only with the policy
        rejected = run("drill", str(path), "--sandbox")
        assert rejected.exit_code == 2 and "nothing was run" in rejected.stderr
        [command] = re.findall(r"run `notify check ([^`]*)` to see every problem", rejected.stderr)
        assert command == str(path)
        checked = run("check", *command.split())
        problems = [line for line in rejected.stderr.splitlines() if line.startswith("error: ")]
        assert problems and all(problem in checked.stdout for problem in problems), (rejected.stderr, checked.stdout)
