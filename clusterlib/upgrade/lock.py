"""The cluster-side upgrade lock: claim-then-list on cluster private properties, a token per holder, fencing.

The lock lives on the cluster object as private properties (``Get-Cluster |
Set-ClusterParameter -Name N -Value V -Create``; ``cluster /priv N="V"`` for cluster.exe), so every
operator, from any machine, sees it. It records owner (user@host), pid, run id, start time and
the holder's token; never a credential.

Taking it (``acquire``), with no timing assumption:

1. write a claim under a name only this attempt uses (``ClusterlibUpgradeClaim_<token>``);
2. list the cluster's private property *names* (``Get-ClusterParameter`` without ``-Name``;
   ``cluster /priv``), never asking for one name and matching an error's wording, which is
   localized;
3. if the listing shows the lock held by another run, or any other claim, withdraw the claim and
   refuse (another claim: back off a random while and try again, a bounded number of times);
4. otherwise write the lock (``ClusterlibUpgradeLock``) with this holder's token and withdraw the
   claim.

Why at most one contender gets past step 3: each writes its claim *before* it lists. If P saw no
other claim, P's listing came before Q's claim was written, so Q's listing (after Q's claim) comes
after P's claim was written and shows it: Q backs off. This holds on any store where a write that
has returned is seen by every read issued afterwards; the cluster database is one (see
docs/rolling-upgrade.md, "The lock", for the sources, and for DatabaseReadWriteMode 2, where a
local read may miss a committed write [P]). Contention can make every contender back off; the
random back-off makes one win. A claim this process could not withdraw (a lost answer) is
ignored and removed by its next start; a claim of a process gone from this host is ignored.

Every holder has its own token, also when it resumes a journal whose run id the lock already
names (two resumes of one journal are two holders: the later one takes the lock over, and the
earlier one is fenced out). ``check`` (fencing) is one listing read, made at every step start
and before moves: a run whose token no longer stands (frozen and woken after another holder took
over, or its lock broken) raises ``LockLost`` naming the current holder and changes nothing more.
Limit: a process frozen between a check and the command it guards sends that one command when it
wakes (private properties have no compare-and-set the cluster could check it against).

The lock never expires on its own: a node may legitimately be Down for an hour mid-upgrade, and a
lock that lapses then invites a second run onto a half-upgraded cluster (the kured "ghost
lock"/TTL trade-off and CAU's one-hour auto-expiry, reference peers.md section 8). A stale lock
(or a claim left by a start killed in the middle of step 1-4) is removed only by
``break_lock(cluster, reason=...)``, which is audited: a Python warning, an event, the journal
when given, and a private property on the cluster (ClusterlibUpgradeLockAudit) recording who
broke which lock and why.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from attrs import frozen

from clusterlib.errors import ClusterError, NotSupported
from clusterlib.upgrade.errors import LockHeld
from clusterlib.upgrade.events import utc_now

if TYPE_CHECKING:
    from clusterlib.cluster import Cluster

log = logging.getLogger("clusterlib.upgrade")

LOCK_KEY = "ClusterlibUpgradeLock"
AUDIT_KEY = "ClusterlibUpgradeLockAudit"
CLAIM_PREFIX = "ClusterlibUpgradeClaim_"

# Contention handling (wall seconds: contention is between clients, whatever the cluster's clock).
# A contender that saw another claim withdraws and tries again after a random wait of up to
# BACKOFF * 2**attempt (capped at BACKOFF_MAX), at most ATTEMPTS times.
ATTEMPTS = 8
BACKOFF = 0.02
BACKOFF_MAX = 1.0
# A move re-checks the lock unless the last check was less than this many (wall) seconds ago;
# every step start checks regardless. A frozen process's clock keeps running, so it re-checks.
FENCE_INTERVAL = 0.5


def whoami() -> str:
    """user@host of this process (for lock owners and audit records)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers; the pid still identifies us
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def new_token() -> str:
    """A holder token: unique per acquire, usable in a private property name."""
    return secrets.token_hex(8)


