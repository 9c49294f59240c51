"""Shared fixtures: the repository root, and a check that no Program 1 outlives its test."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def processes_under(folder: str) -> list[int]:
    """Pids of live processes whose working directory is inside ``folder``."""
    folder = os.path.realpath(folder)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X") and (cwd == folder or cwd.startswith(folder + os.sep)):
            found.append(int(entry))
    return found


@pytest.fixture
def runs_dir(tmp_path):
    """A runs folder; the test fails if a process is still running in it afterwards."""
    runs = tmp_path / "runs"
    runs.mkdir()
    yield runs
    import time

    deadline = time.monotonic() + 5
    while processes_under(str(runs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = processes_under(str(runs))
    assert not left, f"processes left behind in {runs}: {left}"
