"""wwm: the World-Wide-Mind toolkit.

Minds and Worlds in any language speak a file protocol (``wwm.protocol``;
``wwm.program`` for Python); the stock gateway (``wwm.gateway``) puts them on
the web; clients (``wwm.client``) run any Mind in any World, local or remote.

The names below are imported on first use, so that ``import wwm.protocol``
(which a Program 1 and the CGI gateway do) costs no more than the protocol.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "connect": "wwm.client", "Server": "wwm.client", "Run": "wwm.client", "Result": "wwm.client",
    "run_episode": "wwm.client", "describe": "wwm.client",
    **{name: "wwm.protocol.errors" for name in (
        "WWMError", "GatewayError", "BadRequest", "NotFound", "Conflict", "ProtocolError",
        "ProgramTimeout", "ClientError")},
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'wwm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
