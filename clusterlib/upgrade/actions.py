"""What "upgrade this node" means: pluggable actions run on a drained node (a command line on the
node, a PowerShell cmdlet on the node, a Python callable, or a person).

An action is any object with ``kind``, ``reboots``, ``describe(node)``, ``problem(cluster)``,
``run(node, cluster, ctx)`` and ``to_dict()``. ``run`` raises ``ActionFailed`` when the action
reports failure; the engine then retries or stops. A lost connection while the action runs is
not a failure if the node goes down soon after: an installer that reboots the node drops its own
session. A node that stays up was never reached, and that is a failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from clusterlib.errors import ClusterError, ConnectionFailed, NotSupported
from clusterlib.transports.base import Cmdlet, CmdLine, Pipeline

if TYPE_CHECKING:
    from clusterlib.cluster import Cluster

REDACTED = "<redacted>"


class ActionFailed(ClusterError):
    """The action ran and reported failure (exit code, error record, exception, operator said no)."""


class ActionContext(Protocol):
    """What the engine offers an action while it runs."""

    def notify(self, message: str) -> None: ...

    def waiting(self, prompt: str, timeout: float) -> None: ...


@runtime_checkable
class UpgradeAction(Protocol):
    kind: str
    #: The node restarts as part of the action (the engine waits for Down, then back).
    reboots: bool

    def describe(self, node: str) -> str: ...

    def problem(self, cluster: Cluster) -> str | None:
        """Why this action cannot run on ``cluster`` (for preflight), or None."""
        ...

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None: ...

    def to_dict(self) -> dict[str, Any]: ...


def _lost_connection(cluster: Cluster, node: str, exc: ConnectionFailed, ctx: ActionContext,
                     what: str, wait: float = 120.0) -> None:
    """The connection to ``node`` failed while ``what`` ran. An installer that restarts its host
    drops its own session, so that is success if the node goes down soon; a node that stays up
    was never reached (or the command died): ActionFailed."""
    from clusterlib.model import NodeState
    from clusterlib.retry import WaitPolicy, wait_for

    try:
        wait_for(lambda: cluster.commands.read_node(node),
                 lambda n: n.state in (NodeState.Down, NodeState.Joining),
                 WaitPolicy(timeout=wait, interval=5.0), what=f"{node} to restart",
                 scale=cluster.time_scale)
    except ClusterError as err:
        raise ActionFailed(f"{what} on {node}: connection failed ({exc}) and the node did not"
                           f" restart within {wait:g}s ({err})") from exc
    ctx.notify(f"connection to {node} lost while {what} ran ({exc}); it is restarting")


def _node_transport(cluster: Cluster, node: str) -> Any:
    for_node = getattr(cluster.transport, "for_node", None)
    if for_node is None:
        raise NotSupported(
            f"the transport {cluster.transport.endpoint} cannot run a command on node {node}"
            " (it has no for_node()); use CallableAction or ManualAction with this transport")
    return for_node(node)


class RemoteCommand:
    """A cmd.exe command line run on the node itself, e.g. ``RemoteCommand(r"D:\\setup.exe
    /unattend")``. Exit codes in ``ok_codes`` are success. ``secret=True`` keeps the line out of
    the plan, events and journal (a product key on the command line, say); a resume then needs
    the action passed again."""

    kind = "remote-command"

    def __init__(self, line: str, *, reboots: bool = True, ok_codes: tuple[int, ...] = (0,),
                 secret: bool = False) -> None:
        if not line.strip():
            raise ValueError("RemoteCommand needs a command line")
        self.line = line
        self.reboots = reboots
        self.ok_codes = tuple(ok_codes)
        self.secret = secret

    def __repr__(self) -> str:
        return f"RemoteCommand({REDACTED if self.secret else self.line!r})"

    def describe(self, node: str) -> str:
        return f"on {node}: {REDACTED if self.secret else self.line}"

    def problem(self, cluster: Cluster) -> str | None:
        if getattr(cluster.transport, "for_node", None) is None:
            return (f"RemoteCommand needs a transport that can reach each node; "
                    f"{cluster.transport.endpoint} has no for_node()")
        return None

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        transport = _node_transport(cluster, node)
        try:
            result = transport.run_cmd(CmdLine(self.line))
        except ConnectionFailed as exc:
            _lost_connection(cluster, node, exc, ctx, "the command")
            return
        if result.exit_code not in self.ok_codes:
            shown = REDACTED if self.secret else self.line
            detail = (result.stderr or result.stdout).strip()
            raise ActionFailed(f"{shown} on {node} exited with {result.exit_code}"
                               + (f": {detail}" if detail else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": REDACTED if self.secret else self.line,
                "secret": self.secret, "reboots": self.reboots, "ok_codes": list(self.ok_codes)}


class PowerShellAction:
    """One cmdlet with named parameters, run on the node itself, e.g.
    ``PowerShellAction("Install-WindowsFeature", {"Name": "Failover-Clustering"})``.

    Values travel as typed cmdlet parameters through the transport, never pasted into script
    text, so a name with quotes or ``;`` in it cannot change what runs.
    """

    kind = "powershell"

    def __init__(self, cmdlet: str, params: Mapping[str, Any] | None = None, *,
                 reboots: bool = True, secret: bool = False) -> None:
        self.cmdlet = Cmdlet(cmdlet, dict(params or {}))
        self.reboots = reboots
        self.secret = secret  # parameter values stay out of plans, events and the journal

    def _shown(self) -> str:
        if not self.secret:
            return self.cmdlet.describe()
        return " ".join([self.cmdlet.name, *(f"-{k} {REDACTED}" for k, _v in self.cmdlet.params)])

    def __repr__(self) -> str:
        return f"PowerShellAction({self._shown()!r})"

    def describe(self, node: str) -> str:
        return f"on {node}: {self._shown()}"

    def problem(self, cluster: Cluster) -> str | None:
        if getattr(cluster.transport, "for_node", None) is None:
            return (f"PowerShellAction needs a transport that can reach each node; "
                    f"{cluster.transport.endpoint} has no for_node()")
        return None

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        from clusterlib.dialects.base import raise_for_errors

        transport = _node_transport(cluster, node)
        pipeline = Pipeline.of(self.cmdlet)
        try:
            result = transport.run_pipeline(pipeline)
        except ConnectionFailed as exc:
            _lost_connection(cluster, node, exc, ctx, self.cmdlet.name)
            return
        try:
            raise_for_errors(result.errors, pipeline.describe())
        except ClusterError as exc:
            raise ActionFailed(f"{self.cmdlet.name} on {node} failed: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cmdlet": self.cmdlet.name, "secret": self.secret,
                "params": [[k, REDACTED if self.secret else v] for k, v in self.cmdlet.params],
                "reboots": self.reboots}


class CallableAction:
    """``fn(node_name, cluster)`` does the upgrade (any exception = failure)."""

    kind = "callable"

    def __init__(self, fn: Callable[[str, Cluster], object], *, reboots: bool = True,
                 name: str | None = None) -> None:
        self.fn = fn
        self.reboots = reboots
        self.name = name or getattr(fn, "__qualname__", None) or repr(fn)

    def __repr__(self) -> str:
        return f"CallableAction({self.name})"

    def describe(self, node: str) -> str:
        return f"call {self.name}({node!r}, cluster)"

    def problem(self, cluster: Cluster) -> str | None:
        return None

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        try:
            self.fn(node, cluster)
        except ActionFailed:
            raise
        except Exception as exc:
            raise ActionFailed(f"{self.name} failed on {node}: {type(exc).__name__}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "reboots": self.reboots}


class ManualAction:
    """A person upgrades the node. The run pauses with the node drained and waits, bounded by
    ``options.action_timeout`` (wall seconds: people do not speed up with a simulator), for:

    - ``ask(node, prompt) -> bool`` when given (the CLI asks on the terminal), or
    - ``upgrade.confirm(node)`` / ``upgrade.confirm(node, ok=False)`` from another thread (a
      notebook: run the upgrade in a thread and confirm from a cell or a button).

    By default the person confirms once the node is back (``reboots=False``): the engine then
    waits for it to be Up or Paused and checks its versions. With ``reboots=True`` it also waits
    for the node to go Down and return after the confirmation.
    """

    kind = "manual"

    def __init__(self, prompt: str = "Upgrade {node}, then confirm.", *,
                 ask: Callable[[str, str], bool] | None = None, reboots: bool = False) -> None:
        self.prompt = prompt
        self.ask = ask
        self.reboots = reboots
        self.timeout = 86400.0
        self._cond = threading.Condition()
        self._answers: dict[str, tuple[bool, str]] = {}

    def __repr__(self) -> str:
        return f"ManualAction({self.prompt!r})"

    def text(self, node: str) -> str:
        return self.prompt.replace("{node}", node)

    def describe(self, node: str) -> str:
        return f"operator: {self.text(node)}"

    def problem(self, cluster: Cluster) -> str | None:
        return None

    def confirm(self, node: str, ok: bool = True, reason: str = "") -> None:
        """Answer the wait for ``node`` (from any thread)."""
        with self._cond:
            self._answers[node.lower()] = (ok, reason)
            self._cond.notify_all()

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        prompt = self.text(node)
        ctx.waiting(prompt, self.timeout)
        if self.ask is not None:
            if not self.ask(node, prompt):
                raise ActionFailed(f"the operator declined the upgrade of {node}")
            return
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while node.lower() not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ActionFailed(f"no confirmation for {node} within {self.timeout:g} s"
                                       f" (call upgrade.confirm({node!r}) when it is done)")
                self._cond.wait(min(left, 1.0))
            ok, reason = self._answers.pop(node.lower())
        if not ok:
            raise ActionFailed(f"the operator reported the upgrade of {node} failed"
                               + (f": {reason}" if reason else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "prompt": self.prompt, "reboots": self.reboots}


def action_from_dict(data: Mapping[str, Any]) -> UpgradeAction | None:
    """Rebuild an action from the journal when that is possible without secrets or code
    (a non-secret RemoteCommand, a PowerShellAction); None otherwise."""
    kind = data.get("kind")
    if kind == "remote-command" and not data.get("secret") and data.get("line") != REDACTED:
        return RemoteCommand(str(data["line"]), reboots=bool(data.get("reboots", True)),
                             ok_codes=tuple(int(c) for c in data.get("ok_codes", [0])))
    if kind == "powershell" and not data.get("secret"):
        return PowerShellAction(str(data["cmdlet"]), {str(k): v for k, v in data.get("params", [])},
                                reboots=bool(data.get("reboots", True)))
    return None
