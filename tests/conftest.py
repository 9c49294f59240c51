"""Fixtures for every test: a runs folder that must be empty of processes afterwards."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wwmtest import processes_under  # noqa: E402


@pytest.fixture
def runs_dir(tmp_path):
    """A runs folder; the test fails if a process is still running in it afterwards."""
    runs = tmp_path / "runs"
    runs.mkdir()
    yield runs
    deadline = time.monotonic() + 5
    while processes_under(str(runs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = processes_under(str(runs))
    assert not left, f"processes left behind in {runs}: {left}"
