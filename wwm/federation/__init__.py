"""The federation layer (docs/activitypub.md): every node, Mind and World is an ActivityPub actor.

Modules::

    service.py    Federation: one node's machinery, built from a config mapping
    blueprint.py  bp, init_app(app), get_federation(app): the Flask routes
    httpsig.py    HTTP Signatures (draft-cavage-12): sign and verify
    keys.py       the actors' RSA keys, generated once and kept
    fetch.py      SSRF-guarded outgoing HTTP; remote actors and keys
    webfinger.py  WebFinger and NodeInfo
    actors.py     local actors and their documents
    inbox.py      receive (verify, 202, queue) and process activities
    delivery.py   the durable, signed delivery queue with backoff
    outbox.py     notes for notable events, replies, collections
    mentions.py   a mention asking for songs -> the Mind -> a reply
    store.py      the SQLite state
    cli.py        ``wwm node``

See docs/activitypub.md.
"""
from __future__ import annotations

try:
    import cryptography  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("wwm.federation needs the 'cryptography' package: pip install cryptography") from exc

from .blueprint import bp, get_federation, init_app
from .errors import FederationError, FetchError, ForbiddenAddress, SignatureError, UnsupportedSignature
from .outbox import announce_milestone, announce_run_score, post_note
from .service import Federation

__all__ = ["bp", "init_app", "get_federation", "Federation", "post_note", "announce_run_score",
           "announce_milestone", "FederationError", "SignatureError", "UnsupportedSignature", "FetchError",
           "ForbiddenAddress"]
