"""The simulator's cmd shell: answers command lines (cluster.exe, an installer) from the same model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clusterlib.transports.base import CmdResult

if TYPE_CHECKING:
    from clusterlib.sim.model import SimCluster


def run_command_line(sim: SimCluster, line: str, node: str | None = None) -> CmdResult:
    """Run one cmd.exe line as a shell on ``node`` (None: the host serving the cluster endpoint).

    On a node shell, with the simulator built with ``upgrade_to=``, any line that is not
    cluster.exe is taken to be the upgrade installer: the node reboots into the target release
    (``SimCluster.upgrade_node``). cluster.exe lines are answered by the cluster.exe emulation.
    Anything else fails loudly as not simulated.
    """
    sim.log("call", "cmd", line=line, node=node or "")
    head = line.strip().split(" ", 1)[0].strip('"').lower()
    if head in ("cluster", "cluster.exe") or head.endswith("\\cluster.exe"):
        try:
            from clusterlib.sim.clusterexe import run_cluster_exe
        except ImportError:
            return CmdResult(stdout="", stderr="not simulated: cluster.exe\r\n", exit_code=1)
        return run_cluster_exe(sim, line)
    if node is not None and sim.upgrade_to is not None:
        from clusterlib.sim.model import SimError

        try:
            sim.upgrade_node(node)
        except SimError as err:
            return CmdResult(stdout="", stderr=err.detail + "\r\n", exit_code=err.code)
        return CmdResult(stdout=f"Installing {sim.upgrade_to.label} on {node}; the computer will"
                         " restart.\r\n", stderr="", exit_code=0)
    return CmdResult(stdout="", stderr=f"not simulated: command line {line!r}\r\n", exit_code=1)
