"""Societies served by real gateways on 127.0.0.1, with members that crash, hang,
answer garbage, go down and come back; nested societies; ranked lists."""
from __future__ import annotations

import os
import sys
import time

import pytest

from wwmtest import missing
from wwm.client import connect, run_episode
from wwm.protocol.errors import ProtocolError

sys.path.insert(0, os.path.dirname(__file__))
from gateways import Gateway, add_society, hello_bisect_score, make_root, society_status  # noqa: E402


def members_xml(gw: Gateway, names, **weights) -> str:
    return "".join(f'<member href="{gw.url("minds/" + n)}" weight="{weights.get(n, 1)}"/>' for n in names)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One gateway serving the hello World, fixture members and the societies of this module."""
    tmp = tmp_path_factory.mktemp("society")
    root = make_root(tmp, {
        "good": "--skill bisect",
        "good2": "--skill bisect",
        "crashy": "--skill bisect --crash-at 2",
        "hangy": "--skill bisect --hang-at 3",
        "junk": "--skill bisect --garbage-at 2",
        "badxml": "--skill bisect --bad-xml-at 2",
        "slow": "--skill bisect --delay 1.0",
        "lag1": "--skill bisect --delay 0.3",
        "lag2": "--skill bisect --delay 0.3",
        "lag3": "--skill bisect --delay 0.3",
        "sharp": "--skill bisect --q optimal",
        "clumsy": "--skill noisy --p 0.6 --q optimal",
        "linear": "--skill linear --q linear",
        "moody": "--skill bisect",
        "list-a": "--items x,y,z",
        "list-b": "--items y,x",
        "list-c": "--items z --xml",
    }, step_timeout=1)
    gw = Gateway(root, tmp / "runs").start()
    yield root, gw
    gw.stop()
    gw.end_all_runs()
    from wwmtest import missing, processes_under  # tests/wwmtest.py

    deadline = time.monotonic() + 5
    while processes_under(str(gw.runs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_under(str(gw.runs)), "members or societies left running"


def test_faulty_members_are_skipped_reported_and_come_back(lab):
    root, gw = lab
    names = ["crashy", "hangy", "junk", "badxml", "good"]
    add_society(root, "faulty", f'<society name="faulty" rule="vote" deadline="0.3" retry="0">'
                                f'{members_xml(gw, names)}</society>')
    steps, seed = 30, 3
    result = run_episode(gw.url("worlds/hello-python"), [gw.url("minds/faulty")], steps=steps, seed=seed)
    # every usable answer is the bisection, so the society plays perfectly despite its members
    assert result["score"] == hello_bisect_score(seed, steps)
    status = society_status(gw.runs, "faulty")[-1]
    by = {m["name"]: m for m in status["members"]}
    assert status["steps"] == steps
    assert by["good"]["answered"] == steps and by["good"]["skipped"] == {}
    # crashy dies on the 2nd state of each run, is restarted, answers again
    assert by["crashy"]["skipped"].get("crashed", 0) >= 5 and by["crashy"]["runs"] >= 5
    assert by["crashy"]["answered"] >= 5
    # junk answers "w: lots" every third state from its 2nd: skipped, its run kept
    assert by["junk"]["skipped"]["garbage"] >= 5 and by["junk"]["runs"] == 1
    assert by["junk"]["answered"] >= steps - by["junk"]["skipped"]["garbage"] - 1
    # badxml wrote malformed XML: its gateway answered 502, a new run was started
    assert by["badxml"]["errors"].get("crashed", 0) >= 1 and by["badxml"]["runs"] >= 2
    # hangy never answers its 3rd state: slow, then busy, then its gateway times it out (504)
    assert by["hangy"]["skipped"].get("slow", 0) >= 1 and by["hangy"]["skipped"].get("busy", 0) >= 1
    assert by["hangy"]["errors"].get("timeout", 0) >= 1 and by["hangy"]["runs"] >= 2
    log = "".join(p.read_text() for p in (gw.runs / "minds" / "faulty").glob("*/log"))
    assert "member crashy skipped: crashed" in log and "member crashy is back" in log
    assert "member junk skipped: garbage (w is not a number: 'lots')" in log
    assert "member hangy skipped: slow" in log


def test_member_whose_gateway_goes_down_rejoins_when_it_is_back(lab, tmp_path):
    root, gw = lab
    far_root = make_root(tmp_path, {"far": "--skill bisect"})
    far = Gateway(far_root, tmp_path / "far-runs").start()
    try:
        add_society(root, "reach", f'<society name="reach" rule="vote" deadline="0.5" retry="0.2">'
                                   f'<member href="{gw.url("minds/good")}"/>'
                                   f'<member href="{far.url("minds/far")}" name="far"/></society>')
        world = connect(gw.url("worlds/hello-python")).start_run(seed=5)
        mind = connect(gw.url("minds/reach")).start_run(seed=5)
        state = world.get_state()

        def play(n):
            nonlocal state
            for _ in range(n):
                state = world.execute_action(mind.get_action(state)).state

        def far_status():
            return {m["name"]: m for m in society_status(gw.runs, "reach")[-1]["members"]}["far"]

        play(4)
        assert far_status()["answered"] == 4 and far_status()["status"] == "ok"
        far.stop()
        play(4)
        down = far_status()
        assert down["status"] in ("down", "waiting") and down["skipped"].get("down", 0) >= 1, down
        assert down["answered"] == 4
        far.start()
        time.sleep(0.3)  # past the retry interval
        play(4)
        back = far_status()
        assert back["status"] == "ok" and back["answered"] >= 7 and back["runs"] == 2
        score = float(world.get_score().split()[0])
        assert score == hello_bisect_score(5, 12)
        mind.end()
        world.end()
    finally:
        far.stop()
        far.end_all_runs()


def test_a_society_with_no_live_member_says_so(lab, tmp_path):
    root, gw = lab
    from gateways import free_port

    dead = [f"http://127.0.0.1:{free_port()}/wwm/minds/gone{i}" for i in (1, 2)]
    add_society(root, "ghosts", '<society name="ghosts" rule="vote">'
                + "".join(f'<member href="{u}"/>' for u in dead) + "</society>")
    run = connect(gw.url("minds/ghosts")).start_run()
    started = time.monotonic()
    with pytest.raises(ProtocolError) as info:
        run.get_action("low: 1\nhigh: 100\n")
    message = str(info.value)
    assert "society 'ghosts' has no live member" in message
    assert "gone1: down" in message and "gone2: down" in message and "Connection refused" in message
    assert time.monotonic() - started < 5  # refused connections fail fast; no waiting out a deadline
    # with a fallback the society answers it instead, and says so in its log
    add_society(root, "ghosts2", '<society name="ghosts2" rule="vote" fallback="50">'
                + "".join(f'<member href="{u}"/>' for u in dead) + "</society>")
    run = connect(gw.url("minds/ghosts2")).start_run()
    assert run.get_action("low: 1\nhigh: 100\n") == "50"
    run.end()
    log = "".join(p.read_text() for p in (gw.runs / "minds" / "ghosts2").glob("*/log"))
    assert "no member answered; fallback action" in log


def test_deadline_skips_the_slow_member_and_members_are_asked_in_parallel(lab):
    root, gw = lab
    add_society(root, "hasty", f'<society name="hasty" rule="vote" deadline="0.2" first-deadline="0.2">'
                               f'{members_xml(gw, ["slow", "good"])}</society>')
    add_society(root, "fanout", f'<society name="fanout" rule="vote" deadline="3">'
                                f'{members_xml(gw, ["lag1", "lag2", "lag3"])}</society>')
    mind = connect(gw.url("minds/hasty")).start_run()
    mind.get_action("low: 1\nhigh: 100\n")  # start-up
    times = []
    for _ in range(5):
        t = time.perf_counter()
        assert mind.get_action("reward: 0\nlow: 1\nhigh: 100\n") == "50\n"
        times.append(time.perf_counter() - t)
    mind.end()
    assert max(times) < 0.2 + 0.4, times       # the slow member (1 s a step) is not waited for
    status = {m["name"]: m for m in society_status(gw.runs, "hasty")[-1]["members"]}
    assert status["slow"]["skipped"].get("slow", 0) + status["slow"]["skipped"].get("busy", 0) >= 5
    mind = connect(gw.url("minds/fanout")).start_run()
    mind.get_action("low: 1\nhigh: 100\n")
    t = time.perf_counter()
    for _ in range(3):
        mind.get_action("reward: 0\nlow: 1\nhigh: 100\n")
    per_step = (time.perf_counter() - t) / 3
    mind.end()
    assert per_step < 0.3 * 1.6, per_step       # three 0.3 s members in parallel, not 0.9 s


def test_nested_societies_by_url_and_by_folder(lab):
    root, gw = lab
    # inner: Q-valued members, collective happiness, annotating its own answer for the outer society
    add_society(root, "inner", f'<society name="inner" rule="collective" annotate="true">'
                               f'{members_xml(gw, ["sharp", "clumsy", "linear"])}</society>')
    # inner2 is a member by folder: the outer society runs it itself
    add_society(root, "inner2", '<society name="inner2" rule="vote"><member href="../good"/>'
                                '<member href="../good2"/></society>')
    add_society(root, "outer", f'<society name="outer" rule="w-learning" deadline="2">'
                               f'<member href="{gw.url("minds/inner")}"/><member href="../inner2"/></society>')
    steps, seed = 20, 4
    result = run_episode(gw.url("worlds/hello-python"), [gw.url("minds/outer")], steps=steps, seed=seed)
    assert result["score"] == hello_bisect_score(seed, steps)
    outer = society_status(gw.runs, "outer")[-1]
    assert {m["name"]: m["answered"] for m in outer["members"]} == {"inner": steps, "inner2": steps}
    inner = society_status(gw.runs, "inner")[-1]
    assert inner["steps"] == steps and all(m["answered"] == steps for m in inner["members"])
    nested = list((gw.runs / "minds" / "outer").glob("*/members/minds/inner2/*/society.json"))
    assert nested, "inner2 ran inside the outer society's run folder"
    # the inner society annotated its answers (w and q), the outer read them: W-learning saw Q-values
    assert "W" in outer["last"] and set(outer["last"]["W"]) == {"inner", "inner2"}
    # and a World never sees an annotation: the outer society answers the bare action
    mind = connect(gw.url("minds/outer")).start_run()
    assert mind.get_action("low: 1\nhigh: 100\n") == "50\n"
    mind.end()


def test_rank_fusion_end_to_end(lab):
    root, gw = lab
    add_society(root, "fuse", f'<society name="fuse" rule="borda" size="3">'
                              f'{members_xml(gw, ["list-a", "list-b", "list-c"], **{"list-b": 2})}</society>')
    add_society(root, "fuse-rrf", f'<society name="fuse-rrf" rule="rrf" k="1">'
                                  f'{members_xml(gw, ["list-c", "list-a", "list-b"])}</society>')
    # Borda, L = 3: x = 3 + 2*2 = 7, y = 2 + 2*3 = 8, z = 1 + 3 = 4
    run = connect(gw.url("minds/fuse")).start_run()
    assert run.get_action("world: songs\nseed: q\n") == "y\nx\nz\n"
    run.end()
    # RRF k = 1 (list-c [z], list-a [x, y, z], list-b [y, x]): z = 1/2 + 1/4, x = 1/2 + 1/3,
    # y = 1/3 + 1/2; x and y tie, and tie on Borda (3 + 2 = 5 each) and on best rank (0):
    # first mention decides (z, x, y in member order) -> x, y, z
    run = connect(gw.url("minds/fuse-rrf")).start_run()
    answer = run.get_action("world: songs\nseed: q\n")
    run.end()
    # list-c answered XML first, so the fused list is XML too
    assert answer == '<action><track id="x" /><track id="y" /><track id="z" /></action>'


def test_a_world_cannot_tell_a_society_from_a_mind(lab):
    root, gw = lab
    add_society(root, "plain", f'<society name="plain" rule="worst-unhappiness">'
                               f'{members_xml(gw, ["sharp", "linear"])}</society>')
    info = connect(gw.url("minds/plain")).describe()
    assert info["role"] == "mind" and info["kind"] == "society"
    assert set(info["queries"].split()) >= {"HereIsState", "GetAction"}
    run = connect(gw.url("minds/plain")).start_run()
    run.here_is_state("low: 1\nhigh: 100\n")
    action = run.get_action()
    assert action.strip().isdigit()  # a bare action: the members' w/q annotations are gone
    run.end()


def test_moody_member_recovers_between_steps(lab):
    root, gw = lab
    mode = root / "minds" / "moody" / "mode"
    add_society(root, "moods", f'<society name="moods" rule="vote" deadline="0.5" retry="0">'
                               f'{members_xml(gw, ["moody", "good"])}</society>')
    run = connect(gw.url("minds/moods")).start_run()
    run.get_action("low: 1\nhigh: 100\n")
    for bad in ("garbage", "crash"):
        mode.write_text(bad)
        run.get_action("reward: 0\nlow: 1\nhigh: 49\n")
        mode.write_text("ok")
        run.get_action("reward: 0\nlow: 1\nhigh: 23\n")
    run.end()
    moody = {m["name"]: m for m in society_status(gw.runs, "moods")[-1]["members"]}["moody"]
    assert moody["skipped"] == {"garbage": 1, "crashed": 1}
    assert moody["answered"] == 3 and moody["runs"] == 2 and moody["status"] == "ok"


def test_a_member_behind_the_cgi_gateway_under_lighttpd(lab, tmp_path):
    import importlib.util
    import shutil
    from pathlib import Path

    if not (shutil.which("lighttpd") or os.path.exists("/usr/sbin/lighttpd")):
        missing("lighttpd (apt-get install lighttpd)")
    spec = importlib.util.spec_from_file_location(
        "gwkit_for_society", Path(__file__).resolve().parents[1] / "gateway" / "gwkit.py")
    gwkit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gwkit)
    root, gw = lab
    cgi_root = make_root(tmp_path, {"cgimember": "--skill bisect --q optimal"}, name="cgi-root")
    runs, files = tmp_path / "cgi-runs", tmp_path / "lighttpd"
    runs.mkdir()
    files.mkdir()
    port = gwkit.free_port()
    proc = gwkit.start_lighttpd(files, cgi_root, runs, port)
    try:
        cgi_url = f"http://127.0.0.1:{port}/cgi-bin/wwm.py/minds/cgimember"
        add_society(root, "mixed-gateways", f'<society name="mixed-gateways" rule="collective" deadline="3">'
                                            f'<member href="{cgi_url}" name="cgi"/>'
                                            f'<member href="{gw.url("minds/sharp")}" name="flask"/></society>')
        steps, seed = 12, 6
        result = run_episode(gw.url("worlds/hello-python"), [gw.url("minds/mixed-gateways")], steps=steps, seed=seed)
        assert result["score"] == hello_bisect_score(seed, steps)
        status = {m["name"]: m for m in society_status(gw.runs, "mixed-gateways")[-1]["members"]}
        assert status["cgi"]["answered"] == steps and status["cgi"]["runs"] == 1
        assert status["flask"]["answered"] == steps
    finally:
        gwkit.stop_process(proc)
        from wwm.gateway.queries import Gateway

        Gateway(str(cgi_root), str(runs)).shutdown()
