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
    Anything else fails loudly as not simulated. Commands chained with ``&`` run in turn (the
    exit code is the last one's), and ``echo`` prints its text, as cmd.exe does.
    """
    sim.log("call", "cmd", line=line, node=node or "")
    parts = _split_chain(line)
    if len(parts) > 1:
        # cmd.exe runs "a & b" one after the other; the exit code is the last one's.
        results = [_run_one(sim, part, node) for part in parts]
        return CmdResult(stdout="".join(r.stdout for r in results),
                         stderr="".join(r.stderr for r in results),
                         exit_code=results[-1].exit_code)
    return _run_one(sim, line, node)


def _split_chain(line: str) -> list[str]:
    """Split at cmd.exe's ``&`` outside double quotes (inside them it is a literal)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "&" and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _run_one(sim: SimCluster, line: str, node: str | None) -> CmdResult:
    head = line.strip().split(" ", 1)[0].strip('"').lower()
    if head == "echo":
        # cmd.exe's echo prints the rest of the command as written.
        return CmdResult(stdout=line.strip()[5:] + "\r\n", stderr="", exit_code=0)
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
