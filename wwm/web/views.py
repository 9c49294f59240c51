"""The UI's routes.  Each page calls the modules the API uses (the gateway core, the client's
run loop, the scoreboard, the society files, the federation) and only turns forms into calls."""
from __future__ import annotations

import hashlib
import logging
import os
import shlex
import time

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from wwm import scoreboard
from wwm.federation.service import RateLimiter
from wwm.gateway.queries import Gateway, run_params
from wwm.protocol.errors import GatewayError, NotFound, WWMError
from wwm.protocol.files import write_atomic
from wwm.protocol.manifest import NAME_RE, Server, find_server, list_servers
from wwm.web import live, security
from wwm.web.pictures import avatar_png, chart

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
bp = Blueprint("web", __name__, url_prefix="/ui", template_folder=os.path.join(REPO, "templates"),
               static_folder=os.path.join(REPO, "static"), static_url_path="/static")
log = logging.getLogger("wwm.web")

LANGUAGES = {"python3": "Python", "python": "Python", "node": "JavaScript", "nodejs": "JavaScript",
             "perl": "Perl", "sh": "shell", "bash": "shell"}
RULES = (("vote", "majority vote"), ("collective", "Maximize Collective Happiness"),
         ("worst-unhappiness", "Minimize the Worst Unhappiness"), ("w-learning", "highest W (W-learning)"),
         ("borda", "Borda count (ranked lists)"), ("rrf", "reciprocal rank fusion (ranked lists)"))


# -- plumbing ------------------------------------------------------------------------------


def _gateway() -> Gateway:
    return current_app.extensions["wwm.gateway"]


def _federation():
    return current_app.extensions.get("wwm.federation")


@bp.app_context_processor
def _globals():
    return {"csrf_token": security.csrf_token, "has_node": _federation() is not None}


bp.before_request(security.check_csrf)


@bp.after_app_request
def _headers(response):
    """The CSP and friends on every UI response, including 404s of URLs no route matched."""
    return security.set_headers(response) if request.path.startswith(bp.url_prefix) else response


@bp.app_errorhandler(404)
def _not_found(exc):
    if request.path.startswith(bp.url_prefix + "/"):
        return _error(exc)
    return exc


@bp.errorhandler(Exception)
def _error(exc):
    """Errors as a page that says what went wrong; never a stack trace."""
    if isinstance(exc, HTTPException):
        status, message = exc.code or 500, exc.description or exc.name
    elif isinstance(exc, GatewayError):
        status, message = getattr(exc, "code", 400), str(exc)
    elif isinstance(exc, (WWMError, ValueError)):
        status, message = 400, str(exc)
    else:
        log.exception("web UI: %s %s", request.method, request.path)
        status, message = 500, "Something went wrong on the server; the error is in its log."
    return render_template("error.html", status=status, message=message), status


def language(server: Server) -> str:
    """The language of a server's Program 1, from its manifest (``language``) or its command."""
    manifest = server.manifest
    if manifest.get("language"):
        return str(manifest["language"])
    if str(manifest.get("build", "")).split()[:1] in (["cc"], ["gcc"], ["clang"]):
        return "C"
    try:
        first = os.path.basename(shlex.split(str(manifest.get("command", "")))[0])
    except (ValueError, IndexError):
        return "?"
    return LANGUAGES.get(first, first)


def _servers() -> list[dict]:
    gw, fed = _gateway(), _federation()
    out = []
    for server in list_servers(gw.root):
        d = dict(gw.describe(server).fields)  # what the Describe query answers
        d.update(id=server.id, language=language(server), api=f"/wwm/{server.id}",
                 params=server.params if server.kind == "world" else None)
        actor = fed.actors.by_server(server.id) if fed is not None else None
        d["actor"] = actor.name if actor else None
        out.append(d)
    return out


def _target(choice: str, url: str, role: str):
    """A connected server from a form: a local server id (``minds/NAME``) or a URL."""
    from wwm.client import connect

    gw = _gateway()
    url = (url or "").strip()
    if url:
        return connect(security.check_url(url)), url
    if not choice:
        raise ValueError(f"choose a {role} or give its URL")
    server = find_server(gw.root, choice)
    if server.role != role:
        raise ValueError(f"{choice} is not a {role}")
    return connect(server.path, runs=gw.runs), server.id


def _params(text: str) -> dict:
    """World parameters from a form: ``name=value`` lines (the World checks names and types)."""
    params = {}
    for line in text.splitlines()[:64]:
        if line.strip():
            name, sep, value = line.partition("=")
            if not sep or not NAME_RE.match(name.strip()):
                raise ValueError(f"a World parameter is name=value, not {line[:60]!r}")
            params[name.strip()] = value.strip()
    return params


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.form.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw[:20]!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


# -- servers and runs ---------------------------------------------------------------------


@bp.get("/")
def servers():
    return render_template("servers.html", servers=_servers())