@frozen
class LockInfo:
    """A lock (or claim) value. ``token`` names the holder: unique per acquire, not per run."""

    run_id: str
    owner: str
    pid: int
    started: str
    cluster: str = ""
    token: str = ""
    proc_start: str = ""  # the holder process's start (see _proc_start): tells a reused pid

    def to_json(self) -> str:
        return json.dumps({"run_id": self.run_id, "owner": self.owner, "pid": self.pid,
                           "started": self.started, "cluster": self.cluster,
                           "token": self.token, "proc_start": self.proc_start}, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    @classmethod
    def parse(cls, raw: str) -> LockInfo:
        """Read a lock value; an unreadable one is still a lock (owner unknown), never "free"."""
        try:
            data = json.loads(raw)
            return cls(run_id=str(data["run_id"]), owner=str(data.get("owner", "?")),
                       pid=int(data.get("pid", 0)), started=str(data.get("started", "?")),
                       cluster=str(data.get("cluster", "")), token=str(data.get("token", "")),
                       proc_start=str(data.get("proc_start", "")))
        except (ValueError, KeyError, TypeError):
            return cls(run_id="?", owner=f"unreadable lock value {raw[:80]!r}", pid=0, started="?")

    def describe(self) -> str:
        holder = f", holder {self.token}" if self.token else ""
        return f"run {self.run_id} by {self.owner} (pid {self.pid}{holder}) since {self.started}"


@frozen
class LockState:
    """One listing of the cluster's private properties, as far as the lock is concerned."""

    lock: LockInfo | None
    claims: Mapping[str, LockInfo]  # token -> claim


def _list(cluster: Cluster) -> dict[str, str]:
    if not cluster.capabilities.private_properties:
        raise NotSupported(f"{cluster.name}: this dialect cannot read cluster private properties,"
                           " so the upgrade lock cannot be held")
    return cluster.dialect.list_private()


def read_state(cluster: Cluster) -> LockState:
    """The lock and every pending claim, from one listing of the private property names."""
    return state_of(_list(cluster))


def state_of(props: Mapping[str, str]) -> LockState:
    """The lock and every pending claim in a listing of the private properties (``_list``, or
    the one a step boundary reads with its snapshot: ``Dialect.snapshot_and_private``)."""
    raw = props.get(LOCK_KEY)
    claims = {k[len(CLAIM_PREFIX):]: LockInfo.parse(v) for k, v in props.items()
              if k.startswith(CLAIM_PREFIX)}
    return LockState(lock=LockInfo.parse(raw) if raw else None, claims=claims)


def read_lock(cluster: Cluster) -> LockInfo | None:
    """The lock on ``cluster``, or None when it is free (one listing; see the module doc)."""
    return read_state(cluster).lock


def acquire(cluster: Cluster, run_id: str, cluster_name: str) -> LockInfo:
    """Take the lock for ``run_id`` with a fresh holder token (see the module docstring).

    A lock already naming ``run_id`` (a resume of that run's journal) is taken over only when
    its holder is not running: on this host, its process is gone (or is this process, and that
    run has stopped); from another host clusterlib cannot look, takes it over, and the previous
    holder, if it is still alive, is fenced out at its next check. Raises LockHeld naming the
    holder (or the contending claims) otherwise; a refused attempt changes nothing but its own
    claim, which it withdraws.
    """
    token = new_token()
    claimed_by: list[LockInfo] = []
    mine = LockInfo(run_id=run_id, owner=whoami(), pid=os.getpid(), started=utc_now(),
                    cluster=cluster_name, token=token, proc_start=_proc_start(os.getpid()))
    claim_key = CLAIM_PREFIX + token
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, min(BACKOFF * 2 ** attempt, BACKOFF_MAX)))
        try:
            # Inside the try: a claim whose write failed half-way is withdrawn all the same.
            cluster.dialect.set_private(claim_key, mine.to_json())
            state = read_state(cluster)
            held = state.lock
            if held is not None and held.run_id != run_id:
                raise LockHeld(_held_text(cluster_name, held))
            _sweep(cluster, state.claims)
            claimed_by = _contending(state.claims, token)
            if claimed_by:
                continue  # someone else is starting at this very moment: back off, then retry
            if held is not None:
                running = _running(held)
                if running:
                    raise LockHeld(f"cluster {cluster_name}: run {run_id} is still running"
                                   f" ({held.describe()}; {running}); not resuming it twice."
                                   " Stop that process first (if it is frozen, end it), or if"
                                   " it is not clusterlib, remove the lock with"
                                   " clusterlib.upgrade.break_lock(cluster, reason=...)")
                # The new holder keeps the run's start time; the previous token is fenced out.
                mine = attrs.evolve(mine, started=held.started)
                log.info("taking over the upgrade lock of %s (previous holder %s)",
                         held.describe(), held.token or "without a token")
            with _ACTIVE_GUARD:
                _ACTIVE.add(token)
            try:
                cluster.dialect.set_private(LOCK_KEY, mine.to_json())
            except BaseException:
                dormant(mine)
                raise
            return mine
        finally:
            _withdraw(cluster, token)
    who = "; ".join(c.describe() for c in claimed_by) or "unknown"
    raise LockHeld(f"cluster {cluster_name}: other upgrades tried to take the lock at the same"
                   f" moment ({who}) and none could be told apart in {ATTEMPTS} tries; not"
                   " starting. Try again; if a claim stays, its start was killed half-way: remove"
                   " it with clusterlib.upgrade.break_lock(cluster, reason=...)")


