"""The gateway's queries: ``Gateway`` answers each one, ``dispatch`` picks it from the table."""
from __future__ import annotations

import fcntl
import json
import os
import time

from wwm.gateway.processes import build_server, process_alive, start_process, stop_process
from wwm.gateway.reaper import Reaper
from wwm.gateway.runs import RunSession, claim_live, drop_live, list_live, new_run_id, save_notes
from wwm.gateway.scoreboard import Scoreboard
from wwm.protocol.envelope import MIND_QUERIES, QUERIES, RUN_RE, SEED_RE, WORLD_QUERIES, Outcome, check_payload
from wwm.protocol.errors import BadRequest, Conflict, NotFound, TooManyRequests, TooManyRuns
from wwm.protocol.files import read_json, read_small, unlink_quiet, wait_for, write_atomic
from wwm.protocol.manifest import Server


class Gateway:
    """The gateway's queries as Python methods, over a root and a runs folder.

    Stateless between calls: everything lives in the runs folder, guarded by
    one lock file per run, so CGI processes and several WSGI workers can share
    it.  Each run folder holds Program 1's files and ``.wwm.json`` (our notes:
    pid, phase, the World's current state, timestamps).
    """

    MAX_RUNS = 64          # concurrent runs, all servers together

    def __init__(self, root: str, runs: str, *, max_runs: int | None = None, web: bool = True):
        """``web``: a gateway that answers the network (refuses to start Program 1 as
        root); a local client's gateway runs the user's own programs as the user."""
        self.web = web
        self.root = os.path.abspath(root)
        self.runs = os.path.abspath(runs)
        self.max_runs = max_runs or int(os.environ.get("WWM_MAX_RUNS", self.MAX_RUNS))
        self.scoreboard = Scoreboard(os.path.join(self.runs, "scores.sqlite"))
        self.reaper = Reaper(self)

    def reap(self, force: bool = False) -> int:
        return self.reaper.reap(force)

    def active_runs(self) -> list[tuple[str, str]]:
        """``(server id, run)`` of every run not yet ended."""
        return [(sid, run) for sid, run, _ in list_live(self.runs)]

    def shutdown(self) -> None:
        """End every active run and shared process (``wwm serve`` and local clients on exit)."""
        self.reaper.stop_timer()
        self.reaper.shutdown()

    # -- paths and notes ---------------------------------------------------

    def home(self, server: Server) -> str:
        """The folder holding a server's runs (the shared process's cwd)."""
        return os.path.join(self.runs, server.folder, server.name)

    def run_dir(self, server: Server, run: str) -> str:
        return os.path.join(self.home(server), run)

    def log_name(self, server: Server, run: str | None) -> str:
        return f"{server.id}/{run}/log" if run and not server.shared else f"{server.id}/log"

    def _open_run(self, server: Server, run: str | None):
        """Lock an existing run for one query; returns a context manager."""
        if not run:
            raise BadRequest("this query needs a run parameter (from StartRun)")
        if not RUN_RE.match(run):
            raise NotFound(f"no run {run!r}")
        run_dir = self.run_dir(server, run)
        if not os.path.isdir(run_dir):
            raise NotFound(f"no run {run!r} on {server.name!r} (it may have ended or been reaped)")
        return RunSession(self, server, run, run_dir)

    # -- queries -----------------------------------------------------------

    def describe(self, server: Server) -> Outcome:
        m = server.manifest
        queries = ("Describe", "StartRun", "EndRun") + (WORLD_QUERIES if server.role == "world" else MIND_QUERIES) \
            + ("GetLog",)
        fields = {
            "name": server.name, "kind": server.kind, "role": server.role,
            "description": str(m.get("description", "")), "author": str(m.get("author", "")),
            "formats": " ".join(m.get("formats", ["text"])), "instances": m.get("instances", "per-run"),
            "queries": " ".join(queries),
        }
        if server.params:
            fields["params"] = " ".join(f"{k}={_show(v)}" for k, v in server.params.items())
        if isinstance(m.get("spaces"), dict):  # a World's Gymnasium spaces (docs/gymnasium.md), as JSON
            fields["spaces"] = json.dumps(m["spaces"], sort_keys=True)
        return Outcome("Describe", server.id, fields=fields)

    def start_run(self, server: Server, seed: str | None = None, minds: str | None = None,
                  client: str = "", params: dict | None = None) -> Outcome:
        """Start a run.  ``minds``: who plays this World, for the scoreboard only;
        ``client``: who asks (an address), held to ``max_runs_per_client``;
        ``params``: values for parameters the manifest declares, written to the
        run's ``params`` file before Program 1 starts."""
        chosen = run_params(server, params or {})
        if seed is not None:
            if not SEED_RE.match(seed.strip()):
                raise BadRequest("seed must be an integer (ASCII digits)")
            seed = str(int(seed))
        build_server(server, self.runs)
        run = new_run_id()
        run_dir = self.run_dir(server, run)
        os.makedirs(self.home(server), exist_ok=True)
        with open(os.path.join(self.runs, ".start.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # count and claim a slot in one step
            if read_small(os.path.join(self.home(server), ".server")) != server.path:
                write_atomic(os.path.join(self.home(server), ".server"), server.path)
            live = list_live(self.runs)
            mine = server.limits["max_runs_per_client"]
            if client and sum(1 for s, _, c in live if s == server.id and c == client) >= mine:
                raise TooManyRequests(f"you already have {mine} runs of {server.name!r}; end one or try later")
            if sum(1 for s, _, _ in live if s == server.id) >= server.limits["max_runs"]:
                raise TooManyRuns(f"server {server.name!r} already has {server.limits['max_runs']} runs; try later")
            if len(live) >= self.max_runs:
                raise TooManyRuns(f"the gateway already has {self.max_runs} runs; try later")
            os.makedirs(run_dir, mode=0o755)
            try:
                claim_live(self.runs, server.id, run, client)
            except BaseException:
                os.rmdir(run_dir)
                raise
        notes = {"server": server.name, "kind": server.kind, "created": time.time(),
                 "phase": "new", "steps": 0, "seed": seed or "1", "client": client}
        env = {"WWM_RUN_ID": run, "WWM_SEED": seed or "1",
               "WWM_INSTANCES": "shared" if server.shared else "per-run"}
        try:
            if chosen:
                write_atomic(os.path.join(run_dir, "params"), "".join(f"{k}={v}\n" for k, v in chosen.items()))
                notes["params"] = chosen
            if server.shared:
                notes["pid"], notes["start"] = self._shared_process(server, env)
            else:
                env["WWM_RUN_DIR"] = run_dir
                notes["pid"], notes["start"] = start_process(server, run_dir, env, self.runs, self.web)
            if minds is not None:
                notes["minds"] = minds[:2000]
            save_notes(run_dir, notes)
        except BaseException:
            # a run that never fully started holds no slot and leaves no process (a full disk, say)
            if notes.get("pid") and not server.shared:
                stop_process(notes["pid"], notes["start"], 0)
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
            drop_live(self.runs, server.id, run)
            raise
        try:
            self.record(server, run, notes, "running")
        except Exception as exc:  # the scoreboard never blocks a run
            import sys

            sys.stderr.write(f"wwm gateway: scoreboard not updated: {exc!r}\n")
        return Outcome("StartRun", server.id, run, {"run": run})

    def record(self, server: Server, run: str, notes: dict, outcome: str, score: str = "",
                error: str | None = None) -> None:
        self.scoreboard.record({
            "run": run, "server": server.id, "kind": server.kind,
            "world": server.id if server.role == "world" else None,
            "minds": notes.get("minds") if server.role == "world" else server.id,
            "steps": notes.get("steps", 0), "score": score, "start": notes.get("created"),
            "end": notes.get("ended"), "outcome": outcome, "error": error, "source": "gateway"})

    def _shared_process(self, server: Server, env: dict) -> tuple[int, str]:
        """The one process serving every run of a shared server; started once."""
        home = self.home(server)
        with open(os.path.join(home, ".shared.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            notes = read_json(os.path.join(home, ".shared.json"))
            if notes and process_alive(notes["pid"], notes["start"]):
                return notes["pid"], notes["start"]
            unlink_quiet(os.path.join(home, "stop"))
            env = dict(env, WWM_RUN_DIR=home)
            env.pop("WWM_RUN_ID")
            pid, start = start_process(server, home, env, self.runs, self.web)
            write_atomic(os.path.join(home, ".shared.json"), json.dumps({"pid": pid, "start": start}))
            return pid, start

    def abort(self, server: Server, run: str) -> None:
        """Stop a run's Program 1 without taking its lock (a query on it may be stuck);
        the next query on the run finds Program 1 gone and ends it."""
        run_dir = self.run_dir(server, run)
        notes = read_json(os.path.join(run_dir, ".wwm.json"))
        if not notes or not RUN_RE.match(run):
            return
        write_atomic(os.path.join(run_dir, "stop"), "")
        if not server.shared:
            stop_process(notes.get("pid", 0), notes.get("start"), 0.5)

    LOG_TAIL = 65536  # bytes of a log that GetLog returns

    def get_log(self, server: Server, run: str | None) -> Outcome:
        """The tail of a run's log (Program 1's stdout and stderr), for whoever holds
        the run id (144 random bits), also for an hour after the run ended."""
        if not run:
            raise BadRequest("GetLog needs the run parameter")
        run_dir = self.run_dir(server, run)
        if not RUN_RE.match(run) or not os.path.isdir(run_dir):
            raise NotFound(f"no run {run!r} on {server.name!r} (logs are kept an hour after a run ends)")
        if server.shared:
            raise BadRequest(f"the runs of {server.name!r} share one process and one log; ask its operator")
        try:
            with open(os.path.join(run_dir, "log"), "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - self.LOG_TAIL))
                tail = f.read(self.LOG_TAIL)
        except FileNotFoundError:
            tail = b""
        return Outcome("GetLog", server.id, run, {"log": tail.decode("utf-8", "replace")})

    def end_run(self, server: Server, run: str | None) -> Outcome:
        with self._open_run(server, run) as r:
            score = r.score()
            r.finish("ended")
        return Outcome("EndRun", server.id, run, {"score": score})

    def get_state(self, server: Server, run: str | None) -> Outcome:
        with self._open_run(server, run) as r:
            if r.notes["phase"] == "new":
                r.receive("state", server.limits["start_timeout"])
                r.notes["phase"] = "acting"
                r.notes["done"] = r.is_done()
            return Outcome("GetState", server.id, run,
                           {"state": r.notes["state"], "done": bool(r.notes.get("done"))})

    def execute_action(self, server: Server, run: str | None, action: str | None) -> Outcome:
        payload = check_payload(action, "action", server.limits["max_payload"])
        with self._open_run(server, run) as r:
            if r.notes["phase"] == "new":
                raise Conflict("ExecuteAction before GetState: read the state the action answers first", run=run)
            if r.notes.get("done"):
                raise Conflict("the run is over (the World wrote done); call EndRun", run=run)
            r.send("action", payload)
            got = r.receive(("state", "done"), server.limits["step_timeout"])
            if got == "done":
                # A World writes done, then its last state: give it a moment;
                # without a last state the previous one stands.
                if wait_for(r.files, ("state",), 1.0, watch=r.watch, strict=True):
                    r.receive("state", server.limits["step_timeout"])
            r.notes["steps"] += 1
            r.notes["done"] = r.is_done()
            return Outcome("ExecuteAction", server.id, run,
                           {"state": r.notes["state"], "done": bool(r.notes["done"]), "score": r.score()})

    def get_score(self, server: Server, run: str | None) -> Outcome:
        with self._open_run(server, run) as r:
            return Outcome("GetScore", server.id, run, {"score": r.score()})

    def here_is_state(self, server: Server, run: str | None, state: str | None) -> Outcome:
        payload = check_payload(state, "state", server.limits["max_payload"])
        with self._open_run(server, run) as r:
            if r.notes["phase"] == "thinking":
                raise Conflict("the Mind has not yet answered the previous state; call GetAction", run=run)
            r.send("state", payload)
            r.notes["phase"] = "thinking"
            return Outcome("HereIsState", server.id, run)

    def get_action(self, server: Server, run: str | None, state: str | None = None) -> Outcome:
        payload = None if state is None else check_payload(state, "state", server.limits["max_payload"])
        with self._open_run(server, run) as r:
            if payload is not None:
                if r.notes["phase"] == "thinking":
                    raise Conflict("the Mind has not yet answered the previous state", run=run)
                r.send("state", payload)
                r.notes["phase"] = "thinking"
            elif r.notes["phase"] != "thinking":
                raise Conflict("no state to act on: send HereIsState first, or GetAction with state=", run=run)
            timeout = server.limits["step_timeout"]
            if r.notes["steps"] == 0:
                timeout = max(timeout, server.limits["start_timeout"])
            action = r.receive("action", timeout)
            r.notes["phase"] = "ready"
            r.notes["steps"] += 1
            return Outcome("GetAction", server.id, run, {"action": action})


def _show(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def run_params(server: Server, given: dict) -> dict:
    """The values of a StartRun's ``param.NAME`` parameters, checked against the
    manifest's ``[params]`` (name known, value of the default's type); ``{}`` if none."""
    chosen = {}
    for name, raw in given.items():
        if name not in server.params:
            known = ", ".join(server.params) or "none"
            raise BadRequest(f"{server.name!r} has no parameter {name[:40]!r} (it has: {known})")
        default, raw = server.params[name], raw.strip()
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value = raw.lower() in ("true", "1")
            elif isinstance(default, int):
                if not raw.isascii():  # int() would take Arabic-Indic digits
                    raise ValueError
                value = int(raw)
            elif isinstance(default, float):
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            else:
                value = raw
                if len(value) > 200 or "\n" in value or "\r" in value:
                    raise ValueError
        except ValueError:
            raise BadRequest(f"parameter {name!r} must be a {type(default).__name__} like {_show(default)!r}") from None
        chosen[name] = _show(value)
    return chosen


# query -> (the role it needs, or None for any server; Gateway method; its parameters)
QUERY_TABLE = {
    "Describe": (None, "describe", ()),
    "StartRun": (None, "start_run", ("seed", "minds", "client", "params")),
    "EndRun": (None, "end_run", ("run",)),
    "GetState": ("world", "get_state", ("run",)),
    "ExecuteAction": ("world", "execute_action", ("run", "action")),
    "GetScore": ("world", "get_score", ("run",)),
    "HereIsState": ("mind", "here_is_state", ("run", "state")),
    "GetAction": ("mind", "get_action", ("run", "state")),
    "GetLog": (None, "get_log", ("run",)),
}


def dispatch(gateway: Gateway, server: Server, query: str, params: dict) -> Outcome:
    """Run one named query against a server."""
    entry = QUERY_TABLE.get(query)
    if entry is None:
        what = f"unknown query {query[:40]!r}" if query else "missing query parameter"
        raise BadRequest(f"{what}; one of {', '.join(QUERIES)}")
    role, method, names = entry
    if role and server.role != role:
        raise BadRequest(f"{query} is a {role} query and {server.name!r} is a {server.kind}")
    if "params" in names:  # param.NAME=value: a World's own parameters for this run
        params = dict(params, params={k[6:]: v for k, v in params.items() if k.startswith("param.")})
    return getattr(gateway, method)(server, *(params.get(n) for n in names))
