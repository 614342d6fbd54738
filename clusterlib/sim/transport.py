"""The in-process transport: commands go straight to a SimCluster, no wire, same results as WinRM."""

from __future__ import annotations

from typing import Any

from clusterlib.errors import ConnectionFailed
from clusterlib.sim.cmdshell import run_command_line
from clusterlib.sim.powershell_host import PowerShellHost
from clusterlib.sim.psobjects import PSEnumValue, PSObject
from clusterlib.sim.simcluster import SimAnswerLost, SimCluster, SimHostDown
from clusterlib.wire import CmdLine, CmdResult, ErrorRecord, Pipeline, PSResult


class InProcessTransport:
    """Runs pipelines and command lines in the simulator's PowerShell host and cmd shell.

    Output is normalised exactly as the WinRM transport normalises what pypsrp deserializes:
    strings and primitives pass through, objects become dicts of their properties.
    """

    def __init__(self, sim: SimCluster, node: str | None = None) -> None:
        self.sim = sim
        self.node = node
        self.endpoint = f"sim:{sim.name}" + (f"/{node}" if node else "")
        self.time_scale = sim.speed
        self._ps = PowerShellHost(sim)
        self.closed = False

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self._check_open()
        result = self._ps.invoke(pipeline)
        return PSResult(
            outputs=tuple(tuple(_plain(o) for o in out) for out in result.outputs),
            errors=tuple(ErrorRecord(message=e.message, category=e.category, error_id=e.error_id,
                                     target=e.target, win32_code=e.win32_code)
                         for e in result.errors),
            warnings=tuple(result.warnings),
        )

    def run_cmd(self, line: CmdLine) -> CmdResult:
        """Run a cmd.exe line in the simulated host's shell. A host that is down, or an answer
        the simulator loses (an installer's, under InstallerAnswerLost / InstallerHangs), is a
        ConnectionFailed, as over the wire: the caller cannot tell whether the command ran."""
        self._check_open()
        self._check_listener()

        try:
            return run_command_line(self.sim, line.line, node=self.node)
        except SimHostDown as exc:
            raise ConnectionFailed(f"{self.endpoint}: {exc.detail}") from None
        except SimAnswerLost as exc:
            raise ConnectionFailed(f"{self.endpoint}: the connection was lost before the answer"
                                   f" arrived ({exc.detail})") from None

    def for_node(self, node: str) -> InProcessTransport:
        """A shell on one node itself (for upgrade actions that run there)."""
        return InProcessTransport(self.sim, node=node)

    def close(self) -> None:
        self.closed = True

    def _check_listener(self) -> None:
        """A shell on a node exists only where the node's release has a WinRM listener: Windows
        2000 has none (reference section 7), so a shell "on" one fails as it does over the wire
        (the endpoint closes the connection unanswered)."""
        if self.node is None:
            return
        node = self.sim.nodes.get(self.node)
        if node is not None and not node.release.winrm:
            raise ConnectionFailed(f"{self.endpoint}: cannot reach the WinRM listener: {self.node}"
                                   f" runs {node.release.label}, which has no WinRM")

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionFailed(f"{self.endpoint}: the transport is closed")

    def __repr__(self) -> str:
        return f"<InProcessTransport {self.endpoint}>"


def _plain(value: Any) -> Any:
    if isinstance(value, PSObject):
        return {k: _plain(v) for k, v in value.props.items()}
    if isinstance(value, PSEnumValue):
        return value.name
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
