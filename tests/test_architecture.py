"""The layering rules of dispatcher/ hold: import-linter's contracts in pyproject.toml pass.

domain/ imports nothing of the project but the error types, channels/ import only dispatcher.api,
the core never imports a channel, cli/ and server/ stay above app/, and no
package's modules import each other in a circle.
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
