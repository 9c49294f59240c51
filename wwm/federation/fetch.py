"""Safe outgoing HTTP: the SSRF guard, size caps, timeouts, signed GETs, and remote actor/key lookup.

Every request this node makes to another server goes through :class:`SafeHTTP`:

- only ``https`` URLs (``http`` too when ``allow_http``), no credentials in URLs;
- the host is resolved once, every address it resolves to is checked, and the connection
  is made to that checked address (no second lookup, so DNS rebinding cannot slip a
  private address in between); loopback, private, link-local, multicast, reserved,
  unspecified and shared (CGNAT) addresses are refused unless ``allow_private``
  (the test setting ``ALLOW_PRIVATE_FETCH``);
- redirects are followed by hand, at most 3, each one checked again;
- responses are read up to a size cap, with connect and read timeouts;
- proxies and .netrc from the environment are ignored.

:class:`RemoteActors` fetches and caches remote actors and their public keys, checks
that a key's owner really claims that key, and refetches a key at most once per
``refetch_interval`` seconds.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import FetchError, ForbiddenAddress, SignatureError
from .httpsig import KeyInfo
from .keys import load_public_key

__all__ = ["SafeHTTP", "RemoteActors", "check_address", "origin", "AP_ACCEPT", "AP_TYPES", "object_id"]

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
AP_TYPES = ("application/activity+json", "application/ld+json", "application/json")
USER_AGENT = "wwm-federation/0.1 (+https://github.com/; World-Wide-Mind fungus node)"
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def object_id(value) -> str | None:
    """The id of an ActivityStreams reference: a string, or an object's ``id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def check_address(address: str, allow_private: bool = False) -> None:
    """Refuse internal addresses.

    Raises:
        ForbiddenAddress: ``address`` is loopback, private, link-local, multicast, reserved,
            unspecified or shared, and ``allow_private`` is false.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private:
        return
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global or (ip.version == 4 and ip in _CGNAT)):
        raise ForbiddenAddress(f"refusing to connect to internal address {ip}")


def _resolve_checked(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve {host!r}")
    for address in addresses:  # every address must pass, or a round-robin could pick a bad one
        check_address(address, allow_private)
    return addresses[0]


class _GuardMixin:
    allow_private = False

    def _new_conn(self):
        # Resolve and check here, then connect to the very address that was checked.
        self._dns_host = _resolve_checked(self.host, self.port, self.allow_private)
        return super()._new_conn()


def _adapter(allow_private: bool) -> HTTPAdapter:
    attrs = {"allow_private": allow_private}
    http_conn = type("GuardedHTTPConnection", (_GuardMixin, HTTPConnection), attrs)
    https_conn = type("GuardedHTTPSConnection", (_GuardMixin, HTTPSConnection), attrs)
    http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    return GuardedAdapter(max_retries=0)


class SafeHTTP:
    """Outgoing HTTP with the SSRF guard.

    Args:
        allow_private: connect to loopback/private addresses (tests only).
        allow_http: allow plain ``http`` URLs (tests only).
        verify: TLS verification (True, or a CA bundle path).
        timeout: (connect, read) seconds.
        max_bytes: the largest response body read.
    """

    def __init__(self, *, allow_private: bool = False, allow_http: bool = False, verify=True,
                 timeout=(5.0, 10.0), max_bytes: int = 1 << 20):
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.verify = verify
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies, no .netrc
            adapter = _adapter(self.allow_private)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    def check_url(self, url: str) -> str:
        """Refuse URLs that are not http(s), carry credentials, or name an internal IP literal."""
        if not isinstance(url, str) or len(url) > 2048:
            raise FetchError("bad URL")
        parts = urlsplit(url)
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise ForbiddenAddress(f"refusing {parts.scheme or 'relative'} URL {url[:200]!r}")
        if not parts.hostname or "@" in parts.netloc:
            raise ForbiddenAddress(f"refusing URL {url[:200]!r}")
        try:
            check_address(parts.hostname, self.allow_private)
        except ValueError:
            pass  # a name, checked when it is resolved
        return url

    def request(self, method: str, url: str, *, headers=None, data: bytes | None = None,
                signer=None, max_bytes: int | None = None, read_body: bool = True) -> tuple[requests.Response, bytes]:
        """Send one request (following up to 3 checked redirects for GET) and read the body with a cap.

        Args:
            signer: ``signer(method, url, body, headers) -> headers`` adds HTTP Signature headers.
            read_body: False: return at once with an empty body (deliveries need only the status).

        Raises:
            ForbiddenAddress: the URL (or a redirect) points at an internal address.
            FetchError: network error or a body over the cap.
        """
        cap = self.max_bytes if max_bytes is None else max_bytes
        for _ in range(4):
            self.check_url(url)
            send = dict(headers or {})
            send.setdefault("User-Agent", USER_AGENT)
            if signer is not None:
                send = signer(method, url, data, send)
            try:
                resp = self._session().request(method, url, headers=send, data=data, timeout=self.timeout,
                                               allow_redirects=False, stream=True, verify=self.verify)
            except ForbiddenAddress:
                raise
            except requests.RequestException as exc:
                inner = exc
                while inner is not None and not isinstance(inner, ForbiddenAddress):
                    inner = inner.__context__ or inner.__cause__
                if isinstance(inner, ForbiddenAddress):
                    raise inner from None
                raise FetchError(f"{method} {url[:200]} failed: {type(exc).__name__}") from None
            try:
                if resp.is_redirect and method == "GET" and resp.headers.get("location"):
                    url = urljoin(url, resp.headers["location"])
                    continue
                if not read_body:
                    return resp, b""
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise FetchError(f"response from {url[:200]} too large")
                body = b""
                for chunk in resp.iter_content(65536):
                    body += chunk
                    if len(body) > cap:
                        raise FetchError(f"response from {url[:200]} too large")
                return resp, body
            except requests.RequestException:
                raise FetchError(f"reading {url[:200]} failed") from None
            finally:
                resp.close()
        raise FetchError(f"too many redirects from {url[:200]}")

    def get_json(self, url: str, *, signer=None) -> dict:
        """GET an ActivityStreams document (signed when ``signer`` is given)."""
        resp, body = self.request("GET", url, headers={"Accept": AP_ACCEPT}, signer=signer)
        if resp.status_code != 200:
            raise FetchError(f"GET {url[:200]}: HTTP {resp.status_code}")
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in AP_TYPES and not ctype.endswith("+json"):
            raise FetchError(f"GET {url[:200]}: not JSON ({ctype[:60]})")
        try:
            doc = json.loads(body)
        except ValueError:
            raise FetchError(f"GET {url[:200]}: invalid JSON") from None
        if not isinstance(doc, dict):
            raise FetchError(f"GET {url[:200]}: not a JSON object")
        return doc


def origin(url) -> tuple[str, str] | None:
    """(scheme, host[:port]) of a URL, lower case; None for anything that is not an absolute URL."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.lower()) if parts.scheme and parts.netloc else None


