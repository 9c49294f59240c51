"""Fixtures for every test: a runs folder that must be empty of processes afterwards,
and the real data sets (fetched once per session with `pip download --no-deps`, into
$WWM_DATA or the repository's git-ignored data/ folder)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wwmtest import REPO, processes_under  # noqa: E402

# The suite may run as root (CI containers). A web gateway refuses to start
# Program 1 as root unless this is set; the refusal itself is tested with it removed.
os.environ.setdefault("WWM_ALLOW_ROOT", "1")
# Nodes write the song catalog into a fresh graph at start (3 s); only the tests of that pay for it.
os.environ.setdefault("WWM_KNOWLEDGE_SONGS", "0")


@pytest.fixture(autouse=True, scope="session")
def private_home(tmp_path_factory):
    """The client's scoreboard and kept logs go to a session folder, not the user's home."""
    home = tmp_path_factory.mktemp("home")
    old = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "WWM_SCORES")}
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["WWM_SCORES"] = str(home / "scores.sqlite")
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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


def data_root() -> Path:
    env = os.environ.get("WWM_DATA")
    return Path(env) if env else REPO / "data"


def _fetch(name: str) -> Path:
    from wwm.data import ensure

    return ensure(name, data_root(), progress=lambda m: print(m, file=sys.stderr))


@pytest.fixture(scope="session")
def ml100k_dir():
    return _fetch("ml-100k")


@pytest.fixture(scope="session")
def songs_parquet():
    return _fetch("songs") / "spotify_by_genre.parquet"


@pytest.fixture(scope="session")
def catalog():
    from wwm.songs.catalog import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def ml100k_log(ml100k_dir):
    from wwm.songs.replay import load_ml100k

    return load_ml100k(ml100k_dir)


@pytest.fixture(scope="session")
def ml100k_domain(ml100k_dir, ml100k_log):
    from wwm.songs.mindkit import ml100k_domain, register_domain

    d = ml100k_domain(ml100k_log, ml100k_dir)
    register_domain(d)
    return d
