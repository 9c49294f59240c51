"""WebFinger (RFC 7033) for the node's actors, as Mastodon looks them up.

``/.well-known/webfinger?resource=acct:fungus@host`` (also ``fungus@host`` and the
actor's URL or profile URL) answers ``application/jrd+json`` with a ``self`` link to
the actor document.  Also NodeInfo 2.1 (``/.well-known/nodeinfo``), which Mastodon
and others use to show what software a server runs.
"""
from __future__ import annotations

from urllib.parse import unquote

__all__ = ["webfinger", "nodeinfo_links", "nodeinfo"]

JRD = "application/jrd+json"


def _local_name(fed, resource: str) -> str | None:
    actors = fed.actors
    if resource.startswith(("http://", "https://")):
        local = actors.by_id(resource.split("#", 1)[0])
        if local is not None:
            return local.name
        for actor in actors.all().values():
            if actors.profile_url(actor) == resource:
                return actor.name
        return None
    if resource.lower().startswith("acct:"):
        resource = resource[5:]
    resource = unquote(resource).lstrip("@")
    user, sep, host = resource.rpartition("@")
    if not sep or host.lower() != actors.host:
        return None
    if actors.get(user):
        return user
    folded = [name for name in actors.all() if name.lower() == user.lower()]  # Mastodon users type any case
    return folded[0] if len(folded) == 1 else None


def webfinger(fed, resource: str | None) -> tuple[int, dict]:
    """Answer a WebFinger query: (HTTP status, JRD or error document)."""
    if not resource or len(resource) > 1024:
        return 400, {"error": "resource parameter required"}
    name = _local_name(fed, resource.strip())
    if name is None:
        return 404, {"error": "no such resource"}
    actors = fed.actors
    actor = actors.get(name)
    actor_id = actors.id(name)
    return 200, {
        "subject": f"acct:{name}@{actors.host}",
        "aliases": [actor_id, actors.profile_url(actor)],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": actor_id},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": actors.profile_url(actor)},
        ],
    }


def nodeinfo_links(fed) -> dict:
    return {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                       "href": f"{fed.actors.base}/nodeinfo/2.1"}]}


def nodeinfo(fed) -> dict:
    actors = fed.actors.all()
    return {
        "version": "2.1",
        "software": {"name": "wwm", "version": "0.1.0",
                     "homepage": f"{fed.actors.base}/"},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": len(actors), "activeMonth": len(actors), "activeHalfyear": len(actors)},
                  "localPosts": sum(fed.store.count_outbox(n) for n in actors)},
        "metadata": {"nodeName": fed.actors.host, "minds": sorted(a.name for a in fed.actors.minds())},
    }
