"""Helpers shared by the test modules (imported by name; conftest.py files are per folder)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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


STRICT = os.environ.get("WWM_STRICT") == "1"


def missing(what: str) -> None:
    """A component the test needs is absent: skip, or under WWM_STRICT=1 (CI) fail,
    so that a run cannot pass by skipping what it was meant to test."""
    import pytest

    if STRICT:
        pytest.fail(f"missing: {what} (WWM_STRICT=1: a missing component fails the test)", pytrace=False)
    pytest.skip(f"missing: {what}")
