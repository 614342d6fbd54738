"""What every dialect offers: the operations, the capabilities of the connected cluster, and error mapping."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

from clusterlib import win32
from clusterlib.errors import ClusterRefused, NotSimulated, NotSupported, refused_from
from clusterlib.model import ClusterSnapshot, GroupInfo, NodeInfo
from clusterlib.transports.base import Transport
from clusterlib.wire import CmdLine, ErrorRecord, Pipeline

Command = Pipeline | CmdLine


@frozen
class Capabilities:
    """What the connected cluster can do, decided once at connect time.

    Every "does this cluster have X" question is answered here and nowhere else, so the 2008 R2
    case (Suspend-ClusterNode without -Drain: clusterlib moves the groups itself) and the legacy
    cluster.exe case are one branch each in the handle layer.
    """

    dialect: str  # "powershell" | "clusterexe"
    drain: bool  # the cluster drains a paused node itself (Suspend-ClusterNode -Drain)
    failback: bool  # Resume-ClusterNode -Failback exists
    functional_level: bool  # Update-ClusterFunctionalLevel exists (Windows Server 2016+)
    private_properties: bool = True  # cluster private properties can be read and written
    #: The Suspend-ClusterNode switch of a forced drain (failed workloads stopped and moved as
    #: failed roles, then the node paused): "ForceDrain" (2012 R2+), "ForceEvacuation" (2012,
    #: docs v=wps.620), None where there is none (2008 R2 has no drain, cluster.exe).
    force_drain: str | None = None

    @property
    def label(self) -> str:
        if self.dialect == "powershell":
            return "powershell" if self.drain else "powershell-nodrain"
        return self.dialect


class Dialect(Protocol):
    """How to say each operation to one cluster, and how to read the answers."""

    capabilities: Capabilities
    transport: Transport
    cluster_name: str | None

    def snapshot(self, *, owners: bool = False) -> ClusterSnapshot: ...

    def read_group(self, name: str, *, owners: bool = False) -> GroupInfo: ...

    def read_node(self, name: str) -> NodeInfo: ...

    def read_move(self, group: str, target: str | None) -> tuple[GroupInfo, NodeInfo | None]:
        """What a move needs, in one read: the group with its owners, and the target node."""
        ...

    @property
    def name(self) -> str:
        """The label: "powershell", "powershell-nodrain" or "clusterexe" (``str()`` too)."""
        ...

    def pause_command(self, node: str, *, drain: bool, force: bool = False) -> Command: ...

    def resume_command(self, node: str, *, failback: str | None) -> Command: ...

    def move_command(self, group: str, to: str | None, *, wait: int | None) -> Command: ...

    def functional_level_command(self, *, what_if: bool) -> Command: ...

    def execute(self, command: Command) -> None: ...

    def get_private(self, key: str) -> str | None: ...

    def set_private(self, key: str, value: str) -> None: ...

    def delete_private(self, key: str) -> None: ...

    def list_private(self) -> dict[str, str]: ...

    def snapshot_and_private(self) -> tuple[ClusterSnapshot, dict[str, str]]:
        """``snapshot()`` and ``list_private()`` in one read (the upgrade's step boundary)."""
        ...


def record_code(record: ErrorRecord) -> int | None:
    """The Win32 code an error record reports, whatever the cluster's UI language: the code it
    carried (NativeErrorCode / HResult 0x8007xxxx), else its FullyQualifiedErrorId and category,
    else a code or a known message in its text (:func:`clusterlib.win32.code_of`)."""
    return win32.code_of(record.win32_code, record.error_id, record.category, record.message)


def raise_for_errors(errors: Sequence[ErrorRecord], command: str) -> None:
    """Turn a pipeline's error records into the exception tree (first record wins, the rest are
    appended to the message so nothing is hidden)."""
    if not errors:
        return
    first = errors[0]
    ident = first.error_id.split(",")[0]
    text = first.message
    if len(errors) > 1:
        text += " (and: " + "; ".join(e.message for e in errors[1:4]) + ")"
    if ident == "NotSimulated":
        raise NotSimulated(f"{text} [command: {command}]")
    if ident in ("CommandNotFoundException", "NamedParameterNotFound"):
        raise NotSupported(
            f"{text} This cluster does not offer that cmdlet or parameter; clusters without the"
            " FailoverClusters PowerShell module are driven with dialect='clusterexe'.",
            command=command, category=first.category, error_id=first.error_id)
    raise refused_from(text, win32_code=record_code(first), command=command,
                       category=first.category, error_id=first.error_id)


class NamedDialect:
    """What every concrete dialect shares: it is named by its capabilities' label (``name``,
    ``str()``). Comparing it with a string still works, with a DeprecationWarning, for scripts
    written when ``Cluster.dialect`` was that label (``cluster.dialect == "powershell"``)."""

    capabilities: Capabilities

    @property
    def name(self) -> str:
        return self.capabilities.label

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            warnings.warn("comparing Cluster.dialect with a string is deprecated: compare"
                          " Cluster.dialect_name (or Cluster.dialect.name)", DeprecationWarning,
                          stacklevel=2)
            return self.name == other
        return self is other

    def __hash__(self) -> int:
        # Equal to its label (above), so hashed as the label.
        return hash(self.name)


__all__ = ["Capabilities", "ClusterRefused", "Command", "Dialect", "NamedDialect", "raise_for_errors",
           "record_code"]
