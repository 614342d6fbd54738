"""How commands travel to a cluster: the transport interface and its implementations."""

from clusterlib.transports.base import Transport
from clusterlib.wire import Cmdlet, CmdLine, CmdResult, ErrorRecord, Pipeline, PSResult, Statement

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
