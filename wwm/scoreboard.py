"""The scoreboard: every run's World, Minds (or society), steps, score, start, end and outcome.

Two kinds of record, one table (``wwm.gateway.Scoreboard``, SQLite in WAL mode):

* a gateway (CGI or Flask) records every run it serves in ``RUNS/scores.sqlite``
  (``source = "gateway"``), when the run starts and again when it ends;
* ``wwm run`` records each episode it drives, local folders or remote URLs,
  in the user's scoreboard: ``$WWM_SCORES``, else
  ``~/.local/share/wwm/scores.sqlite`` (``source = "client"``), through
  :class:`ClientRecorder`.

Each write is its own transaction, so a crash mid-run leaves the record a run
had at its last write: outcome ``running``, the steps and score reached so far
(the client writes them at most every second), no end.  Listings mark such a
run ``lost`` when its process is gone.

Shown by ``wwm scores [--world W] [--runs DIR] [--json]`` and, on the Flask
gateway, by ``GET /scores`` (XML; ``?format=json``; ``?world=W``; ``?limit=N``;
``?all=1`` for Mind and society runs too), through :data:`bp` / :func:`init_app`.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import time
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

import click

from wwm.gateway.processes import process_alive
from wwm.gateway.scoreboard import Scoreboard
from wwm.protocol.envelope import VERSION

__all__ = ["default_path", "ClientRecorder", "record_episode", "list_runs", "scores_command",
           "bp", "init_app", "render_xml"]

MAX_LIMIT = 1000


def default_path() -> str:
    """The user's scoreboard file: ``$WWM_SCORES`` or ``~/.local/share/wwm/scores.sqlite``."""
    return os.environ.get("WWM_SCORES") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "wwm", "scores.sqlite")


def _board(path: str) -> Scoreboard:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return Scoreboard(path)


def _names(minds) -> str:
    """Minds as one string: folders made absolute (a relative path means nothing later)."""
    if isinstance(minds, str):
        minds = [minds]
    return " ".join(os.path.abspath(m) if os.path.isdir(str(m)) else str(m) for m in minds)


# -- recording client-side runs ------------------------------------------------------


class ClientRecorder:
    """Record one episode driven by this process (``wwm run``) in a scoreboard file.

    Written at the start (outcome ``running``), every ``every`` seconds of
    progress (steps, score so far), and at the end (``done`` when the World
    ended the run, ``ended`` when the steps ran out, ``crashed`` with the
    error, ``interrupted`` on Ctrl-C).  Recording never breaks the run: a
    scoreboard that cannot be written is reported once on stderr.

        with ClientRecorder(world, minds) as rec:
            result = run_episode(world, minds, progress=rec.progress(show))
            rec.finish(result)

    Args:
        world: the World's URL or folder, as given.
        minds: the Minds (or the society) as given; a list or one string.
        path: the scoreboard file (default :func:`default_path`).
        every: seconds between progress writes.
    """

    def __init__(self, world: str, minds, path: str | None = None, every: float = 1.0):
        self.path = path or default_path()
        self.every = every
        self.run = f"client-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(6)}"
        world = os.path.abspath(world) if os.path.isdir(str(world)) else str(world)
        self.rec = {"run": self.run, "server": world, "kind": "world", "world": world,
                    "minds": _names(minds), "steps": 0, "score": "", "start": time.time(), "end": None,
                    "outcome": "running", "error": None, "source": "client"}
        self._finished = False
        self._last = 0.0
        self._warned = False

    def _write(self) -> None:
        try:
            _board(self.path).record(self.rec)
        except Exception as exc:  # the scoreboard must never break a run
            if not self._warned:
                self._warned = True
                sys.stderr.write(f"wwm: scoreboard {self.path} not updated: {exc}\n")

    def __enter__(self) -> "ClientRecorder":
        self._write()
        return self

    def progress(self, inner=None):
        """A ``progress(step, steps, score)`` callback for run_episode that also records."""

        def show(step: int, steps: int, score: str) -> None:
            self.rec["steps"], self.rec["score"] = step, score or ""
            now = time.monotonic()
            if now - self._last >= self.every:
                self._last = now
                self._write()
            if inner is not None:
                inner(step, steps, score)

        return show

    def finish(self, result: dict) -> None:
        """Record the end of the run from run_episode's result."""
        self.rec.update(steps=result.get("steps", self.rec["steps"]),
                        score=str(result.get("score_detail") or result.get("score") or ""),
                        outcome="done" if result.get("done") else "ended", end=time.time())
        if result.get("world"):
            self.rec["world"] = self.rec["server"] = str(result["world"])
        self._finished = True
        self._write()

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None:
            from wwm.protocol.errors import TooManyRequests, TooManyRuns

            refused = isinstance(exc, (TooManyRequests, TooManyRuns))  # no run was started: nothing crashed
            self.rec.update(outcome="interrupted" if isinstance(exc, KeyboardInterrupt) else
                            "refused" if refused else "crashed",
                            error=f"{type(exc).__name__}: {exc}"[:2000], end=time.time())
            self._write()
        elif not self._finished:
            self.rec.update(outcome="ended", end=time.time())
            self._write()
        return False


