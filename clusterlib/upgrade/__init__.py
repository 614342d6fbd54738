"""Rolling upgrades of a failover cluster: plan, preflight, run node by node, journal, resume, report.

::

    from clusterlib.upgrade import RollingUpgrade, RemoteCommand

    upgrade = RollingUpgrade(cluster, action=RemoteCommand(r"D:\\setup.exe /unattend"),
                             journal="upgrade.json", target="9.3", raise_functional_level=True)
    print(upgrade.plan().to_text())      # a dry run is just the plan
    report = upgrade.run()               # UpgradeStopped (with .report) if it stops safely
    RollingUpgrade.resume(cluster, journal="upgrade.json").run()   # after a stop: same shape

A run says "completed" only when every node is proven on the target version, every group is
back on its original owner in its original state, and no group was down longer than its moves
needed ("degraded" otherwise; see Report.availability).

See docs/rolling-upgrade.md.
"""

from clusterlib.upgrade import events
from clusterlib.upgrade.actions import (
    ActionFailed,
    ActionUnconfirmed,
    CallableAction,
    ManualAction,
    PowerShellAction,
    RemoteCommand,
    UpgradeAction,
    WmiCommand,
    default_action,
)
from clusterlib.upgrade.engine import RollingUpgrade, break_lock
from clusterlib.upgrade.errors import (
    JournalRejected,
    JournalTakenOver,
    JournalWriteFailed,
    LockHeld,
    LockLost,
    PreflightFailed,
    UpgradeStopped,
)
from clusterlib.upgrade.events import (
    CheckFinished,
    GroupMoved,
    LockBroken,
    PhaseFinished,
    PhaseStarted,
    Retry,
    RunFinished,
    RunStarted,
    UpgradeEvent,
    UpgradeWarning,
    WaitingForOperator,
)
from clusterlib.upgrade.journal import Journal
from clusterlib.upgrade.lock import LockInfo, read_lock
from clusterlib.upgrade.options import Estimates, TargetVersion, UpgradeOptions
from clusterlib.upgrade.plan import Plan, Step
from clusterlib.upgrade.preflight import CheckResult
from clusterlib.upgrade.report import Report
from clusterlib.upgrade.report_html import report_document

__all__ = [
    "ActionFailed",
    "ActionUnconfirmed",
    "CallableAction",
    "CheckFinished",
    "CheckResult",
    "Estimates",
    "GroupMoved",
    "Journal",
    "JournalRejected",
    "JournalTakenOver",
    "JournalWriteFailed",
    "LockBroken",
    "LockHeld",
    "LockInfo",
    "LockLost",
    "ManualAction",
    "PhaseFinished",
    "PhaseStarted",
    "Plan",
    "PowerShellAction",
    "PreflightFailed",
    "RemoteCommand",
    "Report",
    "Retry",
    "RollingUpgrade",
    "RunFinished",
    "RunStarted",
    "Step",
    "TargetVersion",
    "UpgradeAction",
    "UpgradeEvent",
    "UpgradeOptions",
    "UpgradeStopped",
    "UpgradeWarning",
    "WaitingForOperator",
    "WmiCommand",
    "break_lock",
    "default_action",
    "events",
    "read_lock",
    "report_document",
]
