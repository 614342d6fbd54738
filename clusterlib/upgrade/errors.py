"""The exceptions a rolling upgrade raises, on top of clusterlib's tree.

::

    ClusterError
    ├── PreconditionFailed
    │   ├── PreflightFailed       one or more named checks failed; nothing was changed
    │   ├── LockHeld              another run holds the cluster's upgrade lock
    │   └── JournalRejected       the journal is unreadable, corrupt, edited or from another cluster
    └── UpgradeStopped            the run stopped safely part-way; carries the report and journal path

``UpgradeStopped`` is what a CLI maps to exit code 4: the cluster is in a described, safe state and
``RollingUpgrade.resume`` continues from the journal once the cause is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from clusterlib.errors import ClusterError, PreconditionFailed

if TYPE_CHECKING:
    from clusterlib.upgrade.preflight import CheckResult
    from clusterlib.upgrade.report import Report


class PreflightFailed(PreconditionFailed):
    """Preflight refused the run. ``failed`` lists every failed check (not only the first)."""

    def __init__(self, failed: Sequence[CheckResult]) -> None:
        self.failed = tuple(failed)
        lines = "\n".join(f"  - {c.name}: {c.message}" for c in self.failed)
        super().__init__(f"preflight failed ({len(self.failed)} check"
                         f"{'s' if len(self.failed) != 1 else ''}); nothing was changed:\n{lines}")


class LockHeld(PreconditionFailed):
    """The cluster's upgrade lock is held by another run (owner, run id and start time in the
    message). Resume that run, or remove a stale lock with ``break_lock(cluster, reason=...)``."""


class JournalRejected(PreconditionFailed):
    """The journal cannot be trusted: clusterlib refuses to act on it rather than guess."""


class UpgradeStopped(ClusterError):
    """The run stopped part-way (a failure it would not work around). ``report`` describes where
    every node and group is; ``journal`` is the file ``RollingUpgrade.resume`` continues from."""

    def __init__(self, message: str, *, report: Report, journal: Path | None,
                 node: str | None = None, group: str | None = None,
                 phase: str | None = None) -> None:
        self.report = report
        self.journal = journal
        self.node = node
        self.group = group
        self.phase = phase
        tail = f" Journal: {journal}; resume with RollingUpgrade.resume(cluster, journal=...).run()." \
            if journal is not None else ""
        super().__init__(message + tail)


class LockLost(UpgradeStopped):
    """Fencing: this run no longer holds the cluster's upgrade lock (another holder took it over,
    e.g. a resume while this process was frozen, or the lock was broken). The run stopped
    without changing anything more and without writing its journal (the new holder owns it).
    ``holder`` is the lock now on the cluster (None: the lock was removed)."""

    def __init__(self, message: str, *, holder: object = None, report: Report | None = None,
                 journal: Path | None = None, node: str | None = None,
                 phase: str | None = None) -> None:
        self.holder = holder
        self.report = report  # type: ignore[assignment]
        self.journal = journal
        self.node = node
        self.group = None
        self.phase = phase
        ClusterError.__init__(self, message)


class JournalWriteFailed(ClusterError):
    """A journal write failed (disk full, permissions, the file replaced under the run...).
    ``path`` names the journal; ``errno`` is the OS error number when there is one. The run
    stops safely on it; resume once the cause is fixed."""

    def __init__(self, message: str, *, path: Path | None, errno: int | None = None) -> None:
        self.path = path
        self.errno = errno
        super().__init__(message)


class JournalTakenOver(JournalWriteFailed):
    """The journal file changed on disk since this run last wrote it: another process (a resume
    of the same run) writes it now, or someone replaced it. This run does not overwrite it."""