# Tokens of the holders in this process whose run is under way (acquired, neither released nor
# stopped): a resume in this process of a run that stopped may take its lock over; one of a run
# still going may not.
_ACTIVE: set[str] = set()
_ACTIVE_GUARD = threading.Lock()


def dormant(held: LockInfo) -> None:
    """Tell the lock that ``held``'s run is no longer under way in this process (it stopped and
    keeps the lock for its resume)."""
    with _ACTIVE_GUARD:
        _ACTIVE.discard(held.token)


def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux ``/proc/PID/stat`` field 22),
    so a pid reused by another process is not taken for the holder; "" where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return fields[19] if len(fields) > 19 else ""
    except OSError:
        return ""


def _running(held: LockInfo) -> str:
    """Why the lock holder's process is known to be running ("" when it is gone or cannot be
    seen). In this process: running while its run is under way."""
    with _ACTIVE_GUARD:
        active = set(_ACTIVE)
    return _alive(held, active) or ""


def _alive(info: LockInfo, active: set[str] | None) -> str | None:
    """Whether the process that wrote ``info`` is alive: a reason when it is, None when it is
    known gone, "" when clusterlib cannot tell (another host). ``active``: the tokens of this
    process that count as alive (None: all of them)."""
    host = info.owner.rpartition("@")[2]
    if host != socket.gethostname() or info.pid <= 0:
        return ""  # another host: clusterlib cannot look; fencing covers a live holder there
    if info.pid == os.getpid():
        return "in this process" if active is None or info.token in active else None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return ""
    try:
        with open(f"/proc/{info.pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rpartition(")")[2].split()
        if state and state[0] in ("Z", "X"):
            return None  # killed, not yet reaped by its parent
        if info.proc_start and len(state) > 19 and state[19] != info.proc_start:
            return None  # the pid now belongs to another process
        if state and state[0] == "T":
            return f"pid {info.pid} on this host is alive but stopped (SIGSTOP?)"
    except OSError:
        pass
    return f"pid {info.pid} on this host is alive"


# Tokens of this process's claims whose withdrawal failed (a lost answer, a dropped connection):
# their attempts are over, so they contend with nobody; the next acquire removes them.
_ABANDONED: set[str] = set()


def _withdraw(cluster: Cluster, token: str) -> None:
    """Remove this attempt's claim. A delete whose answer was lost is checked by listing and
    tried again (removing your own claim twice is harmless); one that still fails is
    remembered, ignored by later attempts of this process, and removed by them."""
    key = CLAIM_PREFIX + token
    error: Exception | None = None
    for _ in range(3):
        try:
            cluster.dialect.delete_private(key)
            with _ACTIVE_GUARD:
                _ABANDONED.discard(token)
            return
        except ClusterError as exc:
            error = exc
        try:
            if key not in _list(cluster):
                with _ACTIVE_GUARD:
                    _ABANDONED.discard(token)
                return
        except ClusterError:
            pass
    with _ACTIVE_GUARD:
        _ABANDONED.add(token)
    log.warning("could not withdraw lock claim %s (the next start from this process removes"
                " it): %s", key, error)


