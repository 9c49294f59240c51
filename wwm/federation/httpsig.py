"""HTTP Signatures, draft-cavage-http-signatures-12, as the fediverse (Mastodon) uses them.

Signing (every outgoing request)::

    headers = sign_request("POST", inbox_url, body=raw, key_id=actor + "#main-key", private_key=key)

signs ``(request-target) host date digest`` (GET: ``(request-target) host date``) with
RSASSA-PKCS1-v1_5 / SHA-256 and ``algorithm="rsa-sha256"`` (or ``hs2019``).

Verifying (every incoming signed request), in two steps so that the caller can put cheap
checks (replay cache) between them and the costly ones (key fetch, RSA)::

    pending = prepare_verification(method, target, get_header, body, now=time.time())
    verified = finish_verification(pending, resolve_key)

``prepare_verification`` hands RFC 9421 signatures (``Signature-Input``) to ``rfc9421.py``
(the ``http-message-signatures`` library, with the same policy), and for cavage checks that
the signed header list covers what Mastodon requires (``date`` or ``(created)``;
``(request-target)`` or ``digest``; ``host`` on GET; ``digest`` on POST), that the Date
is within ``max_skew`` seconds, and that ``Digest: SHA-256=`` matches the raw body.
``finish_verification`` checks the signature against the key, and if that fails asks
``resolve_key`` once more with ``refresh=True`` (the key may have been rotated).
Every refusal raises :class:`SignatureError` (HTTP 401).
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .errors import SignatureError, UnsupportedSignature

__all__ = [
    "Signature", "KeyInfo", "PendingVerification", "Verified",
    "body_digest", "check_digest", "parse_signature", "signature_from_headers",
    "signing_string", "sign_request", "prepare_verification", "finish_verification",
    "verify_request", "sender_hint",
]

MAX_SKEW = 3600.0          # seconds a Date may be off: "about an hour"
MIN_RSA_BITS = 2048
MAX_SIGNATURE_HEADER = 8192
_PARAM_RE = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"\\]*)"|([0-9]+))\s*(,|\Z)')
_RFC9421_RE = re.compile(r'^\s*[a-z*][a-z0-9_.*-]*\s*=\s*:[A-Za-z0-9+/=]*:')
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_KNOWN = ("rsa-sha256", "rsa-sha512", "hs2019", "ed25519")

HeaderGetter = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Signature:
    """The parameters of one ``Signature`` header."""

    key_id: str
    algorithm: str | None
    headers: tuple[str, ...]
    signature: bytes
    created: int | None = None
    expires: int | None = None


class KeyInfo(NamedTuple):
    """A public key and the actor that owns it, as found at ``key_id``."""

    key_id: str
    owner: str
    pem: str
    public_key: object


@dataclass(frozen=True)
class PendingVerification:
    """A signature that passed every cheap check, with the string it must sign."""

    signature: Signature
    signing_string: str
    check: Callable | None = None  # RFC 9421: ``check(public_key) -> bool`` (the library verifies)


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out: the signature and the key that made it."""

    signature: Signature
    key: KeyInfo


# ---------------------------------------------------------------------------
# parsing


def parse_signature(value: str) -> Signature:
    """Parse a draft-cavage ``Signature`` header value.

    Raises:
        SignatureError: the value is malformed or misses keyId or signature.
    """
    if len(value) > MAX_SIGNATURE_HEADER:
        raise SignatureError("Signature header too long")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        m = _PARAM_RE.match(value, pos)
        if not m:
            raise SignatureError("malformed Signature header")
        name = m.group(1)
        if name in params:
            raise SignatureError(f"Signature parameter {name} given twice")
        params[name] = m.group(2) if m.group(2) is not None else m.group(3)
        pos = m.end()
        if m.group(4) == "" and pos < len(value):
            raise SignatureError("malformed Signature header")
    if not params.get("keyId") or not params.get("signature"):
        raise SignatureError("Signature header needs keyId and signature")
    try:
        raw = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise SignatureError("signature is not base64") from None
    names = tuple(params.get("headers", "date").lower().split())
    if not names or len(set(names)) != len(names) or len(names) > 32:
        raise SignatureError("bad headers list in Signature")
    algorithm = params.get("algorithm")
    if algorithm is not None:
        algorithm = algorithm.lower()
        if algorithm not in _KNOWN:
            raise UnsupportedSignature(f"unsupported signature algorithm {algorithm[:40]!r}")

    def number(key):
        if key not in params:
            return None
        if not params[key].isdigit() or len(params[key]) > 12:
            raise SignatureError(f"bad {key} in Signature")
        return int(params[key])

    return Signature(params["keyId"], algorithm, names, raw, number("created"), number("expires"))


def _is_rfc9421(get_header: HeaderGetter) -> bool:
    if get_header("signature-input") is not None:
        return True
    value = get_header("signature")
    return value is not None and bool(_RFC9421_RE.match(value))


