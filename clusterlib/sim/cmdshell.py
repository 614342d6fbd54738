"""The simulator's cmd shell: answers command lines (cluster.exe) from the same model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clusterlib.transports.base import CmdResult

if TYPE_CHECKING:
    from clusterlib.sim.model import SimCluster


def run_command_line(sim: SimCluster, line: str) -> CmdResult:
    """Run one cmd.exe line. cluster.exe emulation lands with the cluster.exe dialect; until then
    every line fails loudly as not simulated."""
    sim.log("call", "cmd", line=line)
    return CmdResult(stdout="", stderr=f"not simulated: command line {line!r}\r\n", exit_code=1)
