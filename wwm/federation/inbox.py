"""The inbox: refuse what is not properly signed, answer 202, then act on activities asynchronously.

:func:`receive` is the synchronous part, in this order, cheapest first, so that a
flood or an attack costs as little as possible and changes nothing:

1. the target actor exists (404);
2. the declared body size is under the cap (413);
3. per-sender (claimed keyId) and per-address token buckets (429), before any signature work;
4. the body is read with the cap (413);
5. unsigned requests are refused (401);
6. ``Digest`` (``Content-Digest`` for RFC 9421) is checked over the raw body, the signed
   components and Date (``created``) are checked (401);
7. a signature seen before is a replay (401);
8. the body is parsed (400), the sender's key fetched (SSRF-guarded) and the signature checked,
   with one key refetch on failure (401);
9. the key's owner must be the activity's actor, and the activity id on the actor's origin (401);
   except for a ``Create`` relayed by a third server (a reply in a thread): it is queued as
   forwarded, and its object is later fetched from its origin and used only as served there;
10. a known activity id is acknowledged and dropped; anything else is queued: 202.

:func:`process_activity` runs later, in the worker: Follow -> Accept, Undo, Create/Note
mentions -> Mind answers, Like and replies -> reward, Accept/Reject of our follows, Delete.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Callable

from .actors import AP_CONTEXT
from .errors import FederationError, SignatureError
from .fetch import object_id, origin
from .httpsig import finish_verification, prepare_verification, sender_hint

__all__ = ["Incoming", "Reply", "receive", "verify_signed_get", "process_activity"]

ACTIVITY_TTL = 7 * 86400.0
FORWARDABLE = ("Create",)      # what a third server may relay (replies in threads)
FORWARDED = "wwm:Forwarded"    # the inbox job of a relayed activity


@dataclass
class Incoming:
    """An HTTP request, as the inbox needs it (no web framework)."""

    method: str
    target: str                                   # path and query exactly as sent
    get_header: Callable[[str], "str | None"]     # lower-case name -> value (several joined by ", ")
    content_length: int | None
    read_body: Callable[[int], bytes]             # read at most n bytes
    remote_addr: str = ""


@dataclass
class Reply:
    status: int
    message: str
    headers: dict = field(default_factory=dict)


def _limited(fed, req: Incoming) -> Reply | None:
    sender = sender_hint(req.get_header) or "unsigned"
    for limiter, key in ((fed.sender_limiter, "sender:" + sender), (fed.ip_limiter, "ip:" + req.remote_addr)):
        allowed, wait = limiter.allow(key)
        if not allowed:
            return Reply(429, "too many requests", {"Retry-After": str(max(1, int(wait + 0.999)))})
    return None


def receive(fed, actor_name: str | None, req: Incoming) -> Reply:
    """Check an inbox POST and queue its activity (``actor_name`` None: the shared inbox)."""
    if actor_name is not None and fed.actors.get(actor_name) is None:
        return Reply(404, "no such actor")
    if req.content_length is not None and req.content_length > fed.max_body:
        return Reply(413, "body too large")
    limited = _limited(fed, req)
    if limited:
        return limited
    body = req.read_body(fed.max_body + 1)
    if len(body) > fed.max_body:
        return Reply(413, "body too large")
    now = fed.clock()
    try:
        pending = prepare_verification(req.method, req.target, req.get_header, body, now=now, max_skew=fed.max_skew,
                                       scheme=fed.actors.scheme)
        sig = pending.signature
        replay_key = "sig:" + hashlib.sha256(sig.key_id.encode() + b"\0" + sig.signature).hexdigest()
        if not origin(sig.key_id):
            raise SignatureError("keyId is not a URL")
        try:
            activity = json.loads(body)
        except (ValueError, RecursionError):
            return Reply(400, "body is not JSON")
        if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
            return Reply(400, "not an activity")
        actor = object_id(activity.get("actor"))
        if not actor:
            return Reply(400, "activity has no actor")
        forwarded = origin(sig.key_id) != origin(actor)
        if forwarded and activity["type"] not in FORWARDABLE:
            raise SignatureError("signing key is not on the actor's origin")
        if not fed.store.remember(replay_key, now + 2 * fed.max_skew, now):
            raise SignatureError("replayed signature")
        verified = finish_verification(pending, fed.remote.key)
        if verified.key.owner != actor:
            if activity["type"] not in FORWARDABLE:
                raise SignatureError("the key's owner is not the activity's actor")
            forwarded = True
    except SignatureError as exc:
        fed.log.info("inbox refused %s from %s: %s", req.target, req.remote_addr, exc)
        return Reply(401, str(exc))
    activity_id = activity.get("id")
    if activity_id is not None:
        if not isinstance(activity_id, str) or origin(activity_id) != origin(actor):
            return Reply(400, "activity id is not on the actor's origin")
        if not fed.store.remember("activity:" + activity_id, now + ACTIVITY_TTL, now):
            return Reply(202, "already received")
    if forwarded:  # relayed by a third server: acted on only as its origin serves it (_on_forwarded)
        activity = {"type": FORWARDED, "actor": verified.key.owner, "activity": activity}
    fed.store.enqueue_inbox(actor_name, activity, now)
    fed.wake()
    return Reply(202, "accepted")


def verify_signed_get(fed, req: Incoming) -> str:
    """Check a signed GET (authorized fetch); returns the signer's actor id.

    Raises:
        SignatureError: unsigned, stale, badly formed or wrong signature (draft-cavage or RFC 9421).
    """
    pending = prepare_verification(req.method, req.target, req.get_header, b"", now=fed.clock(), scheme=fed.actors.scheme,
                                   max_skew=fed.max_skew)
    return finish_verification(pending, fed.remote.key).key.owner


# ---------------------------------------------------------------------------
# asynchronous processing


def _new_activity_id(fed) -> str:
    return fed.actors.object_url(uuid.uuid4().hex)


def _on_follow(fed, actor_name, activity) -> None:
    sender = object_id(activity.get("actor"))
    target = fed.actors.by_id(object_id(activity.get("object")))
    if target is None or (actor_name is not None and target.name != actor_name):
        return
    doc = fed.remote.actor(sender)
    admit = getattr(fed, "follow_policy", None)
    if admit is not None and not admit(target.name, sender):  # e.g. a full learning group
        from .outbox import publish

        reject = {"@context": AP_CONTEXT, "id": _new_activity_id(fed), "type": "Reject",
                  "actor": fed.actors.id(target.name), "to": [sender],
                  "object": {k: activity[k] for k in ("id", "type", "actor", "object") if k in activity}}
        publish(fed, target.name, reject, inboxes=[doc["inbox"]], public=False)
        return
    endpoints = doc.get("endpoints") if isinstance(doc.get("endpoints"), dict) else {}
    shared = endpoints.get("sharedInbox") if isinstance(endpoints.get("sharedInbox"), str) else None
    fed.store.add_follower(target.name, sender, activity.get("id"), doc["inbox"], shared, fed.clock())
    accept = {
        "@context": AP_CONTEXT,
        "id": _new_activity_id(fed),
        "type": "Accept",
        "actor": fed.actors.id(target.name),
        "to": [sender],
        "object": {k: activity[k] for k in ("id", "type", "actor", "object") if k in activity},
    }
    from .outbox import publish

    publish(fed, target.name, accept, inboxes=[doc["inbox"]], public=False)
    fed.log.info("%s now follows %s", sender, target.name)


def _on_undo(fed, actor_name, activity) -> None:
    sender = object_id(activity.get("actor"))
    obj = activity.get("object")
    kind = obj.get("type") if isinstance(obj, dict) else None
    if isinstance(obj, dict) and object_id(obj.get("actor")) not in (None, sender):
        return  # one may only undo one's own activities
    if kind == "Follow" or kind is None:
        target = fed.actors.by_id(object_id(obj.get("object"))) if isinstance(obj, dict) else None
        names = [target.name] if target else list(fed.actors.all())
        for name in names:
            if fed.store.remove_follower(name, sender):
                fed.log.info("%s unfollowed %s", sender, name)
    if kind == "Like" or kind is None:
        note = object_id(obj.get("object")) if isinstance(obj, dict) else None
        if note:
            fed.store.remove_feedback(note, sender, "like")


def _on_like(fed, actor_name, activity) -> None:
    note = object_id(activity.get("object"))
    if note and fed.store.reply(note) is not None:
        fed.store.add_feedback(note, object_id(activity.get("actor")), "like", 1.0, fed.clock())


def _on_create(fed, actor_name, activity) -> None:
    from .mentions import handle_note

    note = activity.get("object")
    sender = object_id(activity.get("actor"))
    if isinstance(note, str):
        if origin(note) != origin(sender):
            return
        note = fed.remote.http.get_json(note, signer=fed.signer_for(fed.actors.node_name))
    if not isinstance(note, dict) or note.get("type") not in ("Note", "Article", "Question"):
        return
    if object_id(note.get("attributedTo")) != sender or origin(object_id(note)) != origin(sender):
        return  # a note must be its sender's own
    fed.in_background(handle_note, fed, actor_name, sender, note)  # the Mind may be slow


def _on_forwarded(fed, actor_name, job) -> None:
    """A ``Create`` relayed by a third server: fetch its object from the object's origin and act on that.

    The relaying server's signature proves nothing about the note, so the note is taken only as
    its author's server serves it now, and only if that server says the claimed actor wrote it.
    """
    inner = job.get("activity")
    if not isinstance(inner, dict) or inner.get("type") not in FORWARDABLE:
        return
    actor, note_id = object_id(inner.get("actor")), object_id(inner.get("object"))
    if not actor or not note_id or origin(note_id) != origin(actor):
        return
    note = fed.remote.http.get_json(note_id, signer=fed.signer_for(fed.actors.node_name))
    if object_id(note) != note_id or object_id(note.get("attributedTo")) != actor:
        return
    _on_create(fed, actor_name, {"type": "Create", "actor": actor, "object": note})


def _on_accept_or_reject(fed, actor_name, activity) -> None:
    sender = object_id(activity.get("actor"))
    obj = activity.get("object")
    follow_id = object_id(obj)
    for local, fid, _ in fed.store.following_of(sender):
        if fid == follow_id or (isinstance(obj, dict) and object_id(obj.get("actor")) == fed.actors.id(local)):
            fed.store.update_following(local, sender, "accepted" if activity["type"] == "Accept" else None)


def _on_delete(fed, actor_name, activity) -> None:
    sender = object_id(activity.get("actor"))
    if object_id(activity.get("object")) == sender:  # the account is gone
        fed.store.remove_follower(None, sender)
        fed.store.forget_remote_actor(sender)


_HANDLERS = {
    "Follow": _on_follow,
    "Undo": _on_undo,
    "Like": _on_like,
    "Create": _on_create,
    "Accept": _on_accept_or_reject,
    "Reject": _on_accept_or_reject,
    "Delete": _on_delete,
    FORWARDED: _on_forwarded,
}


def process_activity(fed, actor_name: str | None, activity: dict) -> None:
    """Act on one verified activity (called by the worker)."""
    handler = _HANDLERS.get(activity.get("type"))
    if handler is not None:
        try:
            handler(fed, actor_name, activity)
        except FederationError as exc:
            fed.log.warning("%s %s: %s", activity.get("type"), activity.get("id"), exc)
    for extra in fed.handlers:
        extra(fed, actor_name, activity)
