"""One exception tree for wwm; each gateway error carries its HTTP status.

    WWMError
      GatewayError              a query failed; .code is its HTTP status
        BadRequest (400)  NotFound (404)  MethodNotAllowed (405)  Conflict (409)
        TooLarge (413)  TooManyRequests (429)  TooManyRuns (503)
        InsufficientStorage (507)  the disk holding RUNS is full
        ProtocolError (502)     Program 1 crashed, wrote garbage, flooded its log
        ProgramTimeout (504)    Program 1 did not answer in time
      ClientError               talking to a gateway failed
        ConnectionFailed        the gateway cannot be reached
        BadResponse             the gateway's answer is not a wwm response
      FederationError           ActivityPub (wwm.federation.errors)

A client raises the same class for the same HTTP code, whether the gateway is
local or remote (``error_for_code``).
"""
from __future__ import annotations

class WWMError(Exception):
    """Base of every wwm error."""


class GatewayError(WWMError):
    """A query could not be answered; ``code`` is the HTTP status to send."""

    code = 500

    def __init__(self, message: str, *, run: str | None = None, log: str | None = None):
        if log:
            message = f"{message} (see log {log})"
        super().__init__(message)
        self.message = message
        self.run = run


class BadRequest(GatewayError):
    """The request itself is malformed: missing or invalid parameters, bad XML."""
    code = 400


class NotFound(GatewayError):
    """No such server, or no such run."""
    code = 404


class MethodNotAllowed(GatewayError):
    """Only GET and POST are served."""
    code = 405


class Conflict(GatewayError):
    """The query is out of sequence for the run (strict alternation)."""
    code = 409


class TooLarge(GatewayError):
    """The request body or a payload is over its size limit."""
    code = 413


class TooManyRuns(GatewayError):
    """The server or the gateway is at its limit of concurrent runs."""
    code = 503
    retry_after = 30


class TooManyRequests(GatewayError):
    """This client already holds its share of the runs (``max_runs_per_client``)."""
    code = 429
    retry_after = 30


class InsufficientStorage(GatewayError):
    """The gateway's disk (RUNS) is full: nothing new can be written."""
    code = 507
    retry_after = 60


class ProtocolError(GatewayError):
    """Program 1 crashed, wrote garbage, wrote non-atomically or flooded its log."""
    code = 502


class ProgramTimeout(GatewayError):
    """Program 1 did not answer within its step timeout."""
    code = 504


class ClientError(WWMError):
    """Talking to a gateway failed (not an answer from it)."""

    def __init__(self, message: str, *, url: str | None = None):
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class ConnectionFailed(ClientError):
    """The gateway could not be reached, or dropped the connection."""


class BadResponse(ClientError):
    """The gateway answered something that is not a wwm response."""


_BY_CODE = {cls.code: cls for cls in (BadRequest, NotFound, MethodNotAllowed, Conflict, TooLarge,
                                      TooManyRequests, TooManyRuns, InsufficientStorage, ProtocolError,
                                      ProgramTimeout)}


def error_for_code(code: int, message: str, run: str | None = None) -> GatewayError:
    """The GatewayError subclass a remote gateway meant by ``code``."""
    cls = _BY_CODE.get(code, GatewayError)
    exc = cls(message, run=run)
    if cls is GatewayError:
        exc.code = code
    return exc
