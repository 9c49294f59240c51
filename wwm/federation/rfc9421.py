"""RFC 9421 HTTP Message Signatures, verified (and made) with the ``http-message-signatures`` library.

Fedify and newer fediverse servers sign with RFC 9421 first and fall back to draft-cavage on
a 401 ("double knocking").  The signature base, structured-field parsing and the algorithms
come from the library (a maintained implementation tested against the RFC's own examples);
this module only applies the fediverse's policy around it, as ``httpsig`` does for cavage:

- exactly one signature, with a ``keyid`` that is a URL, and ``created`` within ``max_skew``;
- it covers ``@method`` and the target (``@target-uri``, or ``@authority`` with ``@path`` or
  ``@request-target``); a request with a body also covers ``content-digest``, which must match
  the raw body (SHA-256 or SHA-512);
- the algorithm follows the key: RSA keys ``rsa-v1_5-sha256`` (what Fedify uses; an explicit
  ``rsa-pss-sha512`` too), Ed25519 keys ``ed25519``.

:func:`prepare` does every check that needs no key and returns a pending verification whose
``check(public_key)`` runs the library's verifier; ``httpsig.finish_verification`` then
resolves the key, refetching it once on failure, as for cavage.
"""
from __future__ import annotations

import base64
import datetime
import re
from types import SimpleNamespace

from .errors import SignatureError

__all__ = ["prepare", "sign", "key_id_of"]

_KEYID_RE = re.compile(r';\s*keyid="([^"\\]{1,2048})"')
_CREATED_RE = re.compile(r';\s*created=(\d{1,12})(?![0-9])')
_COMPONENT_RE = re.compile(r'"([^"\\]{1,200})"')
_LABEL_RE = re.compile(r'^\s*([a-z*][a-z0-9_.*-]*)\s*=\s*\(([^)]*)\)')
_SIG_RE = re.compile(r'^\s*([a-z*][a-z0-9_.*-]*)\s*=\s*:([A-Za-z0-9+/=]*):\s*$')


def _library():
    try:
        import http_message_signatures as hms
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SignatureError("RFC 9421 signatures need the 'http-message-signatures' package") from exc
    return hms


def key_id_of(signature_input: str | None) -> str | None:
    match = _KEYID_RE.search(signature_input or "")
    return match.group(1) if match else None


def _algorithm(hms, public_key, declared: str | None):
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    algorithms = hms.algorithms
    if isinstance(public_key, rsa.RSAPublicKey):
        return algorithms.RSA_PSS_SHA512 if declared == "rsa-pss-sha512" else algorithms.RSA_V1_5_SHA256
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return algorithms.ED25519
    raise SignatureError("unsupported key type for RFC 9421")


def prepare(method: str, url: str, get_header, body: bytes, *, now: float, max_skew: float):
    """The cheap checks of an RFC 9421 signed request; returns ``(key_id, raw signature, components, check)``.

    Args:
        url: the absolute request URL as the sender addressed it (scheme, Host header, target).

    Raises:
        SignatureError: malformed, several signatures, stale, too little covered, digest mismatch.
    """
    hms = _library()
    sig_input, sig_value = get_header("signature-input") or "", get_header("signature") or ""
    if len(sig_input) > 8192 or len(sig_value) > 8192:
        raise SignatureError("signature headers too large")
    label = _LABEL_RE.match(sig_input)
    signature = _SIG_RE.match(sig_value)
    if not label or not signature or "," in sig_value.strip().rstrip(","):
        raise SignatureError("expected exactly one RFC 9421 signature")
    if label.group(1) != signature.group(1):
        raise SignatureError("Signature-Input and Signature labels differ")
    key_id = key_id_of(sig_input)
    created = _CREATED_RE.search(sig_input)
    if not key_id or not created:
        raise SignatureError("RFC 9421 signature without keyid or created")
    if abs(now - int(created.group(1))) > max_skew:
        raise SignatureError("signature created too far from now")
    components = tuple(_COMPONENT_RE.findall(label.group(2)))
    covered = set(components)
    if "@method" not in covered or not ("@target-uri" in covered or (
            "@authority" in covered and covered & {"@path", "@request-target"})):
        raise SignatureError("RFC 9421 signature must cover @method and the target URI")
    if body or method.upper() not in ("GET", "HEAD"):
        if "content-digest" not in covered:
            raise SignatureError("RFC 9421 signature must cover content-digest")
        try:
            hms.ContentDigest.verify(get_header("content-digest") or "", body)
        except Exception:
            raise SignatureError("Content-Digest does not match the body") from None
    headers = {"Signature-Input": sig_input, "Signature": sig_value}
    for name in components:
        if not name.startswith("@"):
            value = get_header(name.lower())
            if value is None:
                raise SignatureError(f"covered header {name!r} is missing")
            headers[name] = value
    message = SimpleNamespace(method=method.upper(), url=url, headers=headers)
    declared = re.search(r';\s*alg="([^"]+)"', sig_input)

    def check(public_key) -> bool:
        class Keys(hms.HTTPSignatureKeyResolver):
            def resolve_public_key(self, _key_id):
                return public_key

        verifier = hms.HTTPMessageVerifier(signature_algorithm=_algorithm(hms, public_key, declared and declared.group(1)),
                                           key_resolver=Keys())
        verifier.max_clock_skew = datetime.timedelta(seconds=max_skew)
        try:
            verifier.verify(message, max_age=None)
        except (hms.InvalidSignature, hms.HTTPMessageSignaturesException):
            return False
        return True

    raw = base64.b64decode(signature.group(2))
    return key_id, raw, components, int(created.group(1)), check


def sign(method: str, url: str, *, key_id: str, private_key, body: bytes | None = None,
         headers: dict | None = None, now: float | None = None) -> dict:
    """Headers of ``headers`` plus an RFC 9421 signature (and ``Content-Digest`` for a body), RSA v1.5 SHA-256."""
    hms = _library()

    class Keys(hms.HTTPSignatureKeyResolver):
        def resolve_private_key(self, _key_id):
            return private_key

    out = dict(headers or {})
    covered = ["@method", "@target-uri"]
    if body is not None:
        covered.append("content-digest")  # the library adds the Content-Digest header
    message = SimpleNamespace(method=method.upper(), url=url, headers=out)
    created = datetime.datetime.fromtimestamp(now, datetime.timezone.utc) if now is not None else None
    hms.HTTPMessageSigner(signature_algorithm=hms.algorithms.RSA_V1_5_SHA256, key_resolver=Keys()).sign(
        message, key_id=key_id, created=created, covered_component_ids=covered, label="sig1", body=body)
    return out
