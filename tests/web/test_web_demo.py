"""`wwm demo`: nodes that find each other, a UI that shows them, and nothing left behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from wwmtest import REPO, processes_under


def demo(tmp_path, *args) -> subprocess.Popen:
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.pop("WWM_ALLOW_ROOT", None)  # as a user runs it: the demo must work as root on a fresh machine too
    env.setdefault("WWM_DATA", str(REPO / "data"))
    return subprocess.Popen([sys.executable, "-m", "wwm", "demo", "--no-plays", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=str(tmp_path))


def leftovers(folder: str) -> list[int]:
    """Processes running in ``folder`` or naming it on their command line."""
    found = set(processes_under(folder))
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if folder.encode() in f.read():
                    found.add(int(entry))
        except (OSError, ValueError):
            continue
    return sorted(found)


def read_until(proc, pattern: str, timeout: float = 120) -> str:
    out, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out += line
        if re.search(pattern, line):
            return out
    raise AssertionError(f"no {pattern!r} in the demo's output:\n{out}")


def assert_clean(folder: str) -> None:
    deadline = time.monotonic() + 10
    while leftovers(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftovers(folder), f"processes left behind: {leftovers(folder)}"
    assert not os.path.exists(folder), "the demo's folder was left behind"


def test_demo_grows_nodes_that_follow_each_other_and_cleans_up(tmp_path):
    proc = demo(tmp_path, "--nodes", "2", "--minutes", "0.75")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    folder = re.search(r"demo folder: (\S+)", out).group(1)
    assert re.search(r"web UI: http://127\.0\.0\.1:\d+/ui/", out)
    assert "2 of 2 follows accepted" in out and "failed" not in out
    rows = re.findall(r"^(node\d)\s+(\w+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    assert [r[0] for r in rows] == ["node1", "node2"] and rows[0][1] != rows[1][1]  # different listeners
    # followed, followed back (and maybe a group too), learned
    assert all(r[3] >= "1" and r[4] >= "1" and int(r[5]) >= 1 for r in rows), out
    # SPORE: every node trained at least one round and is in a learning group (founded or joined)
    spore = re.findall(r"^node\d.*\s(\d+)\s+(\d+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert len(spore) == 2 and all(int(r[0]) >= 1 and re.fullmatch(r"node\d/group-\w+", r[3]) for r in spore), out
    assert_clean(folder)


def test_ctrl_c_leaves_nothing_behind_and_the_ui_shows_the_peers(tmp_path, page):
    proc = demo(tmp_path, "--nodes", "2", "--minutes", "10")
    try:
        out = read_until(proc, r"learns from its listeners")
        folder = re.search(r"demo folder: (\S+)", out).group(1)
        node1, node2 = re.findall(r"(http://127\.0\.0\.1:\d+)/ui/node", out)
        page.goto(node1 + "/ui/node")
        assert page.locator("#actors").get_by_role("link", name=node2 + "/ap/actors/node").count() == 2
        assert page.locator("#graph [data-kind=peer]").count() == 1
        page.goto("about:blank")  # the page polls the node, which is about to go away
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "interrupted" in rest
    assert_clean(folder)
