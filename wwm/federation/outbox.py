"""What the node publishes: notes for notable events, replies, and the outbox collections.

Notes are written for people first (Mastodon shows ``content``, plain HTML with
mentions and hashtags as Mastodon writes them) and may carry a machine-readable
``attachment`` for other nodes.  Publishing stores the ``Create`` activity (so it
is served at its id and listed in the outbox when public) and queues a signed
delivery to every follower's (shared) inbox and every mentioned actor.

For other parts of wwm::

    from wwm.federation.outbox import announce_run_score, announce_milestone
    announce_run_score(fed, world="songs", minds=["fungus"], score=0.42, steps=100)
    announce_milestone(fed, "fungus", "reached HR@10 0.20 on its validation requests")

where ``fed`` is ``wwm.federation.get_federation(app)`` or a ``Federation(config)``
opened on the same ``FEDERATION_DIR`` by another process (the node's worker delivers).
"""
from __future__ import annotations

import html
import os
import re
import uuid
from datetime import datetime, timezone

from .actors import AP_CONTEXT, AS_PUBLIC

__all__ = ["post_note", "publish", "announce_run_score", "announce_milestone", "announce_finished_runs", "mention_html",
           "hashtag_html", "paragraphs", "ordered_collection", "iso_now"]

PAGE_SIZE = 20
_TAG_RE = re.compile(r"[A-Za-z0-9_]{1,64}\Z")