def signature_from_headers(get_header: HeaderGetter) -> Signature:
    """The draft-cavage signature of a request (``Signature`` or ``Authorization: Signature``).

    Raises:
        UnsupportedSignature: the request carries an RFC 9421 signature (``Signature-Input``).
        SignatureError: there is no signature, or it is malformed.
    """
    if _is_rfc9421(get_header):
        raise UnsupportedSignature("RFC 9421 HTTP Message Signatures are not supported; "
                                   "sign with draft-cavage-http-signatures-12")
    value = get_header("signature")
    if value is None:
        auth = get_header("authorization") or ""
        if auth[:10].lower() == "signature ":
            value = auth[10:]
    if value is None:
        raise SignatureError("request is not signed")
    return parse_signature(value)


def sender_hint(get_header: HeaderGetter) -> str | None:
    """The claimed sender (keyId without fragment), found without any signature work.

    Used only to choose a rate-limit bucket; it is not authenticated.
    """
    value = get_header("signature") or get_header("authorization") or ""
    m = re.search(r'keyId\s*=\s*"([^"]{1,2048})"', value) or re.search(
        r';\s*keyid="([^"]{1,2048})"', get_header("signature-input") or "")
    if not m:
        return None
    return m.group(1).split("#", 1)[0]


# ---------------------------------------------------------------------------
# building blocks


