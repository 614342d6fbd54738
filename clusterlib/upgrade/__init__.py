"""Rolling upgrades of a failover cluster: plan, preflight, run node by node, journal, resume, report.

::

    from clusterlib.upgrade import RollingUpgrade, RemoteCommand

    upgrade = RollingUpgrade(cluster, action=RemoteCommand(r"D:\\setup.exe /unattend"),
                             journal="upgrade.json", target="9.3", raise_functional_level=True)
    print(upgrade.plan().to_text())      # a dry run is just the plan
    report = upgrade.run()               # UpgradeStopped (with .report) if it stops safely
    RollingUpgrade.resume(cluster, journal="upgrade.json")

See docs/rolling-upgrade.md.
"""

from clusterlib.upgrade import events
from clusterlib.upgrade.actions import (
    ActionFailed,
    CallableAction,
    ManualAction,
    PowerShellAction,
    RemoteCommand,
    UpgradeAction,
)
from clusterlib.upgrade.engine import RollingUpgrade, break_lock
from clusterlib.upgrade.errors import JournalRejected, LockHeld, PreflightFailed, UpgradeStopped
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

__all__ = [
    "ActionFailed",
    "CallableAction",
    "CheckFinished",
    "CheckResult",
    "Estimates",
    "GroupMoved",
    "Journal",
    "JournalRejected",
    "LockBroken",
    "LockHeld",
    "LockInfo",
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
    "break_lock",
    "events",
    "read_lock",
]
