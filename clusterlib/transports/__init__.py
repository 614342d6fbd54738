"""How commands travel to a cluster: the transport interface and its implementations."""

from clusterlib.transports.base import NodeTransport, Transport
from clusterlib.wire import Cmdlet, CmdLine, CmdResult, ErrorRecord, Pipeline, PSResult, Statement

__all__ = [
    "CmdLine",
    "CmdResult",
    "Cmdlet",
    "ErrorRecord",
    "NodeTransport",
    "PSResult",
    "Pipeline",
    "Statement",
    "Transport",
]
