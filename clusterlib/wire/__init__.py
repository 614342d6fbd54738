"""The wire's ground floor: command and result records, cmd.exe lines, cluster.exe text, shared limits.

Everything that talks to a cluster stands on this floor (transports, dialects and the
simulator); it imports nothing of theirs.
"""

from clusterlib.wire.limits import DEFAULT_MAX_ENVELOPE_SIZE
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
    "DEFAULT_MAX_ENVELOPE_SIZE",
    "CmdLine",
    "CmdResult",
    "Cmdlet",
    "ErrorRecord",
    "PSResult",
    "ParamValue",
    "Pipeline",
    "Statement",
]
