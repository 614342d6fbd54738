"""The wire's ground floor: command and result records, and the cmd.exe / cluster.exe text codec.

Everything that talks to a cluster stands on this floor (transports, dialects and the
simulator); it imports nothing of theirs.
"""

from clusterlib.wire.records import (
    Cmdlet,
    CmdLine,
    CmdResult,
    ErrorRecord,
    ParamValue,
    Pipeline,
    PSResult,
    Statement,
)

__all__ = [
    "CmdLine",
    "CmdResult",
    "Cmdlet",
    "ErrorRecord",
    "PSResult",
    "ParamValue",
    "Pipeline",
    "Statement",
]
