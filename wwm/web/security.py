"""What keeps the web UI safe: CSRF tokens, the CSP header, and URLs that must not reach private hosts.

CSRF uses a double-submit cookie: a random token in a ``SameSite=Strict`` cookie that every
form repeats in a hidden field.  It needs no server-side session and no shared secret, so
several gunicorn workers serve the same forms; an ``Origin`` header from another site is
refused as well.
"""
from __future__ import annotations

import hmac
import secrets
import socket
import urllib.parse

from flask import abort, current_app, g, request

__all__ = ["csrf_token", "check_csrf", "set_headers", "check_url", "CSP"]

COOKIE = "wwm_csrf"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csrf_token() -> str:
    """This browser's token (made on first use; the response sets the cookie)."""
    token = getattr(g, "wwm_csrf", None)
    if token is None:
        token = request.cookies.get(COOKIE, "")
        if len(token) != 43:
            token = secrets.token_urlsafe(32)
            g.wwm_csrf_new = True
        g.wwm_csrf = token
    return token


def check_csrf() -> None:
    """Refuse (403) a state-changing request without the right token or from another origin."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/") != request.host_url.rstrip("/"):
        abort(403, "this form was sent from another site")
    cookie = request.cookies.get(COOKIE, "")
    sent = request.form.get("csrf", "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        abort(403, "the form's security token is missing or wrong: reload the page and try again")


def set_headers(response):
    """CSP and friends on every UI response; the CSRF cookie when it is new."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if getattr(g, "wwm_csrf_new", False):
        response.set_cookie(COOKIE, g.wwm_csrf, httponly=True, samesite="Strict", path="/",
                            secure=request.is_secure)
    return response


def check_url(url: str) -> str:
    """An http(s) URL the server may call for a user: private and loopback hosts are refused
    unless the app allows them (``ALLOW_PRIVATE_FETCH``, for tests and the local demo)."""
    from wwm.federation.errors import ForbiddenAddress
    from wwm.federation.fetch import check_address

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"not an http(s) URL of a server: {url[:200]!r}")
    if current_app.config.get("ALLOW_PRIVATE_FETCH"):
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    except OSError:
        raise ValueError(f"cannot resolve {parts.hostname!r}") from None
    for info in infos:
        try:
            check_address(info[4][0])
        except (ForbiddenAddress, ValueError):
            raise ValueError(f"{parts.hostname} is a private or local address: not allowed") from None
    return url