def record_episode(result: dict, *, minds=None, start: float | None = None, path: str | None = None,
                   outcome: str | None = None) -> str:
    """Record a finished run_episode ``result`` in one write; returns the record's run id."""
    rec = ClientRecorder(result["world"], minds if minds is not None else result.get("mind", ""), path)
    if start is not None:
        rec.rec["start"] = start
    else:
        rec.rec["start"] = time.time() - float(result.get("seconds") or 0)
    rec.finish(result)
    if outcome:
        rec.rec["outcome"] = outcome
        rec._write()
    return rec.run


# -- reading --------------------------------------------------------------------------


def _alive(row: dict, runs: str | None) -> bool | None:
    """For a run recorded as running: is it still going?  None when we cannot tell."""
    if row.get("outcome") != "running":
        return None
    if row.get("source") == "client":
        parts = str(row.get("run", "")).split("-")
        if len(parts) >= 4 and parts[0] == "client":
            host, pid = "-".join(parts[1:-2]), parts[-2]
            if host == socket.gethostname() and pid.isdigit():
                return os.path.exists(f"/proc/{pid}") if os.path.isdir("/proc") else None
        return None
    if runs and row.get("server"):
        notes = os.path.join(runs, row["server"], str(row["run"]), ".wwm.json")
        try:
            with open(notes, encoding="utf-8") as f:
                n = json.load(f)
        except (OSError, ValueError):
            return False
        if n.get("phase") == "ended":
            return False
        return process_alive(int(n.get("pid", 0)), n.get("start"))
    return None


def list_runs(sources: list[tuple[str, str | None]], world: str | None = None, limit: int = 50,
              everything: bool = False) -> list[dict]:
    """Runs from several scoreboard files, newest first.

    Args:
        sources: ``(scoreboard file, runs folder or None)`` pairs; missing files are skipped.
        world: keep runs whose World contains this text.
        limit: at most this many runs.
        everything: include Mind and society runs (which have no World of their own).

    Returns:
        Dicts with the scoreboard's columns plus ``file``, ``seconds`` and ``alive``.
    """
    rows, seen = [], set()
    limit = max(1, min(int(limit), MAX_LIMIT))
    for path, runs in sources:
        if not path or not os.path.isfile(path):
            continue
        for row in Scoreboard(path).list(world, limit * (1 if everything else 4)):
            if not everything and row.get("kind") != "world":
                continue
            key = (row.get("source"), row.get("run"))
            if key in seen:
                continue
            seen.add(key)
            row["file"] = path
            row["seconds"] = round(row["end"] - row["start"], 3) if row.get("end") and row.get("start") else None
            row["alive"] = _alive(row, runs)
            rows.append(row)
    rows.sort(key=lambda r: -(r.get("start") or 0))
    return rows[:limit]


