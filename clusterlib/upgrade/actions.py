"""What "upgrade this node" means: pluggable actions run on a drained node (a command line on the
node, a PowerShell cmdlet on the node, a Python callable, or a person).

An action is any object with ``kind``, ``reboots``, ``describe(node)``, ``problem(cluster)``,
``run(node, cluster, ctx)`` and ``to_dict()``. ``run`` raises ``ActionFailed`` when the action
reports failure; the engine then retries or stops. A lost connection while the action runs raises
``ActionUnconfirmed``: the installer may or may not have started (an installer that restarts its
host drops its own session; so does a network fault after the request left). The engine never
sends it again: it waits, bounded by ``reboot_timeout``, for evidence (the node going down, its
version changing) and otherwise stops for an operator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from clusterlib.dialects import host_commands
from clusterlib.errors import ClusterError, ConnectionFailed, NotSupported, PreconditionFailed
from clusterlib.transports.base import NodeTransport, Transport

if TYPE_CHECKING:
    from clusterlib.cluster import Cluster
    from clusterlib.model import ClusterSnapshot

REDACTED = "<redacted>"


class ActionFailed(ClusterError):
    """The action ran and reported failure (exit code, error record, exception, operator said no)."""


class ActionUnconfirmed(ActionFailed):
    """The action was sent but its answer was lost: whether it started cannot be ruled out, so
    it must never be sent again blindly (a second installer on a node mid-upgrade)."""


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
                     what: str) -> None:
    """The connection failed while ``what`` was sent to ``node``: it may have started (an
    installer that restarts its host drops its own session) or not. Never re-sent: the engine
    waits for evidence, bounded by its reboot timeout (see RollingUpgrade). A transport that
    knows the request never left (``exc.unsent`` true: the connection failed before it was
    sent) makes it a plain failure: its start is ruled out."""
    if getattr(exc, "unsent", False) is True:
        raise ActionFailed(f"{what} on {node}: not sent, the connection failed first ({exc})") \
            from exc
    raise ActionUnconfirmed(f"{what} on {node}: the connection failed ({exc}) after the request"
                            " was sent; whether it started cannot be ruled out") from exc


def _reach_problem(what: str, cluster: Cluster, snapshot: ClusterSnapshot | None) -> str | None:
    """Why an action that runs on each node over WinRM cannot reach them, found before anything
    changes: the transport cannot open one (not a ``NodeTransport``: no ``for_node``), refuses
    to (``InsecureConnection``: Basic over plain HTTP to a node that is not loopback, though the
    management endpoint was),
    or a node's OS has no WinRM listener by default (Windows 2000: none; Windows Server 2003: only
    with WMF 2.0, KB 968930 [inferred], see clusterlib.versions). Such nodes are asked once,
    read-only (``ver``): one that answers is fine; otherwise WmiCommand is the way."""
    host = cluster.transport
    if not isinstance(host, NodeTransport):
        return (f"{what} needs a transport that can reach each node;"
                f" {getattr(host, 'endpoint', type(host).__name__)}: {_lacks(host)}")
    if snapshot is None:
        return None
    from clusterlib.versions import release_for_major, release_for_os

    refused: list[str] = []
    silent: list[str] = []
    for n in snapshot.nodes:
        try:
            transport = host.for_node(n.name)
        except PreconditionFailed as exc:  # InsecureConnection: never a password in cleartext
            refused.append(f"{n.name}: {exc}")
            continue
        rel = release_for_os(n.os_version) or (
            release_for_major(n.highest_version.major) if n.highest_version else None)
        if rel is None or rel.winrm:
            continue
        try:
            transport.run_cmd(host_commands.probe_line())
        except ClusterError as exc:
            silent.append(f"{n.name} ({rel.label}: {exc})")
        finally:
            if transport is not host:
                transport.close()
    problems = []
    if refused:
        problems.append(f"{what} cannot reach " + "; ".join(refused))
    if silent:
        problems.append(
            f"{what} runs over WinRM on each node, but no WinRM listener answered on "
            + ", ".join(silent) + ". Windows 2000 has none, and Windows Server 2003 only with"
            " WMF 2.0 (KB 968930); use WmiCommand(line), which starts it through WMI"
            " (clusterlib.upgrade.default_action picks it for nodes older than 2008)")
    return "; ".join(problems) or None


def _lacks(transport: object) -> str:
    """What keeps ``transport`` from being a NodeTransport, for the error message."""
    if not callable(getattr(transport, "for_node", None)):
        return "it has no for_node()"
    missing = [f"{m}()" for m in ("run_pipeline", "run_cmd", "close") if not hasattr(transport, m)]
    missing += [] if hasattr(transport, "endpoint") else ["endpoint"]
    return "it has for_node() but not " + ", ".join(missing) + " of the Transport protocol"


def _node_transport(cluster: Cluster, node: str) -> Transport:
    host = cluster.transport
    if not isinstance(host, NodeTransport):
        where = getattr(host, "endpoint", type(host).__name__)
        raise NotSupported(
            f"the transport {where} cannot run a command on node {node} ({_lacks(host)});"
            " use CallableAction or ManualAction with this transport")
    return host.for_node(node)


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

    def problem(self, cluster: Cluster, snapshot: ClusterSnapshot | None = None) -> str | None:
        """Why it cannot run (preflight; see _reach_problem), or None. With ``snapshot`` every
        node is checked; nothing changes on the cluster."""
        return _reach_problem("RemoteCommand", cluster, snapshot)

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        transport = _node_transport(cluster, node)
        try:
            result = transport.run_cmd(host_commands.host_line(self.line))
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
        self.cmdlet = host_commands.cmdlet_call(cmdlet, params)
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

    def problem(self, cluster: Cluster, snapshot: ClusterSnapshot | None = None) -> str | None:
        """Why it cannot run (preflight; see _reach_problem), or None."""
        return _reach_problem("PowerShellAction", cluster, snapshot)

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        from clusterlib.dialects.base import raise_for_errors

        transport = _node_transport(cluster, node)
        pipeline = host_commands.powershell_call(self.cmdlet)
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


class WmiCommand:
    """A command line started on the node through WMI from the management host:
    ``wmic /node:"NODE" process call create "LINE"`` run through the cluster's own transport
    (``cluster.transport.run_cmd``). For nodes without WinRM (Windows 2000; Windows Server 2003
    without WMF/KB968930), e.g. ``WmiCommand(r"D:\\i386\\winnt32.exe /unattend")``.

    Win32_Process.Create only starts the process: its ReturnValue (0 = started; 2 access denied,
    3 insufficient privilege, 8 unknown failure, 9 path not found, 21 invalid parameter) says
    nothing about how the installer ends ("Create method of the Win32_Process class",
    learn.microsoft.com/windows/win32/cimwin32prov/create-method-in-class-win32-process). So
    ReturnValue != 0 is ``ActionFailed``; after 0 the only evidence of success is the node going
    down and coming back on the target version, which the engine's reboot and verify phases
    check. The line is built and quoted by ``clusterlib.wire.cmdline.wmic_process_create`` (it
    refuses characters it cannot pass safely). ``secret=True`` keeps the line out of the plan,
    events and journal.
    """

    kind = "wmic"

    def __init__(self, line: str, *, secret: bool = False) -> None:
        if not line.strip():
            raise ValueError("WmiCommand needs a command line")
        self.line = line
        self.secret = secret
        self.reboots = True

    def __repr__(self) -> str:
        return f"WmiCommand({REDACTED if self.secret else self.line!r})"

    def describe(self, node: str) -> str:
        shown = REDACTED if self.secret else self.line
        return f'wmic /node:"{node}" process call create "{shown}" (from the management host)'

    def problem(self, cluster: Cluster) -> str | None:
        try:
            host_commands.wmic_create("NODE", self.line)
        except ClusterError as exc:
            return f"WmiCommand cannot send this command line: {exc}" if not self.secret else (
                "WmiCommand cannot send this (secret) command line: it holds a character wmic"
                " cannot pass")
        return None

    def run(self, node: str, cluster: Cluster, ctx: ActionContext) -> None:
        from clusterlib.errors import ParseError

        shown = REDACTED if self.secret else self.line
        line = host_commands.wmic_create(node, self.line)
        try:
            result = cluster.transport.run_cmd(line)
        except ConnectionFailed as exc:
            _lost_connection(cluster, node, exc, ctx, "wmic process call create")
            return
        text = result.stdout or ""
        try:
            code, pid = host_commands.read_wmic_create(text)
        except ParseError as exc:
            if result.exit_code != 0:
                # WMIC's own ERROR answer (node unreachable, access denied): nothing started.
                detail = (result.stderr or result.stdout).strip()
                raise ActionFailed(f"wmic could not start {shown} on {node} (exit"
                                   f" {result.exit_code}): {detail}") from exc
            raise ActionUnconfirmed(f"wmic's answer about {shown} on {node} is unreadable;"
                                    " whether it started cannot be ruled out") from exc
        if code != 0:
            raise ActionFailed(f"wmic could not start {shown} on {node}: Win32_Process.Create"
                               f" returned {code} ({host_commands.wmi_create_result(code)})")
        ctx.notify(f"started on {node} through WMI (process {pid}); its exit code cannot be read:"
                   " the node going down and returning on the target version is the proof")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": REDACTED if self.secret else self.line,
                "secret": self.secret, "reboots": True}


def _pre_2008(snapshot: ClusterSnapshot) -> list[str]:
    return [n.name for n in snapshot.nodes if n.os_version is not None
            and (n.os_version.major, n.os_version.minor) < (6, 0)]


def default_action(line: str, snapshot: ClusterSnapshot) -> UpgradeAction:
    """The action for an installer ``line``: ``WmiCommand`` when any node runs an OS older than
    Windows Server 2008 (6.0), whose nodes have no WinRM listener by default (WS-Management
    ships with Windows Server 2003 R2 and, for Windows Server 2003, with WMF / KB968930; Windows
    2000 has none), else ``RemoteCommand`` (run on the node over WinRM)."""
    return WmiCommand(line) if _pre_2008(snapshot) else RemoteCommand(line)


def as_hook(value: Any, what: str) -> UpgradeAction | None:
    """A verification or pre-update hook as an action that does not reboot: a command line
    (str: run on the node with cmd.exe, as ``RemoteCommand``), a ``RemoteCommand``,
    ``PowerShellAction`` or other action, or a callable ``fn(node, cluster)`` that raises to fail."""
    if value is None:
        return None
    if isinstance(value, str):
        return RemoteCommand(value, reboots=False)
    if isinstance(value, (RemoteCommand, PowerShellAction, CallableAction, WmiCommand)):
        return value
    if isinstance(value, UpgradeAction):
        return value
    if callable(value):
        return CallableAction(value, reboots=False)
    raise TypeError(f"{what} must be a command line, a RemoteCommand, a PowerShellAction or a"
                    f" callable fn(node, cluster); got {type(value).__name__}")


def action_from_dict(data: Mapping[str, Any]) -> UpgradeAction | None:
    """Rebuild an action from the journal when that is possible without secrets or code
    (a non-secret RemoteCommand, a PowerShellAction); None otherwise."""
    kind = data.get("kind")
    if kind == "remote-command" and not data.get("secret") and data.get("line") != REDACTED:
        return RemoteCommand(str(data["line"]), reboots=bool(data.get("reboots", True)),
                             ok_codes=tuple(int(c) for c in data.get("ok_codes", [0])))
    if kind == "wmic" and not data.get("secret") and data.get("line") != REDACTED:
        return WmiCommand(str(data["line"]))
    if kind == "powershell" and not data.get("secret"):
        return PowerShellAction(str(data["cmdlet"]), {str(k): v for k, v in data.get("params", [])},
                                reboots=bool(data.get("reboots", True)))
    return None
