"""The cluster-side upgrade lock: one private property on the cluster object naming the run that holds it.

The lock lives on the cluster (``Get-Cluster | Set-ClusterParameter -Name ClusterlibUpgradeLock
-Value <json> -Create``; ``cluster /priv`` for cluster.exe) so every operator, from any machine,
sees it. It records owner (user@host), pid, run id and start time; never a credential.

It never expires on its own: a node may legitimately be Down for an hour mid-upgrade, and a lock
that lapses then invites a second run onto a half-upgraded cluster (the kured "ghost lock"/TTL
trade-off and CAU's one-hour auto-expiry, reference peers.md section 8). A stale lock is removed
only by ``break_lock(cluster, reason=...)``, which is audited: a Python warning, an event, the
journal when given, and a second private property on the cluster (ClusterlibUpgradeLockAudit)
recording who broke which lock and why.

Private properties have no compare-and-set, so acquiring is write-then-read-back: two runs
starting in the same instant could both write; the read-back makes the loser see the winner's
run id and stop before changing anything. A narrow window remains and is documented [P].
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from attrs import frozen

from clusterlib.errors import ClusterError, NotSupported
from clusterlib.upgrade.errors import LockHeld
from clusterlib.upgrade.events import utc_now

if TYPE_CHECKING:
    from clusterlib.cluster import Cluster

log = logging.getLogger("clusterlib.upgrade")

LOCK_KEY = "ClusterlibUpgradeLock"
AUDIT_KEY = "ClusterlibUpgradeLockAudit"


def whoami() -> str:
    """user@host of this process (for lock owners and audit records)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers; the pid still identifies us
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


@frozen
class LockInfo:
    run_id: str
    owner: str
    pid: int
    started: str
    cluster: str = ""

    def to_json(self) -> str:
        return json.dumps({"run_id": self.run_id, "owner": self.owner, "pid": self.pid,
                           "started": self.started, "cluster": self.cluster}, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    @classmethod
    def parse(cls, raw: str) -> LockInfo:
        """Read a lock value; an unreadable one is still a lock (owner unknown), never "free"."""
        try:
            data = json.loads(raw)
            return cls(run_id=str(data["run_id"]), owner=str(data.get("owner", "?")),
                       pid=int(data.get("pid", 0)), started=str(data.get("started", "?")),
                       cluster=str(data.get("cluster", "")))
        except (ValueError, KeyError, TypeError):
            return cls(run_id="?", owner=f"unreadable lock value {raw[:80]!r}", pid=0, started="?")

    def describe(self) -> str:
        return f"run {self.run_id} by {self.owner} (pid {self.pid}) since {self.started}"


def read_lock(cluster: Cluster) -> LockInfo | None:
    """The lock on ``cluster``, or None when it is free."""
    if not cluster.capabilities.private_properties:
        raise NotSupported(f"{cluster.name}: this dialect cannot read cluster private properties,"
                           " so the upgrade lock cannot be held")
    raw = cluster.commands.get_private(LOCK_KEY)
    if raw is None or raw == "":
        return None
    return LockInfo.parse(raw)


def acquire(cluster: Cluster, run_id: str, cluster_name: str) -> LockInfo:
    """Take the lock for ``run_id`` (or take it back when that run already holds it, as a
    resume does). Raises LockHeld naming the holder otherwise."""
    current = read_lock(cluster)
    if current is not None and current.run_id != run_id:
        raise LockHeld(f"cluster {cluster_name} is locked by another upgrade: {current.describe()}."
                       f" Resume that run, or if it is dead, remove the lock with"
                       f" clusterlib.upgrade.break_lock(cluster, reason=...)")
    mine = LockInfo(run_id=run_id, owner=whoami(), pid=os.getpid(),
                    started=current.started if current is not None else utc_now(),
                    cluster=cluster_name)
    cluster.commands.set_private(LOCK_KEY, mine.to_json())
    back = read_lock(cluster)
    if back is None or back.run_id != run_id:
        raise LockHeld(f"cluster {cluster_name}: another run took the upgrade lock at the same"
                       f" moment ({back.describe() if back else 'now free'}); not starting")
    return back


def release(cluster: Cluster, run_id: str) -> bool:
    """Remove the lock if ``run_id`` holds it. Returns whether it was removed."""
    try:
        current = read_lock(cluster)
    except ClusterError as exc:
        log.warning("could not read the upgrade lock to release it: %s", exc)
        return False
    if current is None or current.run_id != run_id:
        return False
    cluster.commands.delete_private(LOCK_KEY)
    return True


def break_lock(cluster: Cluster, *, reason: str, journal: Any = None,
               on_event: Any = None) -> LockInfo | None:
    """Remove the upgrade lock whoever holds it, and record that you did.

    ``reason`` is mandatory and goes into the audit record on the cluster
    (ClusterlibUpgradeLockAudit), the Python log, the event stream (``on_event``) and, when
    ``journal`` (a path) is given, that run's journal. Returns the lock that was removed (None if
    there was none). Breaking a lock does not stop a run that is still alive: make sure it is
    dead first.
    """
    if not reason or not reason.strip():
        raise ValueError("break_lock needs a reason (it is recorded on the cluster)")
    current = read_lock(cluster)
    by = whoami()
    audit = {"broken_at": utc_now(), "by": by, "pid": os.getpid(), "reason": reason,
             "previous": current.to_dict() if current else None}
    cluster.commands.set_private(AUDIT_KEY, json.dumps(audit, sort_keys=True))
    if current is not None:
        cluster.commands.delete_private(LOCK_KEY)
    log.warning("upgrade lock on %s broken by %s: %s (was: %s)", cluster.name, by, reason,
                current.describe() if current else "no lock")
    from clusterlib.upgrade.events import LockBroken

    event = LockBroken(run_id=current.run_id if current else "", reason=reason, by=by,
                       previous=current.to_dict() if current else {},
                       message=f"upgrade lock broken by {by}: {reason}")
    if on_event is not None:
        on_event(event)
    if journal is not None:
        from clusterlib.upgrade.journal import Journal

        Journal.append_audit(journal, event.to_dict())
    return current
