"""The layering rules of dispatcher/ hold: import-linter's contracts in pyproject.toml pass.

domain/ imports nothing of the project but the error types, channels/ import only dispatcher.api,
the core never imports a channel, cli/ and server/ stay above app/, and no
package's modules import each other in a circle; and no module of
dispatcher/ or channels/ is over 400 lines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"  # the venv's, next to this python
    result = subprocess.run([str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


MAX_LINES = 400  # docs/design.md: "no module over ~400 lines"; a bigger one is split by what it owns


def test_no_module_of_the_core_or_the_channels_is_over_400_lines() -> None:
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
             for package in ("dispatcher", "channels") for path in (ROOT / package).rglob("*.py")}
    assert len(sizes) > 50, sorted(sizes)  # the walk found the packages, not an empty folder
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"split these modules (over {MAX_LINES} lines): {too_long}"
