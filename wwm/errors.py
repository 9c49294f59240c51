"""One exception tree for wwm.

    WWMError
      GatewayError              a query failed; .code is its HTTP status
        BadRequest (400)  NotFound (404)  MethodNotAllowed (405)  Conflict (409)
        TooLarge (413)  TooManyRuns (503)
        ProtocolError (502)     Program 1 crashed, wrote garbage, flooded its log
        ProgramTimeout (504)    Program 1 did not answer in time
      ClientError               talking to a gateway failed
        ConnectionFailed        the gateway cannot be reached
        BadResponse             the gateway's answer is not a wwm response
      FederationError           ActivityPub: signatures, fetching, delivery (wwm.federation.errors)

The gateway classes live in wwm.gateway.core (which must stay standard-library
only and self-contained) and are re-exported here; a client raises the same
class for the same HTTP code, whether the gateway is local or remote.
"""
from __future__ import annotations

from wwm.gateway.core import (BadRequest, Conflict, GatewayError, MethodNotAllowed, NotFound,
                              ProgramTimeout, ProtocolError, TooLarge, TooManyRuns, WWMError)

__all__ = ["WWMError", "GatewayError", "BadRequest", "NotFound", "MethodNotAllowed", "Conflict",
           "TooLarge", "TooManyRuns", "ProtocolError", "ProgramTimeout", "ClientError",
           "ConnectionFailed", "BadResponse", "error_for_code"]


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
                                      TooManyRuns, ProtocolError, ProgramTimeout)}
_BY_CODE[429] = TooManyRuns


def error_for_code(code: int, message: str, run: str | None = None) -> GatewayError:
    """The GatewayError subclass a remote gateway meant by ``code``."""
    cls = _BY_CODE.get(code, GatewayError)
    exc = cls(message, run=run)
    if cls is GatewayError:
        exc.code = code
    return exc
