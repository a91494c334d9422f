"""Fixtures the security tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ..stage import Stage, make_stage


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The sending stage: an in-process SMTP server, providers behind a TLS proxy, a fake clock."""
    yield from make_stage(config_dir, tmp_path, monkeypatch)
