"""wwm: the World-Wide-Mind toolkit.

Minds and Worlds in any language speak a file protocol (``wwm.program`` for
Python); the stock gateway (``wwm.gateway``) puts them on the web; clients
(``wwm.client``) run any Mind in any World, local or remote.
"""
from wwm.client import Result, Run, Server, connect, describe, run_episode
from wwm.errors import (BadRequest, ClientError, Conflict, GatewayError, NotFound, ProgramTimeout,
                        ProtocolError, WWMError)

__version__ = "0.1.0"

__all__ = ["connect", "Server", "Run", "Result", "run_episode", "describe",
           "WWMError", "GatewayError", "BadRequest", "NotFound", "Conflict", "ProtocolError",
           "ProgramTimeout", "ClientError", "__version__"]