@bp.get("/runs/new")
def new_run():
    listed = _servers()
    return render_template("run_new.html", worlds=[s for s in listed if s["role"] == "world"],
                           minds=[s for s in listed if s["role"] == "mind"],
                           world=request.args.get("world", ""), mind=request.args.get("mind", ""),
                           params=request.args.get("params", ""))


@bp.post("/runs")
def start_run():
    steps = _int("steps", 100, 1, live.MAX_STEPS)
    pace = _int("pace", 0, 0, 2000) / 1000.0
    seed = request.form.get("seed", "").strip()
    seed = _int("seed", 1, -10**9, 10**9) if seed else None
    world, world_label = _target(request.form.get("world", ""), request.form.get("world_url", ""), "world")
    params = _params(request.form.get("params", ""))
    if not world_label.startswith(("http://", "https://")):
        run_params(find_server(_gateway().root, world_label), params)  # the gateway's own check, before we start
    minds, labels = [], []
    chosen = [m for m in request.form.getlist("mind") if m]
    urls = [u for u in request.form.get("mind_urls", "").split() if u]
    for choice in chosen:
        srv, label = _target(choice, "", "mind")
        minds.append(srv)
        labels.append(label)
    for url in urls[:16]:
        srv, label = _target("", url, "mind")
        minds.append(srv)
        labels.append(label)
    if not minds:
        raise ValueError("choose at least one Mind (or give a Mind's URL)")
    gw = _gateway()
    remote = world_label.startswith(("http://", "https://"))
    run_id = live.start(gw.runs, world, minds, {"world": world_label, "minds": labels, "params": params}, steps,
                        seed, pace, record=gw.scoreboard.path if remote else None, params=params)
    return redirect(url_for("web.watch_run", run_id=run_id), 303)


@bp.get("/runs/<run_id>")
def watch_run(run_id):
    return render_template("run.html", run=live.read(_gateway().runs, run_id))


@bp.get("/runs/<run_id>.json")
def run_json(run_id):
    try:
        return jsonify(live.read(_gateway().runs, run_id))
    except NotFound as exc:
        return jsonify({"error": str(exc)}), 404


@bp.post("/runs/<run_id>/stop")
def stop_run(run_id):
    live.stop(_gateway().runs, run_id)
    return redirect(url_for("web.watch_run", run_id=run_id), 303)


# -- scoreboard ----------------------------------------------------------------------------


@bp.get("/scores")
def scores():
    gw = _gateway()
    world = request.args.get("world", "").strip()
    mind = request.args.get("mind", "").strip()
    outcome = request.args.get("outcome", "").strip()
    rows = scoreboard.list_runs([(os.path.join(gw.runs, "scores.sqlite"), gw.runs)], world or None, 500)
    if mind:
        rows = [r for r in rows if mind in str(r.get("minds") or "")]
    if outcome:
        rows = [r for r in rows if r.get("outcome") == outcome]
    series: dict[str, list] = {}
    for r in rows:
        if r.get("score_value") is not None and r.get("start"):
            key = f"{scoreboard.short_name(r.get('world'))} · {scoreboard.short_name(r.get('minds')) or '?'}"
            series.setdefault(key, []).append((r["start"], r["score_value"]))
    plot = chart(dict(list(series.items())[:8]))
    table = [dict(scoreboard.public_row(r), world_short=scoreboard.short_name(r.get("world")),
                  minds_short=scoreboard.short_name(r.get("minds")), outcome_shown=scoreboard.shown_outcome(r))
             for r in rows[:200]]
    return render_template("scores.html", rows=table, plot=plot, world=world, mind=mind, outcome=outcome,
                           outcomes=("running", "done", "ended", "crashed", "interrupted"),
                           span=(scoreboard.iso_time(plot["x"][0]), scoreboard.iso_time(plot["x"][1])))


# -- societies -----------------------------------------------------------------------------


@bp.get("/societies/new")
def new_society():
    minds = [s for s in _servers() if s["role"] == "mind"]
    return render_template("society_new.html", minds=minds, rules=RULES)


@bp.post("/societies")
def save_society():
    from wwm.society import soml

    gw = _gateway()
    name = request.form.get("name", "").strip()
    if not NAME_RE.match(name) or ".." in name:
        raise ValueError("a society's name is letters, digits, '-', '_' or '.' (it becomes minds/NAME)")
    rule = request.form.get("rule", "")
    if rule not in dict(RULES):
        raise ValueError(f"unknown rule {rule[:40]!r}")
    members = []
    for choice in request.form.getlist("member"):
        server = find_server(gw.root, choice)
        if server.role != "mind":
            raise ValueError(f"{choice} is not a Mind")
        members.append(soml.Member(f"../{server.name}", server.name))
    for url in request.form.get("member_urls", "").split()[:32]:
        members.append(soml.Member(security.check_url(url), soml._default_member_name(url)))
    if not members:
        raise ValueError("a society needs at least one member")
    spec = soml.Spec(name=name, rule=rule, members=members,
                     description=request.form.get("description", "").strip()[:500])
    soml.parse(soml.to_xml(spec), os.path.join(gw.root, "minds", name), name)  # the same checks as loading it
    folder = os.path.join(gw.root, "minds", name)
    try:
        os.makedirs(folder)
    except FileExistsError:
        raise ValueError(f"minds/{name} exists already: choose another name") from None
    write_atomic(os.path.join(folder, soml.SOCIETY_FILE), soml.to_xml(spec))
    write_atomic(os.path.join(folder, "wwm.toml"), soml.manifest(spec))
    return redirect(url_for("web.new_run", mind=f"minds/{name}", saved=name), 303)