def iso_time(t) -> str:
    if not t:
        return ""
    return datetime.fromtimestamp(float(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_name(target) -> str:
    """``worlds/hello-python`` for a URL or folder of that server; several names joined."""
    out = []
    for t in str(target or "").split():
        t = t.rstrip("/")
        parts = t.split("/")
        out.append("/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] in ("worlds", "minds") else parts[-1])
    return " ".join(out)


def shown_outcome(row: dict) -> str:
    if row.get("outcome") == "running" and row.get("alive") is False:
        return "running (lost)"
    return str(row.get("outcome") or "")


def _table(rows: list[dict]) -> str:
    head = ("START (UTC)", "WORLD", "MINDS", "STEPS", "SCORE", "OUTCOME", "SOURCE", "SECONDS")
    lines = [head]
    for r in rows:
        score = r.get("score_value")
        lines.append((iso_time(r.get("start")).replace("T", " ").rstrip("Z"), short_name(r.get("world") or r.get("server")),
                      short_name(r.get("minds")), str(r.get("steps") or 0), "" if score is None else f"{score:g}",
                      shown_outcome(r), str(r.get("source") or ""),
                      "" if r.get("seconds") is None else f"{r['seconds']:.1f}"))
    widths = [min(max(len(row[i]) for row in lines), 40) for i in range(len(head))]
    return "\n".join("  ".join(cell[:40].ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines)


def public_row(row: dict) -> dict:
    keep = ("run", "server", "kind", "world", "minds", "steps", "score", "score_value", "start", "end",
            "outcome", "error", "source", "seconds", "alive")
    out = {k: row.get(k) for k in keep}
    out["start_iso"], out["end_iso"] = iso_time(row.get("start")), iso_time(row.get("end"))
    return out


@click.command("scores")
@click.option("--world", default=None, help="Only runs of this World (a name, URL or part of one).")
@click.option("--runs", "runs", default="runs", show_default=True,
              help="A gateway's runs folder: its RUNS/scores.sqlite is listed.")
@click.option("--file", "file_", default=None,
              help="The client scoreboard of 'wwm run' [default: $WWM_SCORES or ~/.local/share/wwm/scores.sqlite].")
@click.option("--limit", default=50, show_default=True, help="Show at most this many runs.")
@click.option("--all", "everything", is_flag=True, help="Include the runs of Minds and societies too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object with a list of runs).")
def scores_command(world, runs, file_, limit, everything, as_json):
    """List recorded runs, newest first: World, Minds or society, steps, score, outcome.

    Reads the gateway's RUNS/scores.sqlite and the scoreboard of 'wwm run'.
    """
    runs = os.path.abspath(runs)
    sources = [(os.path.join(runs, "scores.sqlite"), runs), (file_ or default_path(), None)]
    rows = list_runs(sources, world, limit, everything)
    if as_json:
        click.echo(json.dumps({"world": world, "runs": [public_row(r) for r in rows]}, indent=1))
        return
    if not rows:
        looked = ", ".join(p for p, _ in sources)
        click.echo(f"no runs recorded{' for ' + world if world else ''} (looked in {looked})")
        return
    click.echo(_table(rows))


# -- the Flask view ---------------------------------------------------------------------


def render_xml(rows: list[dict], world: str | None = None) -> bytes:
    """Runs as ``<wwm version="1"><scores><run .../>…</scores></wwm>``."""
    top = ET.Element("wwm", version=VERSION)
    scores = ET.SubElement(top, "scores")
    if world:
        scores.set("world", world)
    scores.set("count", str(len(rows)))
    for r in rows:
        p = public_row(r)
        attrs = {k: ("" if p[k] is None else str(p[k]))
                 for k in ("run", "server", "kind", "world", "minds", "steps", "score_value", "outcome", "source")}
        attrs.update(start=p["start_iso"], end=p["end_iso"])
        if p["alive"] is False and p["outcome"] == "running":
            attrs["lost"] = "true"
        run = ET.SubElement(scores, "run", {k: v for k, v in attrs.items() if v != ""})
        if p.get("score"):
            ET.SubElement(run, "score").text = p["score"]
        if p.get("error"):
            ET.SubElement(run, "error").text = p["error"]
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="utf-8")


def _make_blueprint():
    from flask import Blueprint, Response, current_app, request

    blueprint = Blueprint("scoreboard", __name__)

    @blueprint.route("/scores", methods=["GET", "HEAD"])
    def scores():
        gw = current_app.extensions.get("wwm.gateway")
        runs = gw.runs if gw is not None else os.path.abspath(current_app.config.get("RUNS", "runs"))
        world = request.args.get("world") or None
        fmt = request.args.get("format", "xml")
        try:
            limit = max(1, min(int(request.args.get("limit", 100)), MAX_LIMIT))
        except ValueError:
            limit = 100
        everything = request.args.get("all", "") in ("1", "true", "yes")
        if fmt not in ("xml", "json"):
            body = json.dumps({"status": "error", "code": 400, "error": f"unknown format {fmt[:20]!r}; use xml or json"})
            return Response(body, status=400, content_type="application/json")
        rows = list_runs([(os.path.join(runs, "scores.sqlite"), runs)], world, limit, everything)
        if fmt == "json":
            body = json.dumps({"world": world, "runs": [public_row(r) for r in rows]})
            return Response(body, content_type="application/json")
        return Response(render_xml(rows, world), content_type="application/xml; charset=utf-8")

    return blueprint


try:
    bp = _make_blueprint()
except ImportError:  # Flask missing: the CLI and the recorder still work
    bp = None


def init_app(app) -> None:
    """Serve ``/scores`` on a Flask app (once, however often it is called)."""
    if bp is None:
        raise RuntimeError("the /scores view needs Flask: pip install flask")
    if "scoreboard" not in app.blueprints:
        app.register_blueprint(bp)
