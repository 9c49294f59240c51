"""The web UI tests: a real `wwm node` process on 127.0.0.1 and headless Debian Chromium driven by
Playwright (never a downloaded browser).  Without chromium or playwright the tests skip, and
fail under WWM_STRICT=1."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from wwmtest import REPO, missing, processes_under

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = REPO / "tests" / "web" / "screenshots"
SERVERS = ("worlds/hello-python", "worlds/house", "worlds/songs", "minds/hello-python", "minds/hello-c",
           "minds/house-greedy", "minds/house-random", "minds/fungus", "minds/popularity")


def pytest_configure(config):
    config.addinivalue_line("markers", "error_page: the test expects a page answered with a 4xx status")


def _missing(what: str):
    missing(f"{what} (the web UI tests need it; run scripts/setup.sh)")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install playwright")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30000)
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    pg.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    context.close()
    if request.node.get_closest_marker("error_page"):  # the page itself answers 4xx: the browser logs it
        errors = [e for e in errors if not e.startswith("Failed to load resource: the server responded with a "
                                                        "status of 4")]
    assert not errors, f"errors in the browser (CSP violations show here too): {errors}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_root(folder: Path, servers=SERVERS) -> Path:
    """A node's own ROOT: copies of some of the repository's servers (their var/ state left out)."""
    for sid in servers:
        shutil.copytree(REPO / sid, folder / sid, ignore=shutil.ignore_patterns("var", "mind", "world", "__pycache__"))
    return folder


class Node:
    """A `wwm node` process (gateway, federation and web UI) on 127.0.0.1."""

    def __init__(self, folder: Path):
        self.root = make_root(folder / "root")
        self.runs = folder / "runs"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.log = open(folder / "node.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "wwm", "node", "--root", str(self.root), "--runs",
                                      str(self.runs), "--state-dir", str(folder / "state"), "--base-url", self.url,
                                      "--port", str(self.port), "--allow-private-fetch"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url + "/ui/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"wwm node did not start: {(folder / 'node.log').read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def node(tmp_path_factory):
    """One node for the UI tests; afterwards no process may be left in its runs folder."""
    os.environ.setdefault("WWM_DATA", str(REPO / "data"))
    n = Node(tmp_path_factory.mktemp("node"))
    yield n
    n.stop()
    deadline = time.monotonic() + 10
    while processes_under(str(n.runs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_under(str(n.runs)), "the node left processes behind"


CONTROL_ROLES = {"button", "checkbox", "combobox", "listbox", "textbox", "searchbox", "spinbutton", "radio",
                 "slider", "switch", "link", "menuitem", "tab"}


def unlabelled_controls(page) -> list[str]:
    """Controls in the page's accessibility tree (Chromium's, over CDP) that have no accessible name."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    bad = []
    for n in nodes:
        role = (n.get("role") or {}).get("value")
        if n.get("ignored") or role not in CONTROL_ROLES:
            continue
        if not str((n.get("name") or {}).get("value") or "").strip():
            bad.append(f"{role} (backend node {n.get('backendDOMNodeId')})")
    return bad


def controls_count(page) -> int:
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    return sum(1 for n in nodes if not n.get("ignored") and (n.get("role") or {}).get("value") in CONTROL_ROLES)