def body_digest(body: bytes) -> str:
    """The ``Digest`` header value for ``body``: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def check_digest(value: str | None, body: bytes) -> None:
    """Check a ``Digest`` header against the raw body.

    Every SHA-256/SHA-512 digest listed must match, and at least one must be listed.

    Raises:
        SignatureError: missing, unsupported or mismatched digest.
    """
    if not value:
        raise SignatureError("Digest header missing")
    matched = False
    for part in value.split(","):
        algo, _, encoded = part.strip().partition("=")
        hasher = _DIGESTS.get(algo.strip().lower())
        if hasher is None:
            continue
        try:
            expected = base64.b64decode(encoded.strip(), validate=True)
        except ValueError:
            raise SignatureError("Digest is not base64") from None
        if not hmac.compare_digest(expected, hasher(body).digest()):
            raise SignatureError("Digest does not match the body")
        matched = True
    if not matched:
        raise SignatureError("Digest has no SHA-256 value")


def signing_string(names, *, method: str, target: str, get_header: HeaderGetter,
                   created: int | None = None, expires: int | None = None) -> str:
    """The string to sign: one ``name: value`` line per name in ``names``, as sent.

    Raises:
        SignatureError: a signed header is absent from the request.
    """
    lines = []
    for name in names:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name == "(created)":
            if created is None:
                raise SignatureError("(created) signed but not given")
            value = str(created)
        elif name == "(expires)":
            if expires is None:
                raise SignatureError("(expires) signed but not given")
            value = str(expires)
        elif name.startswith("("):
            raise SignatureError(f"unknown pseudo-header {name[:40]}")
        else:
            value = get_header(name)
            if value is None:
                raise SignatureError(f"signed header {name[:40]} is missing")
            value = value.strip()
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _parse_date(value: str | None) -> float:
    try:
        parsed = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError, IndexError):
        raise SignatureError("Date header is missing or malformed") from None
    return parsed.timestamp()  # a naive result is treated as UTC by parsedate_to_datetime


def _check_policy(sig: Signature, method: str, get_header: HeaderGetter, now: float, max_skew: float) -> None:
    names = set(sig.headers)
    if "date" not in names and "(created)" not in names:
        raise SignatureError("the Date header or (created) must be signed")
    if "(request-target)" not in names and "digest" not in names:
        raise SignatureError("(request-target) or the Digest header must be signed")
    if method in ("GET", "HEAD") and "host" not in names:
        raise SignatureError("the Host header must be signed on GET")
    if method == "POST" and "digest" not in names:
        raise SignatureError("the Digest header must be signed on POST")
    if "date" in names and abs(now - _parse_date(get_header("date"))) > max_skew:
        raise SignatureError("Date is too far from now (expired or replayed request?)")
    if sig.created is not None and abs(now - sig.created) > max_skew:
        raise SignatureError("signature (created) is too far from now")
    if sig.expires is not None and sig.expires < now:
        raise SignatureError("signature has expired")


def _check(sig: Signature, public_key, data: bytes) -> bool:
    algorithm = sig.algorithm
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < MIN_RSA_BITS:
                return False
            if algorithm in ("rsa-sha256", "hs2019", None):
                try:
                    public_key.verify(sig.signature, data, padding.PKCS1v15(), hashes.SHA256())
                    return True
                except InvalidSignature:
                    if algorithm == "rsa-sha256":
                        return False
                # hs2019 with an RSA key may also mean RSASSA-PSS / SHA-512 (the draft's reading)
                public_key.verify(sig.signature, data,
                                  padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=padding.PSS.AUTO),
                                  hashes.SHA512())
                return True
            if algorithm == "rsa-sha512":
                public_key.verify(sig.signature, data, padding.PKCS1v15(), hashes.SHA512())
                return True
            return False
        if isinstance(public_key, ed25519.Ed25519PublicKey) and algorithm in ("ed25519", "hs2019", None):
            public_key.verify(sig.signature, data)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


# ---------------------------------------------------------------------------
# verifying


def prepare_verification(method: str, target: str, get_header: HeaderGetter, body: bytes, *,
                         now: float, max_skew: float = MAX_SKEW, scheme: str = "https") -> PendingVerification:
    """Every check that needs no key: scheme, header policy, freshness, body digest.

    Args:
        method: the HTTP method, upper case.
        target: the request target as sent: path plus ``?query`` if any.
        get_header: returns a header's value (several joined by ``", "``) or None; lower-case names.
        body: the raw request body, before any parsing.
        now: the current time (seconds since the epoch).
        max_skew: how far the Date or (created) may be from ``now``.
        scheme: how the sender reached us (``@target-uri`` of RFC 9421 signatures).

    Raises:
        SignatureError: the request must be refused (HTTP 401).
    """
    method = method.upper()
    if _is_rfc9421(get_header):
        from . import rfc9421

        url = f"{scheme}://{get_header('host') or ''}{target}"
        key_id, raw, components, created, check = rfc9421.prepare(method, url, get_header, body, now=now,
                                                                  max_skew=max_skew)
        return PendingVerification(Signature(key_id, "rfc9421", components, raw, created), "", check)
    sig = signature_from_headers(get_header)
    _check_policy(sig, method, get_header, now, max_skew)
    if method not in ("GET", "HEAD") or "digest" in sig.headers:
        check_digest(get_header("digest"), body)
    text = signing_string(sig.headers, method=method, target=target, get_header=get_header,
                          created=sig.created, expires=sig.expires)
    return PendingVerification(sig, text)


def finish_verification(pending: PendingVerification,
                        resolve_key: Callable[[str, bool], KeyInfo]) -> Verified:
    """Check the signature with the sender's key; on failure refetch the key once and retry.

    Args:
        pending: from :func:`prepare_verification`.
        resolve_key: ``resolve_key(key_id, refresh) -> KeyInfo``; with ``refresh=True`` it should
            fetch the key again (subject to its own rate limit) and may return the cached key.

    Raises:
        SignatureError: the signature does not verify, or the key cannot be had.
    """
    sig = pending.signature
    data = pending.signing_string.encode("utf-8")

    def good(public_key) -> bool:
        return pending.check(public_key) if pending.check is not None else _check(sig, public_key, data)

    key = resolve_key(sig.key_id, False)
    if good(key.public_key):
        return Verified(sig, key)
    fresh = resolve_key(sig.key_id, True)
    if fresh.pem != key.pem and good(fresh.public_key):
        return Verified(sig, fresh)
    raise SignatureError("signature does not verify")


def verify_request(method: str, target: str, get_header: HeaderGetter, body: bytes, *,
                   resolve_key: Callable[[str, bool], KeyInfo], now: float,
                   max_skew: float = MAX_SKEW, scheme: str = "https") -> Verified:
    """:func:`prepare_verification` then :func:`finish_verification`."""
    pending = prepare_verification(method, target, get_header, body, now=now, max_skew=max_skew, scheme=scheme)
    return finish_verification(pending, resolve_key)


# ---------------------------------------------------------------------------
# signing


def sign_request(method: str, url: str, *, key_id: str, private_key, body: bytes | None = None,
                 headers: dict | None = None, algorithm: str = "rsa-sha256",
                 now: float | None = None) -> dict[str, str]:
    """Sign a request; returns ``headers`` plus ``Host``, ``Date``, ``Digest`` (with a body) and ``Signature``.

    Args:
        method: HTTP method.
        url: the full URL the request goes to.
        key_id: the public key's id (``ACTOR#main-key``).
        private_key: an RSA private key from :class:`wwm.federation.keys.KeyStore`.
        body: the exact bytes that will be sent (POST), or None (GET).
        headers: further headers to send (not signed).
        algorithm: ``rsa-sha256`` (Mastodon's) or ``hs2019``.
        now: signing time (seconds since the epoch), for tests.
    """
    if algorithm not in ("rsa-sha256", "hs2019"):
        raise ValueError("algorithm must be rsa-sha256 or hs2019")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    out = dict(headers or {})
    out["Host"] = parts.netloc.rpartition("@")[2]
    out["Date"] = email.utils.formatdate(now, usegmt=True)
    names = ["(request-target)", "host", "date"]
    if body is not None:
        out["Digest"] = body_digest(body)
        names.append("digest")
    lower = {k.lower(): v for k, v in out.items()}
    text = signing_string(names, method=method, target=target, get_header=lower.get)
    raw = private_key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    out["Signature"] = (f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(names)}",'
                        f'signature="{base64.b64encode(raw).decode("ascii")}"')
    return out