@bp.get("/societies/<name>.xml")
def society_file(name):
    server = find_server(_gateway().root, f"minds/{name}")
    if server.kind != "society":
        abort(404)
    with open(os.path.join(server.path, "society.xml"), "rb") as f:
        return Response(f.read(), content_type="application/xml; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{server.name}.xml"'})


# -- songs, node, actors -------------------------------------------------------------------


@bp.route("/songs", methods=["GET", "POST"])
def songs():
    minds = [s for s in _servers() if s["role"] == "mind"]
    answer, asked, text = None, request.form.get("mind", ""), request.form.get("text", "").strip()
    if request.method == "POST":
        if not text:
            raise ValueError("say what you would like, e.g. “songs like Enter Sandman”")
        answer = _ask_songs(asked, text)
    default = next((m["id"] for m in minds if m["name"] == "fungus"), minds[0]["id"] if minds else "")
    return render_template("songs.html", minds=minds, answer=answer, asked=asked or default, text=text)


ASK_LIMIT = RateLimiter(0.5, 10)  # questions per second and burst, per address: each one runs a Mind


def _ask_songs(choice: str, text: str):
    """The mention path: an ``Ask`` to the node's ``ask_mind`` (the default one without a node)."""
    from wwm.federation.mentions import MAX_TEXT, Ask, default_ask_mind

    gw, fed = _gateway(), _federation()
    allowed, wait = ASK_LIMIT.allow(request.remote_addr or "")
    if not allowed:
        abort(429, f"too many questions from your address: ask again in {wait:.0f} s")
    server = find_server(gw.root, choice)
    if server.role != "mind":
        raise ValueError(f"{choice} is not a Mind")
    visitor = hashlib.sha256(security.csrf_token().encode()).hexdigest()[:16]
    host = request.host
    ask = Ask(server.name, server.id, text[:MAX_TEXT], f"{request.host_url}ui/visitors/{visitor}",
              f"@web-{visitor[:6]}@{host}", None, gw.root, gw.runs)
    ask_mind = fed.ask_mind if fed is not None else default_ask_mind
    return ask_mind(ask)


@bp.get("/node")
def node():
    from wwm.web.node import graph, node_view

    fed = _federation()
    if fed is None:
        return render_template("node.html", view=None, graph=None)
    view = node_view(fed, current_app)
    return render_template("node.html", view=view, graph=graph(view))


@bp.get("/node.json")
def node_json():
    from wwm.web.node import graph, node_view

    fed = _federation()
    if fed is None:
        return jsonify({"error": "this server is not a node"}), 404
    view = node_view(fed, current_app)
    return jsonify(dict(view, graph=graph(view)))


@bp.get("/node/history.svg")
def node_history():
    """The network graph as it grew, an animated SVG (SMIL: browsers play it, no script)."""
    from wwm.web.node import graph, history, node_view

    fed = _federation()
    if fed is None:
        abort(404, "this server is not a node")
    anim = history(fed, graph(node_view(fed, current_app)))
    body = render_template("node_history.svg", graph=anim)
    return Response(body, content_type="image/svg+xml; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="wwm-network-history.svg"'})


@bp.get("/actors/<name>")
def actor(name):
    from wwm.federation.mentions import note_text

    fed = _federation()
    found = fed.actors.get(name) if fed is not None else None
    if found is None:
        abort(404, f"no actor named {name[:80]!r} here")
    notes = []
    for activity in fed.store.outbox(name, 0, 10):
        obj = activity.get("object") if isinstance(activity, dict) else None
        if isinstance(obj, dict) and obj.get("type") == "Note":
            notes.append({"text": note_text(obj), "published": obj.get("published", ""), "url": obj.get("url")})
    server = find_server(_gateway().root, found.server) if found.server else None
    return render_template("actor.html", actor=found, handle=fed.actors.handle(name), id=fed.actors.id(name),
                           followers=fed.store.count_followers(name), following=fed.store.count_following(name),
                           notes=notes, server=server, language=language(server) if server else None)


@bp.get("/actors/<name>/avatar.png")
def avatar(name):
    fed = _federation()
    if fed is None or fed.actors.get(name) is None:
        abort(404)
    return Response(avatar_png(name), content_type="image/png", headers={"Cache-Control": "max-age=86400"})


@bp.app_template_filter("when")
def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(t))) if t else ""
