"""The run lock: exclusive across threads and processes, and never held by a
child forked while it was taken (the cause of spurious 409s)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from wwm.gateway.runs import RunLock

HOLD = ("import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('got', flush=True)\n"
        "except OSError:\n    print('busy', flush=True)\n")


def other_process_gets(path) -> bool:
    out = subprocess.run([sys.executable, "-c", HOLD, str(path)], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() == "got"


def test_exclusive_across_threads_and_processes(tmp_path):
    path = str(tmp_path / ".lock")
    a = RunLock(path)
    assert a.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(RunLock(path).acquire()))
    t.start()
    t.join()
    assert got == [False]
    assert not other_process_gets(path)
    a.release()
    assert other_process_gets(path)
    assert RunLock(path).acquire()


def test_a_child_forked_while_the_lock_is_held_does_not_keep_it(tmp_path):
    path = str(tmp_path / ".lock")
    lock = RunLock(path)
    assert lock.acquire()
    pid = os.fork()
    if pid == 0:  # a Program 1 being spawned: lives on with copies of every descriptor
        time.sleep(2)
        os._exit(0)
    try:
        lock.release()
        again = RunLock(path)
        assert again.acquire(), "the forked child kept the run locked"
        again.release()
        assert other_process_gets(path)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