def _sweep(cluster: Cluster, claims: Mapping[str, LockInfo]) -> None:
    """Remove claims this process abandoned earlier (best effort)."""
    with _ACTIVE_GUARD:
        mine = [t for t in claims if t in _ABANDONED]
    for token in mine:
        _withdraw(cluster, token)


def _contending(claims: Mapping[str, LockInfo], token: str) -> list[LockInfo]:
    """The claims that may belong to a live contender: not ours, not abandoned by this process,
    not written by a process known to be gone."""
    with _ACTIVE_GUARD:
        abandoned = set(_ABANDONED)
    return [c for t, c in claims.items()
            if t != token and t not in abandoned and _alive(c, None) is not None]


def _held_text(cluster_name: str, held: LockInfo) -> str:
    return (f"cluster {cluster_name} is locked by another upgrade: {held.describe()}. Resume"
            " that run, or if it is dead, remove the lock with"
            " clusterlib.upgrade.break_lock(cluster, reason=...)")


def check(cluster: Cluster, held: LockInfo, listing: Mapping[str, str] | None = None) -> None:
    """Fencing: raise LockLost unless ``held`` (this holder's token) still holds the lock. One
    listing read; ``listing``: one read a moment ago with the step boundary's snapshot (see
    RunContext.boundary_snap), used instead of reading again."""
    from clusterlib.upgrade.errors import LockLost

    now = (read_state(cluster) if listing is None else state_of(listing)).lock
    if now is not None and now.token == held.token and now.run_id == held.run_id:
        return
    who = now.describe() if now is not None else "nobody (the lock was removed)"
    raise LockLost(f"this run ({held.run_id}, holder {held.token}) no longer holds the upgrade"
                   f" lock of {held.cluster or cluster.name}: it is now held by {who}. Stopping"
                   " without changing anything more", holder=now)


def release(cluster: Cluster, held: LockInfo | str) -> bool:
    """Remove the lock if ``held`` (a LockInfo from ``acquire``; or a run id, for callers that
    kept none) still holds it. Returns whether it was removed."""
    try:
        current = read_lock(cluster)
    except ClusterError as exc:
        log.warning("could not read the upgrade lock to release it: %s", exc)
        return False
    if isinstance(held, LockInfo):
        dormant(held)
    if current is None:
        return False
    if isinstance(held, LockInfo):
        if current.token != held.token:
            return False
    elif current.run_id != held:
        return False
    cluster.dialect.delete_private(LOCK_KEY)
    return True


def break_lock(cluster: Cluster, *, reason: str, journal: Any = None,
               on_event: Any = None) -> LockInfo | None:
    """Remove the upgrade lock whoever holds it (and any claim a killed start left), and record
    that you did.

    ``reason`` is mandatory and goes into the audit record on the cluster
    (ClusterlibUpgradeLockAudit), the Python log, the event stream (``on_event``) and, when
    ``journal`` (a path) is given, that run's journal. Returns the lock that was removed (None if
    there was none). Breaking a lock does not stop a run that is still alive at once: its next
    fencing check (every step start, before moves) stops it with LockLost.
    """
    if not reason or not reason.strip():
        raise ValueError("break_lock needs a reason (it is recorded on the cluster)")
    state = read_state(cluster)
    current = state.lock
    by = whoami()
    audit = {"broken_at": utc_now(), "by": by, "pid": os.getpid(), "reason": reason,
             "previous": current.to_dict() if current else None,
             "claims": [c.to_dict() for c in state.claims.values()]}
    cluster.dialect.set_private(AUDIT_KEY, json.dumps(audit, sort_keys=True))
    if current is not None:
        cluster.dialect.delete_private(LOCK_KEY)
    for token in state.claims:
        cluster.dialect.delete_private(CLAIM_PREFIX + token)
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
