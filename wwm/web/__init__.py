"""The web UI: pages over the same core as the API, templates in the repository's ``templates/``.

``init_app(app)`` registers :data:`bp` (under ``/ui/``) and sends ``/`` there.  Pages:

    /ui/                 servers: every Mind, World and society with its Describe data
    /ui/runs/new         start a run; /ui/runs/ID watches it live (JSON at /ui/runs/ID.json)
    /ui/scores           the scoreboard, with filters and score-over-time plots
    /ui/societies/new    the society builder
    /ui/node             the node: actors, followers, learning groups, network graph
    /ui/songs            ask a Mind for songs, as a mention would
    /ui/actors/NAME      the profile page of an ActivityPub actor (its ``url``)
"""
from __future__ import annotations

from wwm.web.views import bp

__all__ = ["bp", "init_app"]


def init_app(app) -> None:
    """Serve the UI on ``app`` (once, however often it is called)."""
    if "web" in app.blueprints:
        return
    app.register_blueprint(bp)
    if "/" not in {rule.rule for rule in app.url_map.iter_rules()}:
        from flask import redirect

        app.add_url_rule("/", "web_home", lambda: redirect("/ui/"))