class RemoteActors:
    """Remote actors and their keys, fetched safely and cached in the store.

    Args:
        http: the :class:`SafeHTTP` to use.
        store: a :class:`wwm.federation.store.Store` (tables ``remote_actors``, ``remote_keys``).
        signer: signs GETs (authorized fetch) as the node's own actor.
        clock: ``time.time`` or a stand-in.
        refetch_interval: a key is fetched again at most this often (seconds).
        actor_ttl: cached actors are refreshed after this long (seconds).
    """

    def __init__(self, http: SafeHTTP, store, *, signer=None, clock=time.time,
                 refetch_interval: float = 60.0, actor_ttl: float = 86400.0):
        self.http = http
        self.store = store
        self.signer = signer
        self.clock = clock
        self.refetch_interval = refetch_interval
        self.actor_ttl = actor_ttl
        self.fetches = 0  # how many documents were fetched (for tests and metrics)

    def _get(self, url: str) -> dict:
        self.fetches += 1
        return self.http.get_json(url, signer=self.signer)

    def actor(self, actor_id: str, *, refresh: bool = False) -> dict:
        """The actor document at ``actor_id`` (cached)."""
        cached = self.store.remote_actor(actor_id)
        now = self.clock()
        if cached and not refresh and now - cached[1] < self.actor_ttl:
            return cached[0]
        doc = self._get(actor_id.split("#", 1)[0])
        if doc.get("id") != actor_id:
            raise FetchError(f"actor document at {actor_id[:200]} has another id")
        if not isinstance(doc.get("inbox"), str):
            raise FetchError(f"{actor_id[:200]} is not an actor (no inbox)")
        self.store.save_remote_actor(actor_id, doc, now)
        return doc

    def inbox(self, actor_id: str, *, shared: bool = False) -> str:
        """The actor's inbox URL (its shared inbox when ``shared`` and it has one)."""
        doc = self.actor(actor_id)
        if shared:
            endpoints = doc.get("endpoints")
            if isinstance(endpoints, dict) and isinstance(endpoints.get("sharedInbox"), str):
                return endpoints["sharedInbox"]
        return doc["inbox"]

    def key(self, key_id: str, refresh: bool = False) -> KeyInfo:
        """The public key ``key_id`` and its owner; the signature layer's ``resolve_key``.

        The key's document must be on the same origin as ``key_id``; when it is an actor,
        its ``publicKey`` must list ``key_id``; when it is a key, its owner's actor document
        must list the key.  ``refresh`` fetches again unless the last fetch was less than
        ``refetch_interval`` ago.

        Raises:
            SignatureError: the key cannot be fetched or is not claimed by its owner.
        """
        cached = self.store.remote_key(key_id)
        now = self.clock()
        if cached and (not refresh or now - cached[1] < self.refetch_interval):
            return cached[0]
        try:
            info = self._fetch_key(key_id)
        except (FetchError, ValueError) as exc:
            if cached:
                self.store.touch_remote_key(key_id, now)  # rate-limit refetches of failing keys too
                return cached[0]
            raise SignatureError(f"cannot get key {key_id[:200]}: {exc}") from None
        self.store.save_remote_key(info, now)
        return info

    def _fetch_key(self, key_id: str) -> KeyInfo:
        url = key_id.split("#", 1)[0]
        doc = self._get(url)
        if origin(object_id(doc) or "") != origin(key_id):
            raise FetchError("key document is on another origin")
        if "inbox" in doc:  # an actor: find the key among its publicKey entries
            actor = doc
        else:  # a key document: its owner must claim it
            owner = object_id(doc.get("owner"))
            if not owner or origin(owner) != origin(key_id):
                raise FetchError("key has no owner on its origin")
            actor = self._get(owner.split("#", 1)[0])
        keys = actor.get("publicKey")
        keys = keys if isinstance(keys, list) else [keys]
        for entry in keys:
            if isinstance(entry, dict) and entry.get("id") == key_id:
                owner = object_id(entry.get("owner")) or actor.get("id")
                if owner != actor.get("id"):
                    raise FetchError("key's owner is not the actor that lists it")
                pem = entry.get("publicKeyPem")
                public_key = load_public_key(pem)  # raises ValueError when it is not a key
                if "inbox" in actor and isinstance(actor.get("id"), str):
                    self.store.save_remote_actor(actor["id"], actor, self.clock())
                return KeyInfo(key_id, owner, pem, public_key)
        raise FetchError("the actor does not list this key")
