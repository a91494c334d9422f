"""The documentation: README.md stays a short front page, and docs/ builds without a broken link.

`mkdocs build --strict` turns every warning into a failure: a link to a page that does not
exist, a page left out of the nav, and (``validation: anchors: warn`` in mkdocs.yml) a link to
a heading that does not exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_LIMIT = 12 * 1024  # bytes: what it is, the two commands, a quick start, a cheat sheet, links
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_docs_build_strict_without_a_broken_link(tmp_path):
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run([str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT,
                            capture_output=True, text=True, timeout=240,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "settings" / "index.html").is_file()


def test_readme_is_at_most_12_kb():
    size = README.stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/ (limit {README_LIMIT})"


def test_every_relative_link_in_the_readme_points_at_a_file():
    links = [target for target in MARKDOWN_LINK.findall(README.read_text(encoding="utf-8"))
             if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]
    assert links, "README.md links to no document"
    missing = [target for target in links if not (ROOT / target.split("#", 1)[0]).is_file()]
    assert missing == []


def test_the_readme_test_command_is_the_one_ci_runs():
    ci_command = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    two_commands = README.read_text(encoding="utf-8").split("## The two commands", 1)[1].split("\n## ", 1)[0]
    assert ci_command in two_commands.splitlines()