def iso_now(clock) -> str:
    return datetime.fromtimestamp(clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mention_html(actor_url: str, username: str) -> str:
    """A mention link as Mastodon writes it."""
    return (f'<span class="h-card" translate="no"><a href="{html.escape(actor_url)}" class="u-url mention">'
            f'@<span>{html.escape(username)}</span></a></span>')


def hashtag_html(base: str, tag: str) -> str:
    return (f'<a href="{html.escape(base)}/ap/tags/{html.escape(tag)}" class="mention hashtag" rel="tag">'
            f'#<span>{html.escape(tag)}</span></a>')


def paragraphs(*blocks) -> str:
    """HTML paragraphs; a block that is a list becomes lines joined by ``<br>``. Text is escaped."""
    out = []
    for block in blocks:
        if not block:
            continue
        if isinstance(block, (list, tuple)):
            out.append("<p>" + "<br>".join(html.escape(str(line)) for line in block) + "</p>")
        else:
            out.append(f"<p>{html.escape(str(block))}</p>")
    return "".join(out)


def publish(fed, actor: str, activity: dict, *, inboxes=(), public: bool = True) -> list[int]:
    """Store ``activity`` (and its embedded object) and queue it for ``inboxes``; returns queue ids."""
    now = fed.clock()
    obj = activity.get("object")
    if isinstance(obj, dict) and isinstance(obj.get("id"), str) and obj["id"].startswith(fed.actors.base):
        fed.store.save_object(obj["id"], actor, "object", obj, public, now)
    fed.store.save_object(activity["id"], actor, "activity", activity, public, now)
    return fed.delivery.enqueue(actor, inboxes, activity)


def post_note(fed, actor: str, content_html: str, *, visibility: str = "public", to=(), mentions=(),
              hashtags=(), in_reply_to: str | None = None, attachment=None, summary: str | None = None,
              deliver_to_followers: bool | None = None) -> dict:
    """Publish a ``Create``/``Note`` from local ``actor``.

    Args:
        content_html: the note's HTML (escape any text you put in; see :func:`paragraphs`).
        visibility: ``public`` (``to`` Public, ``cc`` followers), ``unlisted`` (Public in ``cc``:
            readable by anyone, not pushed to timelines; used for replies) or ``direct``.
        to: actor ids to address directly (and deliver to).
        mentions: ``(actor_id, "@user@host")`` pairs: ``Mention`` tags, addressed and delivered to.
        hashtags: tag names (letters, digits, underscore) added as ``Hashtag`` tags.
        in_reply_to: the id of the note this answers.
        attachment: machine-readable extras (a list of objects).
        deliver_to_followers: also deliver to the actor's followers [only when ``public``].

    Returns:
        The ``Create`` activity (its ``object`` is the note).
    """
    if visibility not in ("public", "unlisted", "direct"):
        raise ValueError("visibility must be public, unlisted or direct")
    actors = fed.actors
    actor_id = actors.id(actor)
    followers = actor_id + "/followers"
    direct = list(dict.fromkeys([*to, *(m[0] for m in mentions)]))
    if visibility == "public":
        to_list, cc_list = [AS_PUBLIC, *direct], [followers]
    elif visibility == "unlisted":
        to_list, cc_list = direct, [AS_PUBLIC, followers]
    else:
        to_list, cc_list = direct, []
    tags = [{"type": "Mention", "href": href, "name": name} for href, name in mentions]
    tags += [{"type": "Hashtag", "href": f"{actors.base}/ap/tags/{t}", "name": f"#{t}"}
             for t in hashtags if _TAG_RE.match(t)]
    key = uuid.uuid4().hex
    published = iso_now(fed.clock)
    note = {
        "id": actors.object_url(key),
        "type": "Note",
        "attributedTo": actor_id,
        "content": content_html,
        "published": published,
        "to": to_list,
        "cc": cc_list,
        "url": actors.object_url(key),
        "tag": tags,
        "inReplyTo": in_reply_to,
        "sensitive": False,
    }
    if summary:
        note["summary"] = summary
    if attachment:
        note["attachment"] = attachment
    activity = {
        "@context": AP_CONTEXT,
        "id": actors.object_url(key) + "/activity",
        "type": "Create",
        "actor": actor_id,
        "published": published,
        "to": to_list,
        "cc": cc_list,
        "object": note,
    }
    inboxes = []
    for recipient in direct:
        try:
            inboxes.append(fed.remote.inbox(recipient))
        except Exception as exc:  # an unreachable recipient must not stop the others
            fed.log.warning("no inbox for %s: %s", recipient, exc)
    if deliver_to_followers if deliver_to_followers is not None else visibility == "public":
        inboxes += fed.store.follower_inboxes(actor)
    publish(fed, actor, activity, inboxes=inboxes, public=visibility != "direct")
    return activity


def announce_run_score(fed, *, world: str, minds, score, steps: int | None = None, run: str | None = None,
                       actor: str | None = None, details: dict | None = None) -> dict:
    """Post a run's final score (from the node, or from ``actor``) for people and machines."""
    minds = [minds] if isinstance(minds, str) else list(minds)
    who = " + ".join(minds) or "?"
    line = f"Run finished: {who} in the World {world} scored {score}"
    line += f" over {steps} steps." if steps is not None else "."
    data = {"world": world, "minds": " ".join(minds), "score": score, "steps": steps, "run": run, **(details or {})}
    attachment = [{"type": "PropertyValue", "name": k, "value": str(v)} for k, v in data.items() if v is not None]
    tags = " ".join(hashtag_html(fed.actors.base, t) for t in ("wwm", "scoreboard"))
    content = paragraphs(line) + f"<p>{tags}</p>"
    return post_note(fed, actor or fed.actors.node_name, content, hashtags=("wwm", "scoreboard"),
                     attachment=attachment)


def announce_finished_runs(fed, since: float, *, min_steps: int = 10, limit: int = 50) -> list[dict]:
    """Post the score of every World run on this node's gateway that ended after ``since``.

    Runs come from the gateway's scoreboard (``RUNS/scores.sqlite``); runs shorter than
    ``min_steps`` and runs that crashed are skipped, each run is posted once, and at most
    ``fed.announce_limiter`` allows (a few an hour).  The World's own actor posts when the
    World is hosted here, else the node.
    """
    path = os.path.join(fed.runs or "", "scores.sqlite")
    if not fed.runs or not os.path.isfile(path):
        return []
    from wwm.scoreboard import short_name  # worlds/NAME for a URL or folder, as the scoreboard shows
    from wwm.scoreboard import list_runs

    posted = []
    for row in reversed(list_runs([(path, fed.runs)], limit=limit)):
        if (row.get("outcome") not in ("done", "ended") or (row.get("end") or 0) < since
                or (row.get("steps") or 0) < min_steps or not row.get("world")):
            continue
        key = "announced:" + str(row["run"])
        if fed.store.seen(key) or not fed.announce_limiter.allow("runs")[0]:
            continue
        fed.store.remember(key, fed.clock() + 365 * 86400, fed.clock())
        world = short_name(row["world"])
        local = fed.actors.by_server(world)
        actor = local.name if local is not None else fed.actors.node_name
        score = row.get("score_value") if row.get("score_value") is not None else row.get("score")
        minds = short_name(row.get("minds")).split()
        posted.append(announce_run_score(fed, world=world, minds=minds, score=score, steps=row.get("steps"),
                                         run=row["run"], actor=actor))
    return posted


def announce_milestone(fed, mind: str, text: str, *, data: dict | None = None) -> dict:
    """Post a model milestone of Mind ``mind`` (e.g. a new model version, a better validation score)."""
    attachment = [{"type": "PropertyValue", "name": k, "value": str(v)} for k, v in (data or {}).items()]
    content = paragraphs(f"{mind}: {text}") + "<p>" + hashtag_html(fed.actors.base, "wwm") + "</p>"
    actor = mind if fed.actors.get(mind) else fed.actors.node_name
    return post_note(fed, actor, content, hashtags=("wwm",), attachment=attachment or None)


def ordered_collection(collection_id: str, total: int, page: int | None, items, *, has_next: bool) -> dict:
    """An ``OrderedCollection`` (``page`` None) or one of its pages (``?page=N``, from 1)."""
    if page is None:
        doc = {"@context": "https://www.w3.org/ns/activitystreams", "id": collection_id,
               "type": "OrderedCollection", "totalItems": total}
        if total:
            doc["first"] = f"{collection_id}?page=1"
        return doc
    doc = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{collection_id}?page={page}",
           "type": "OrderedCollectionPage", "partOf": collection_id, "totalItems": total,
           "orderedItems": list(items)}
    if has_next:
        doc["next"] = f"{collection_id}?page={page + 1}"
    if page > 1:
        doc["prev"] = f"{collection_id}?page={page - 1}"
    return doc
