"""The node's local actors and their ActivityPub documents.

Every node is an actor (the "instance actor", type ``Service``, named by
``FEDERATION_NODE_NAME``, default ``node``), and so is every Mind, society and World
installed under ``ROOT`` (``minds/NAME``, ``worlds/NAME``).  A Mind keeps its name as
its username (``@fungus@host``); a World whose name is taken by a Mind or by the
node becomes ``NAME-world``.

URLs, all under the configured base URL::

    /ap/actors/NAME             the actor (application/activity+json)
    /ap/actors/NAME/inbox       its inbox         /ap/inbox   the shared inbox
    /ap/actors/NAME/outbox      its outbox        /ap/objects/ID  notes and activities
    /ap/actors/NAME/followers   /ap/actors/NAME/following
"""
from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["LocalActor", "Actors", "AS_PUBLIC", "AP_CONTEXT", "base_host"]

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AP_CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
    },
]


def base_host(base_url: str) -> str:
    """The host part of ``acct:`` handles: the base URL's host, with its port if it has one."""
    return urlsplit(base_url).netloc.rpartition("@")[2].lower()


@dataclass(frozen=True)
class LocalActor:
    """One actor hosted by this node."""

    name: str          # the username: @name@host
    kind: str          # node | mind | society | world | group
    server: str | None  # the gateway's server id (minds/NAME, worlds/NAME); None for the node
    title: str
    description: str
    attachment: tuple = ()  # extra PropertyValue entries of the document: ((name, value), ...)


class Actors:
    """The registry of local actors, rebuilt from ``ROOT`` at most every ``refresh`` seconds.

    Args:
        base_url: the node's public base URL, e.g. ``https://fungus.example``.
        root: the folder with ``minds/`` and ``worlds/`` (None: only the node actor).
        node_name: the instance actor's username.
    """

    def __init__(self, base_url: str, root: str | None, node_name: str = "node", refresh: float = 5.0):
        self.base = base_url.rstrip("/")
        self.host = base_host(self.base)
        self.scheme = urlsplit(self.base).scheme or "https"
        self.root = root
        self.node_name = node_name
        self.refresh = refresh
        self._lock = threading.Lock()
        self._built = 0.0
        self._actors: dict[str, LocalActor] = {}
        self.providers: list = []  # ``fn() -> iterable of LocalActor``: actors not under ROOT (SPORE groups)

    # -- registry ----------------------------------------------------------------

    def _scan(self) -> dict[str, LocalActor]:
        actors = {self.node_name: LocalActor(self.node_name, "node", None, f"wwm node {self.host}",
                                             "A World-Wide-Mind node: its Minds and Worlds are actors here too.")}
        servers = []
        if self.root:
            from wwm.protocol.manifest import list_servers

            servers = list_servers(self.root)
        minds = [s for s in servers if s.role == "mind"]
        worlds = [s for s in servers if s.role == "world"]
        for server in minds + worlds:
            name = server.name
            if name in actors:
                name = f"{server.name}-{server.role}"
            if name in actors:
                continue
            manifest = server.manifest
            actors[name] = LocalActor(name, server.kind, server.id, str(manifest.get("title") or server.name),
                                      str(manifest.get("description") or ""))
        for provide in self.providers:
            for actor in provide():
                actors.setdefault(actor.name, actor)
        return actors

    def invalidate(self) -> None:
        """Rebuild the registry on the next lookup (an actor was added or removed)."""
        with self._lock:
            self._built = 0.0
            self._actors = {}

    def all(self) -> dict[str, LocalActor]:
        """Every local actor by username."""
        with self._lock:
            now = time.monotonic()
            if not self._actors or now - self._built > self.refresh:
                self._actors = self._scan()
                self._built = now
            return dict(self._actors)

    def get(self, name: str) -> LocalActor | None:
        return self.all().get(name)

    @property
    def node(self) -> LocalActor:
        return self.all()[self.node_name]

    def minds(self) -> list[LocalActor]:
        return [a for a in self.all().values() if a.kind in ("mind", "society")]

    # -- URLs ----------------------------------------------------------------------

    def id(self, name: str) -> str:
        return f"{self.base}/ap/actors/{name}"

    def key_id(self, name: str) -> str:
        return self.id(name) + "#main-key"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/ap/inbox"

    def object_url(self, object_key: str) -> str:
        return f"{self.base}/ap/objects/{object_key}"

    def by_id(self, url) -> LocalActor | None:
        """The local actor whose id is ``url`` (None for anything else)."""
        prefix = f"{self.base}/ap/actors/"
        if isinstance(url, str) and url.startswith(prefix):
            return self.get(url[len(prefix):])
        return None

    def by_server(self, server_id: str) -> LocalActor | None:
        """The local actor of the gateway's server ``worlds/NAME`` or ``minds/NAME``."""
        return next((a for a in self.all().values() if a.server == server_id), None)

    def handle(self, name: str) -> str:
        return f"@{name}@{self.host}"

    def profile_url(self, actor: LocalActor) -> str:
        """The actor's HTML profile page (the web UI, wwm.web)."""
        return f"{self.base}/ui/actors/{actor.name}"

    # -- documents -----------------------------------------------------------------

    def document(self, actor: LocalActor, public_key_pem: str) -> dict:
        """The actor document (type ``Service``; ``Group`` for a learning group), with its public key."""
        actor_id = self.id(actor.name)
        what = {"node": "node", "mind": "Mind", "society": "society of Minds", "world": "World",
                "group": "learning group"}[actor.kind]
        summary = f"<p>{html.escape(actor.description)}</p>" if actor.description else ""
        if actor.kind in ("mind", "society"):
            summary += (f"<p>A World-Wide-Mind {what}. Mention me and ask for songs, e.g. "
                        f"“{html.escape(self.handle(actor.name))} songs like Enter Sandman”.</p>")
        else:
            summary += f"<p>A World-Wide-Mind {what} on {html.escape(self.host)}.</p>"
        return {
            "@context": AP_CONTEXT,
            "id": actor_id,
            "type": "Group" if actor.kind == "group" else "Service",
            "preferredUsername": actor.name,
            "name": actor.title,
            "summary": summary,
            "url": self.profile_url(actor),
            "icon": {"type": "Image", "mediaType": "image/png", "url": self.profile_url(actor) + "/avatar.png"},
            "inbox": actor_id + "/inbox",
            "outbox": actor_id + "/outbox",
            "followers": actor_id + "/followers",
            "following": actor_id + "/following",
            "endpoints": {"sharedInbox": self.shared_inbox},
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "indexable": False,
            "attachment": [{"type": "PropertyValue", "name": "kind", "value": actor.kind}]
            + [{"type": "PropertyValue", "name": k, "value": str(v)} for k, v in actor.attachment],
            "publicKey": {"id": self.key_id(actor.name), "owner": actor_id, "publicKeyPem": public_key_pem},
        }
