"""The Flask routes of SPORE: weights files, the node's collection of groups, a status document.

    GET /spore/weights/SHA256.safetensors   a weights file (signed GET required with authorized fetch)
    GET /spore/groups                       the groups this node hosts (OrderedCollection of actor ids)
    GET /spore/status                       groups, members, model versions, migrations, scores (JSON)

``init_app(app, spore)`` registers them; ``get_spore(app)`` returns the node's :class:`~.groups.Spore`.
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, request

__all__ = ["bp", "init_app", "get_spore"]

EXTENSION = "wwm.spore"
bp = Blueprint("spore", __name__)


def init_app(app, spore) -> None:
    app.extensions[EXTENSION] = spore
    if "spore" not in app.blueprints:
        app.register_blueprint(bp)


def get_spore(app=None):
    return (app or current_app).extensions.get(EXTENSION)


def _spore():
    spore = get_spore()
    if spore is None:
        abort(404)
    return spore


def _json(doc, mimetype="application/json") -> Response:
    return Response(json.dumps(doc), mimetype=mimetype)


@bp.get("/spore/weights/<sha>.safetensors")
def weights_view(sha):
    spore = _spore()
    fed = spore.fed
    if fed.authorized_fetch:
        from wwm.federation.blueprint import incoming_request
        from wwm.federation.errors import SignatureError
        from wwm.federation.inbox import verify_signed_get

        try:
            verify_signed_get(fed, incoming_request())
        except SignatureError as exc:
            return Response(json.dumps({"error": str(exc)}), status=401, mimetype="application/json")
    path = spore.weights.path(sha)
    if path is None:
        abort(404)
    resp = Response(path.read_bytes(), mimetype="application/octet-stream")
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # content-addressed
    return resp


@bp.get("/spore/groups")
def groups_view():
    spore = _spore()
    ids = [spore.fed.actors.id(g["name"]) for g in spore.store.groups()]
    base = spore.fed.actors.base
    return _json({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{base}/spore/groups",
                  "type": "OrderedCollection", "totalItems": len(ids), "orderedItems": ids},
                 "application/activity+json")


@bp.get("/spore/status")
def status_view():
    return _json(_spore().status())
