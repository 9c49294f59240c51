"""Errors of the federation layer, under the project's one exception tree.

    WWMError
      FederationError          anything in ActivityPub, WebFinger or HTTP Signatures
        SignatureError         a request's signature is missing, invalid, stale or replayed (401)
          UnsupportedSignature a signature scheme we cannot check, such as RFC 9421 (401)
        FetchError             a remote document could not be fetched safely
          ForbiddenAddress     the URL resolves to a private, loopback or otherwise internal address
"""
from __future__ import annotations

from wwm.protocol.errors import WWMError

__all__ = ["FederationError", "SignatureError", "UnsupportedSignature", "FetchError", "ForbiddenAddress"]


class FederationError(WWMError):
    """Raised for any ActivityPub, WebFinger or HTTP Signatures problem; ``status`` is the HTTP code."""

    status = 400


class SignatureError(FederationError):
    """Raised when a request's HTTP signature is missing, malformed, wrong, stale or replayed."""

    status = 401


class UnsupportedSignature(SignatureError):
    """Raised for a signature we cannot check (RFC 9421 HTTP Message Signatures, unknown algorithms)."""


class FetchError(FederationError):
    """Raised when a remote document cannot be fetched: network error, bad status, too large, not JSON."""

    status = 502


class ForbiddenAddress(FetchError):
    """Raised when a URL points at a private, loopback, link-local or multicast address (SSRF guard)."""

    status = 403
