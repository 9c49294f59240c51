"""The Flask face of the federation layer: ``bp`` (routes) and ``init_app(app)``.

Routes (all thin: they convert the request and call the modules that do the work)::

    GET  /.well-known/webfinger      GET /.well-known/nodeinfo   GET /nodeinfo/2.1
    GET  /ap/actors/NAME             (HTML clients are redirected to the profile page)
    POST /ap/actors/NAME/inbox       POST /ap/inbox (shared)
    GET  /ap/actors/NAME/outbox|followers|following      GET /ap/objects/ID[/activity]

``init_app(app)`` builds a :class:`~wwm.federation.service.Federation` from ``app.config``
(``FEDERATION_BASE_URL`` must be set, else the routes answer 404), stores it in
``app.extensions["wwm.federation"]``, registers ``bp`` once, and starts the background
worker when ``FEDERATION_WORKER`` is true (``wwm node`` sets it).
"""
from __future__ import annotations

import json
import logging
import os
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, request

from .errors import SignatureError
from .inbox import Incoming, receive, verify_signed_get
from .outbox import PAGE_SIZE, ordered_collection
from .service import Federation
from .webfinger import JRD, nodeinfo, nodeinfo_links, webfinger

__all__ = ["bp", "init_app", "get_federation"]

EXTENSION = "wwm.federation"
AP_TYPE = "application/activity+json"
bp = Blueprint("federation", __name__)


def get_federation(app=None) -> Federation | None:
    """The app's :class:`Federation` (None when federation is not configured)."""
    app = app or current_app
    return app.extensions.get(EXTENSION)


def init_app(app, federation: Federation | None = None) -> Federation | None:
    """Set up federation on ``app`` (idempotent); returns the :class:`Federation` or None."""
    if EXTENSION in app.extensions:
        return app.extensions[EXTENSION]
    if federation is None and app.config.get("FEDERATION_BASE_URL"):
        federation = Federation(app.config)
    app.extensions[EXTENSION] = federation
    app.register_blueprint(bp)
    if federation is not None:
        federation.ensure_keys()
        if app.config.get("FEDERATION_WORKER"):
            federation.start_worker()
            knowledge = app.extensions.get("wwm.knowledge")
            if knowledge is not None:  # a server folder added, changed or removed: followers hear of it
                knowledge.listeners.append(federation.server_changed)
                if "KNOWLEDGE_SONGS" not in app.config and os.environ.get("WWM_KNOWLEDGE_SONGS") != "0":
                    knowledge.load_songs = True  # a node reads song requests through its graph
                try:
                    knowledge.open()  # the graph, and its watch on ROOT, start with the node
                except Exception as exc:  # e.g. an embedded store another worker holds: /sparql says so
                    logging.getLogger("wwm.federation").warning("knowledge graph not opened: %s", exc)
    return federation


def _fed() -> Federation:
    fed = get_federation()
    if fed is None:
        abort(404)
    return fed


def _json(doc, status: int = 200, mimetype: str = AP_TYPE, headers=None) -> Response:
    resp = Response(json.dumps(doc, ensure_ascii=False), status=status, mimetype=mimetype, headers=headers)
    resp.headers["Vary"] = "Accept"
    return resp


def _error(status: int, message: str, headers=None) -> Response:
    return _json({"error": message}, status, "application/json", headers)


def _get_header(name: str):
    values = request.headers.getlist(name)
    return ", ".join(v.strip() for v in values) if values else None


def _target() -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        if raw.startswith(("http://", "https://")):  # absolute form
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        return raw
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~")
    query = request.query_string.decode("latin-1")
    return path + (f"?{query}" if query else "")


def _read(limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = request.stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def incoming_request() -> Incoming:
    return Incoming(request.method, _target(), _get_header, request.content_length, _read,
                    request.remote_addr or "")


def _authorized(fed: Federation) -> Response | None:
    """With authorized fetch on, refuse unsigned or badly signed GETs (401)."""
    if not fed.authorized_fetch:
        return None
    try:
        verify_signed_get(fed, incoming_request())
    except SignatureError as exc:
        return _error(401, str(exc))
    return None


def _page() -> int | None:
    value = request.args.get("page")
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 100000:
        abort(400)
    return int(value)


# ---------------------------------------------------------------------------
# discovery


@bp.get("/.well-known/webfinger")
def webfinger_view():
    status, doc = webfinger(_fed(), request.args.get("resource"))
    resp = _json(doc, status, JRD)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/.well-known/nodeinfo")
def nodeinfo_links_view():
    return _json(nodeinfo_links(_fed()), mimetype="application/json")


@bp.get("/nodeinfo/2.1")
def nodeinfo_view():
    return _json(nodeinfo(_fed()),
                 mimetype='application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"')


# ---------------------------------------------------------------------------
# actors and collections


@bp.get("/ap/actors/<name>")
def actor_view(name):
    fed = _fed()
    doc = fed.actor_document(name)
    if doc is None:
        return _error(404, "no such actor")
    best = request.accept_mimetypes.best_match([AP_TYPE, "application/ld+json", "application/json", "text/html"])
    if best == "text/html":
        return redirect(doc["url"])
    return _json(doc)


def _collection(name: str, kind: str):
    fed = _fed()
    if fed.actors.get(name) is None:
        return _error(404, "no such actor")
    denied = _authorized(fed)
    if denied:
        return denied
    page = _page()
    offset = (page - 1) * PAGE_SIZE if page else 0
    store = fed.store
    if kind == "outbox":
        total, items = store.count_outbox(name), store.outbox(name, offset, PAGE_SIZE + 1) if page else []
    elif kind == "followers":
        total, items = store.count_followers(name), store.followers(name, offset, PAGE_SIZE + 1) if page else []
    else:
        total, items = store.count_following(name), store.following(name, offset, PAGE_SIZE + 1) if page else []
    collection_id = f"{fed.actors.id(name)}/{kind}"
    return _json(ordered_collection(collection_id, total, page, items[:PAGE_SIZE], has_next=len(items) > PAGE_SIZE))


@bp.get("/ap/actors/<name>/outbox")
def outbox_view(name):
    return _collection(name, "outbox")


@bp.get("/ap/actors/<name>/followers")
def followers_view(name):
    return _collection(name, "followers")


@bp.get("/ap/actors/<name>/following")
def following_view(name):
    return _collection(name, "following")


@bp.get("/ap/objects/<key>")
@bp.get("/ap/objects/<key>/activity")
def object_view(key):
    fed = _fed()
    denied = _authorized(fed)
    if denied:
        return denied
    found = fed.store.get_object(fed.actors.base + request.path)
    if found is None or not found[2]:
        return _error(404, "no such object")
    doc = dict(found[0])
    doc.setdefault("@context", "https://www.w3.org/ns/activitystreams")
    return _json(doc)


@bp.get("/ap/tags/<tag>")
def tag_view(tag):
    fed = _fed()
    return _json({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{fed.actors.base}/ap/tags/{tag}",
                  "type": "OrderedCollection", "totalItems": 0})


# ---------------------------------------------------------------------------
# inboxes


def _inbox(name: str | None):
    fed = _fed()
    result = receive(fed, name, incoming_request())
    if result.status >= 400:
        return _error(result.status, result.message, result.headers)
    return _json({"status": result.message}, result.status, "application/json", result.headers)


@bp.post("/ap/actors/<name>/inbox")
def inbox_view(name):
    return _inbox(name)


@bp.post("/ap/inbox")
def shared_inbox_view():
    return _inbox(None)
