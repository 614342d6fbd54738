"""How commands travel to a cluster: the transport interface and its implementations."""

from clusterlib.transports.base import (
    Cmdlet,
    CmdLine,
    CmdResult,
    ErrorRecord,
    Pipeline,
    PSResult,
    Statement,
    Transport,
)

__all__ = [
    "CmdLine",
    "CmdResult",
    "Cmdlet",
    "ErrorRecord",
    "PSResult",
    "Pipeline",
    "Statement",
    "Transport",
]
