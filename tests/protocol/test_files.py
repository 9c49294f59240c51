"""The file protocol's I/O: atomic replace, consume-on-read with a size cap, waiting."""
from __future__ import annotations

import os
import threading
import time

import pytest

from wwm.protocol.errors import ProtocolError
from wwm.protocol.files import consume, open_watch, read_json, read_small, wait_for, write_atomic


def test_write_atomic_replaces_and_leaves_no_tmp(tmp_path):
    path = str(tmp_path / "state")
    write_atomic(path, "one")
    write_atomic(path, b"two")
    assert open(path).read() == "two" and os.listdir(tmp_path) == ["state"]


def test_consume_reads_once_and_caps_size(tmp_path):
    path = str(tmp_path / "action")
    assert consume(path, 10) is None
    write_atomic(path, "42")
    assert consume(path, 10) == b"42" and not os.path.exists(path)
    write_atomic(path, "x" * 11)
    with pytest.raises(ProtocolError, match="larger than 10"):
        consume(path, 10)
    assert not os.path.exists(path)  # a flood cannot wedge the run


def test_read_small_and_read_json(tmp_path):
    assert read_small(str(tmp_path / "score")) is None
    (tmp_path / "score").write_bytes(b"3\n\xff")
    assert read_small(str(tmp_path / "score")) == "3\n\ufffd"
    (tmp_path / "n.json").write_text('{"a": 1')
    assert read_json(str(tmp_path / "n.json")) == {} and read_json(str(tmp_path / "none")) == {}


@pytest.mark.parametrize("poll", [False, True])
def test_wait_for_sees_a_rename_and_times_out(tmp_path, monkeypatch, poll):
    if poll:
        monkeypatch.setenv("WWM_POLL", "1")
    folder = str(tmp_path)
    threading.Timer(0.1, write_atomic, (os.path.join(folder, "state"), "s")).start()
    assert wait_for(folder, ("state", "done"), 10.0) == "state"
    t = time.monotonic()
    assert wait_for(folder, ("action",), 0.2) is None
    assert time.monotonic() - t >= 0.2


def test_in_place_write_is_a_protocol_error(tmp_path):
    """A watch opened before the message was sent sees every rename: a file that
    appears without one was written in place, and a reader could see half of it."""
    folder = str(tmp_path)
    watch = open_watch(folder)
    assert watch is not None, "inotify is needed (Linux, WWM_POLL unset) to tell in-place writes apart"
    with watch:
        (tmp_path / "action").write_text("half")
        with pytest.raises(ProtocolError, match="in place"):
            wait_for(folder, ("action",), 2.0, watch=watch, strict=True)


def test_check_is_called_while_waiting(tmp_path):
    def died():
        raise ProtocolError("Program 1 has exited")

    with pytest.raises(ProtocolError, match="exited"):
        wait_for(str(tmp_path), ("state",), 5.0, check=died)
