"""wwm.program: the Python helper, through the real gateway core and real processes."""
from __future__ import annotations

import textwrap

import pytest

from wwmtest import REPO, processes_under
from wwm.gateway.runs import read_notes
from wwm.gateway.queries import Gateway
from wwm.protocol.errors import ProtocolError
from wwm.protocol.manifest import load_server
from wwm.program import join_reward, split_reward


@pytest.mark.parametrize("state,reward,joined", [
    ("low: 1\nhigh: 100\n", 1.0, "reward: 1\nlow: 1\nhigh: 100\n"),
    ("x\n", 0.25, "reward: 0.25\nx\n"),
    ("x\n", None, "x\n"),
    ("<s><a/></s>", -1.0, "<s><reward>-1</reward><a /></s>"),
    ("<s/>", 2.5, "<s><reward>2.5</reward></s>"),
])
def test_reward_rides_in_the_state(state, reward, joined):
    assert join_reward(state, reward) == joined
    back, got = split_reward(joined)
    assert got == reward
    if reward is None or not state.startswith("<"):
        assert back == state


def test_split_reward_leaves_unrelated_states_alone():
    assert split_reward("rewards: many\n") == ("rewards: many\n", None)
    assert split_reward("reward: lots\nx\n") == ("reward: lots\nx\n", None)
    assert split_reward("<s><other>1</other></s>")[1] is None


def make_server(root, folder, name, body, manifest_extra=""):
    path = root / folder / name
    path.mkdir(parents=True)
    kind = "world" if folder == "worlds" else "mind"
    (path / "wwm.toml").write_text(textwrap.dedent(f"""\
        kind = "{kind}"
        name = "{name}"
        command = "python3 ./p.py"
        {manifest_extra}
        [limits]
        step_timeout = 5
        grace = 0.5
        """))
    (path / "p.py").write_text(textwrap.dedent(body))
    return load_server(str(path))


COUNTER_MIND = """\
    from wwm.program import Mind, serve_mind

    class Counter(Mind):
        def __init__(self):
            self.n = 0
        def act(self, step):
            self.n += 1
            return f"{step.run or 'solo'} {self.n} {step.kind} {step.reward}"

    serve_mind(Counter)
    """


FRAGILE_MIND = """\
    from wwm.program import serve_mind

    def act(step):
        if step.state == "boom":
            raise ValueError("cannot handle boom")
        return "ok"

    serve_mind(act)
    """


def test_mind_object_per_run_and_reward_passed(tmp_path, runs_dir):
    mind = make_server(tmp_path, "minds", "counter", COUNTER_MIND)
    g = Gateway(str(tmp_path), str(runs_dir))
    run = g.start_run(mind).run
    assert g.get_action(mind, run, "x").fields["action"] == f"{run} 1 first None"
    assert g.get_action(mind, run, "reward: 0.5\nx").fields["action"] == f"{run} 2 mid 0.5"
    g.end_run(mind, run)


def test_shared_instance_serves_many_runs_from_one_process(tmp_path, runs_dir):
    mind = make_server(tmp_path, "minds", "counter", COUNTER_MIND, 'instances = "shared"')
    g = Gateway(str(tmp_path), str(runs_dir))
    a, b = g.start_run(mind).run, g.start_run(mind).run
    assert read_notes(g.run_dir(mind, a))["pid"] == read_notes(g.run_dir(mind, b))["pid"]
    assert g.get_action(mind, a, "x").fields["action"] == f"{a} 1 first None"
    assert g.get_action(mind, a, "x").fields["action"] == f"{a} 2 mid None"
    assert g.get_action(mind, b, "x").fields["action"] == f"{b} 1 first None"  # its own Mind object
    g.end_run(mind, a)
    assert g.get_action(mind, b, "x").fields["action"] == f"{b} 2 mid None"  # b goes on
    g.end_run(mind, b)
    g.shutdown()


def test_shutdown_ends_the_shared_process_of_a_server_from_any_folder(tmp_path, runs_dir):
    # a local client runs servers from anywhere (here elsewhere/counter, not under minds/ or
    # worlds/); the gateway's shutdown (and its idle reaping) must find them too, or a shared
    # Program 1 outlives every client (the runs_dir fixture fails on a process left behind)
    mind = make_server(tmp_path, "elsewhere", "counter", COUNTER_MIND, 'instances = "shared"')
    g = Gateway(str(tmp_path / "root"), str(runs_dir), web=False)
    run = g.start_run(mind).run
    pid = read_notes(g.run_dir(mind, run))["pid"]
    assert g.get_action(mind, run, "x").fields["action"] == f"{run} 1 first None"
    g.end_run(mind, run)
    assert pid in processes_under(str(runs_dir))        # shared: alive after its last run
    g.shutdown()


def test_an_exception_in_act_ends_the_run_with_the_reason(tmp_path, runs_dir):
    mind = make_server(tmp_path, "minds", "fragile", FRAGILE_MIND)
    g = Gateway(str(tmp_path), str(runs_dir))
    run = g.start_run(mind).run
    assert g.get_action(mind, run, "fine").fields["action"] == "ok"
    with pytest.raises(ProtocolError) as err:
        g.get_action(mind, run, "boom")
    assert "cannot handle boom" in str(err.value) and run in str(err.value)
    assert f"minds/fragile/{run}/log" in str(err.value)
    assert "Traceback" in (runs_dir / "minds" / "fragile" / run / "log").read_text()


def test_shared_instance_isolates_a_failing_run(tmp_path, runs_dir):
    mind = make_server(tmp_path, "minds", "fragile", FRAGILE_MIND, 'instances = "shared"')
    g = Gateway(str(tmp_path), str(runs_dir))
    a, b = g.start_run(mind).run, g.start_run(mind).run
    with pytest.raises(ProtocolError):
        g.get_action(mind, a, "boom")
    assert g.get_action(mind, b, "fine").fields["action"] == "ok"
    g.end_run(mind, b)
    g.shutdown()


def test_world_writes_score_done_and_final_state(tmp_path, runs_dir):
    world = make_server(tmp_path, "worlds", "three", """\
        from wwm.program import World, serve_world

        class Three(World):
            def reset(self, seed):
                return "t=0"
            def step(self, action):
                return f"t={self.steps + 1}", 1, self.steps + 1 >= 3

        serve_world(Three)
        """)
    g = Gateway(str(tmp_path), str(runs_dir))
    run = g.start_run(world).run
    assert g.get_state(world, run).fields == {"state": "t=0", "done": False}
    for t in (1, 2, 3):
        out = g.execute_action(world, run, "go").fields
        assert out["state"] == f"reward: 1\nt={t}" and out["score"] == str(t)
    assert out["done"] is True
    g.end_run(world, run)


@pytest.mark.parametrize("waiting", ["inotify", "polling"])
def test_hello_python_template_plays_through_the_gateway(waiting, runs_dir, monkeypatch):
    if waiting == "polling":
        monkeypatch.setenv("WWM_POLL", "1")  # the fallback where inotify is missing
    g = Gateway(str(REPO), str(runs_dir))
    world = load_server(str(REPO / "worlds" / "hello-python"))
    mind = load_server(str(REPO / "minds" / "hello-python"))
    w, m = g.start_run(world, "7").run, g.start_run(mind).run
    state = g.get_state(world, w).fields["state"]
    for _ in range(40):
        state = g.execute_action(world, w, g.get_action(mind, m, state).fields["action"]).fields["state"]
    assert int(g.get_score(world, w).fields["score"].split()[0]) >= 5  # bisection finds a number in <= 7 steps
    g.end_run(world, w), g.end_run(mind, m)
