"""The rolling-upgrade engine: runs the plan node by node, journals every phase, stops safely, and resumes.

Per node: drain -> action -> reboot -> verify -> resume -> [failback] -> validate; then
redistribute and, only when asked, raise the functional level. Every phase is written to the
journal before it starts and after it ends, and every phase re-reads the live cluster before it
acts, so a resume never trusts the journal's word about the cluster: a node already upgraded is
not upgraded again, a node left paused is resumed, a group left on the wrong node is moved back.

Truth rules: every group Online at the start is checked at every step boundary (and right before
each upgrade action) and recovered or the run stops (_check_availability); an installer whose
start cannot be ruled out is never sent again (_await_evidence); a node counts as upgraded only
on the target version (explicit, or adopted from the first upgraded node); the run ends with a
final check (_final_check), and says "completed" only when nothing differs and no group was
down beyond its moves ("degraded", "incomplete" or a stop otherwise). See docs/rolling-upgrade.md.

Reads are deliberately few. Possible and preferred owners are read once per run (they cost one
large round trip: Get-ClusterOwnerNode over every group and resource) and merged into the plain
snapshots the phases take; moves go through the same retrying, rolling-back move the Group handle
uses, without its two full snapshots per move. That keeps a 400-group redistribution bounded by
the cluster's own move time, not by reads.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import attrs

from clusterlib.cluster import Cluster, Group
from clusterlib.errors import (
    ClusterError,
    ClusterRefused,
    NotFound,
    PreconditionFailed,
    TransientClusterError,
    WaitTimeout,
)
from clusterlib.model import ClusterSnapshot, DrainStatus, GroupInfo, GroupState, NodeInfo, NodeState
from clusterlib.placement import candidate_nodes, evacuation_plan
from clusterlib.retry import WaitPolicy, pause_between_polls, wait_for
from clusterlib.upgrade import lock as locks
from clusterlib.upgrade.actions import (
    ActionFailed,
    ActionUnconfirmed,
    ManualAction,
    UpgradeAction,
    action_from_dict,
    as_hook,
)
from clusterlib.upgrade.errors import (
    JournalRejected,
    JournalWriteFailed,
    LockLost,
    PreflightFailed,
    UpgradeStopped,
)
from clusterlib.upgrade.events import (
    CheckFinished,
    EventBus,
    GroupMoved,
    PhaseFinished,
    PhaseStarted,
    Retry,
    RunFinished,
    RunStarted,
    Subscriber,
    UpgradeEvent,
    WaitingForOperator,
    Warning,
    utc_now,
)
from clusterlib.upgrade.journal import Journal, check_action
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.plan import Plan, Step, build_steps
from clusterlib.upgrade.preflight import CheckResult, join_verdict, resolve_order, run_checks
from clusterlib.upgrade.report import Report

log = logging.getLogger("clusterlib.upgrade")

T = TypeVar("T")

_BACK = (NodeState.Up, NodeState.Paused)
_OUT = (NodeState.Down, NodeState.Joining, NodeState.Unknown)


class _Stop(Exception):
    """Internal: stop the run here; the cluster is in the state ``message`` describes."""

    def __init__(self, message: str, *, node: str | None = None, group: str | None = None,
                 phase: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.group = group
        self.phase = phase


class _JournalFailed(_Stop):
    """Internal: the journal could not be written (ENOSPC, a read-only disk, ...): stop before
    anything else changes, since a step the journal cannot record must not run."""

    def __init__(self, path: Path | None, exc: OSError | JournalWriteFailed) -> None:
        super().__init__(f"cannot write the journal {path}: {exc}. Stopped safely before the"
                         " next change; the journal file keeps the state of its last successful"
                         " write (the step after it is re-checked on resume). Free space or fix"
                         " the file system, then resume.")
        self.path = path


class _NodeFailed(Exception):
    """Internal: this node failed but is back and safe; counts against max_failed_nodes."""


class _MoveFailed(Exception):
    def __init__(self, message: str, group: str) -> None:
        super().__init__(message)
        self.group = group


def _versions(info: NodeInfo) -> dict[str, Any]:
    return {"highest": str(info.highest_version) if info.highest_version else None,
            "lowest": str(info.lowest_version) if info.lowest_version else None,
            "os": str(info.os_version) if info.os_version else None,
            "state": info.state.name}


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


class _Context:
    """What an action sees of the engine (see actions.ActionContext)."""

    def __init__(self, engine: RollingUpgrade, node: str) -> None:
        self._engine = engine
        self._node = node

    def notify(self, message: str) -> None:
        self._engine._warn(message, node=self._node, phase="action")

    def waiting(self, prompt: str, timeout: float) -> None:
        self._engine._emit(WaitingForOperator(run_id=self._engine.run_id, node=self._node,
                                              phase="action", prompt=prompt, timeout=timeout,
                                              message=f"waiting for the operator: {prompt}"))


def _action_problem(action: UpgradeAction, cluster: Cluster,
                    snapshot: ClusterSnapshot) -> str | None:
    """``action.problem(cluster)``, with the plan's snapshot for an action that takes one (the
    built-in ones check every node); a custom action's one-argument problem() still works."""
    try:
        takes = "snapshot" in inspect.signature(action.problem).parameters
    except (TypeError, ValueError):
        takes = False
    return action.problem(cluster, snapshot=snapshot) if takes else action.problem(cluster)  # type: ignore[call-arg]


def _unsendable_names(cluster: Cluster, snapshot: ClusterSnapshot) -> list[str]:
    """Groups and nodes cluster.exe quoting cannot carry (``clusterlib.wire.cluster_text.check_name``):
    every group is moved by name at some drain or at the redistribution, so preflight refuses
    them before anything changes (the drain also refuses them, for a group that appears later)."""
    if cluster.dialect != "clusterexe":
        return []
    from clusterlib.errors import UnsafeName
    from clusterlib.wire.cluster_text import check_name

    out = []
    for kind, names in (("node name", [n.name for n in snapshot.nodes]),
                        ("group name", [g.name for g in snapshot.groups])):
        for name in names:
            try:
                check_name(name, kind)
            except UnsafeName as exc:
                out.append(str(exc))
    return out


def endpoint_of(cluster: Cluster) -> dict[str, str]:
    """What the run is connected to, for the journal and the report: ``{"kind": "sim" |
    "winrm" | <transport>, "target": <endpoint>}``. "sim" only for the in-process simulator
    (its transport carries the simulator); a ``clusterlib sim serve`` endpoint is reached over
    WinRM like a real host and is recorded as "winrm" (nothing on the wire tells them apart)."""
    transport = cluster.transport
    target = str(getattr(transport, "endpoint", "") or "")
    if getattr(transport, "sim", None) is not None:
        return {"kind": "sim", "target": target}
    name = type(transport).__name__
    kind = "winrm" if "winrm" in name.lower() else name.removesuffix("Transport").lower()
    return {"kind": kind or "unknown", "target": target}


class RollingUpgrade:
    """A rolling upgrade of one cluster.

    ``RollingUpgrade(cluster, action=RemoteCommand(r"D:\\setup.exe /unattend"),
    journal="run.json", target="9.3", raise_functional_level=True)``, then ``.plan()`` (dry run)
    and ``.run()`` (returns the Report, raises UpgradeStopped with the report when it stops).
    Policies are keyword arguments of ``UpgradeOptions`` (or ``options=``).
    """

    def __init__(self, cluster: Cluster, action: UpgradeAction | None = None, *,
                 journal: str | os.PathLike[str] | None = None,
                 options: UpgradeOptions | None = None,
                 on_event: Subscriber | None = None, pre_update: Any = None,
                 verify: Any = None, **policies: Any) -> None:
        self.cluster = cluster
        self.action = action
        if options is None:
            options = UpgradeOptions(**policies)
        elif policies:
            options = options.evolve(**policies)
        self.options = options
        # Hooks (CAU's pre-/post-update scripts): a command line, a RemoteCommand, a
        # PowerShellAction or fn(node, cluster) raising to fail. pre_update runs on the drained
        # node right before the action; verify after the version check, before the node is
        # resumed and the validation move. Either failing stops with the node paused and empty.
        self._pre_update = as_hook(pre_update if pre_update is not None
                                   else self.options.pre_update, "pre_update")
        self._verify = as_hook(verify if verify is not None else self.options.verify, "verify")
        self._resend: set[str] = set()
        self.journal_path = Path(journal) if journal is not None else None
        self._bus = EventBus()
        if on_event is not None:
            self._bus.subscribe(on_event)
        self._run_id = uuid.uuid4().hex[:12]
        self._journal: Journal | None = None
        self._resumed = False
        # (preferred owners (None: not read), possible owners, anti-affinity) per group
        self._owners: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...],
                                      tuple[str, ...]]] = {}
        self._current: tuple[str | None, str | None] = (None, None)
        self._last_save = 0.0
        self._stop_requested = False
        self._lock: locks.LockInfo | None = None  # this holder's lock (token), for fencing
        self._fenced_at = 0.0
        self._label = "start"  # the step whose time is passing (for the availability section)
        self._recoveries: dict[str, int] = {}

    def __repr__(self) -> str:
        return (f"<RollingUpgrade {self._run_id} of {self.cluster!r}"
                f"{' (resumed)' if self._resumed else ''}>")

    @property
    def run_id(self) -> str:
        return self._run_id

    # ---- events and operator ----

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event)`` for every event; returns an unsubscribe function."""
        return self._bus.subscribe(fn)

    def confirm(self, node: str, ok: bool = True, reason: str = "") -> None:
        """Answer a ManualAction waiting on ``node`` (from another thread or a notebook cell)."""
        if not isinstance(self.action, ManualAction):
            raise TypeError("confirm() answers a ManualAction; this run's action is "
                            f"{type(self.action).__name__}")
        self.action.confirm(node, ok, reason)

    def request_stop(self) -> None:
        """Stop at the next step boundary (thread- and signal-safe: it only sets a flag). The run
        then raises UpgradeStopped with the cluster in the state that boundary guarantees, and
        the journal resumes it."""
        self._stop_requested = True

    def _emit(self, event: UpgradeEvent) -> None:
        self._bus.emit(event)

    def _save(self) -> None:
        assert self._journal is not None
        try:
            self._journal.save()
        except (OSError, JournalWriteFailed) as exc:
            raise _JournalFailed(self._journal.path, exc) from exc
        self._last_save = time.monotonic()

    def _warn(self, message: str, *, node: str | None = None, phase: str | None = None) -> None:
        if self._journal is not None:
            self._journal.body["warnings"].append(
                " ".join(x for x in (node, phase) if x) + (": " if node or phase else "") + message)
        self._emit(Warning(run_id=self.run_id, node=node, phase=phase, message=message))

    # ---- planning ----

    def plan(self) -> Plan:
        """The plan and its preflight results, from one snapshot; nothing is changed."""
        snapshot = self.cluster.snapshot(owners=True)
        return self._plan_from(snapshot)

    def preflight(self) -> tuple[Any, ...]:
        return self.plan().checks

    def _plan_from(self, snapshot: ClusterSnapshot, resuming: bool = False) -> Plan:
        opts = self.options
        try:
            order = resolve_order(snapshot, opts)
            order_error = None
        except NotFound as exc:
            order, order_error = (), str(exc)
        lock_info = None
        lock_error = None
        try:
            lock_info = locks.read_lock(self.cluster)
        except ClusterError as exc:
            lock_error = f"cannot read the upgrade lock: {exc}"
        problem = "no upgrade action given" if self.action is None else _action_problem(
            self.action, self.cluster, snapshot)
        checks = run_checks(snapshot, opts, order=order, lock=lock_info, lock_error=lock_error,
                            run_id=self._run_id, action_problem=problem,
                            functional_level_supported=self.cluster.capabilities.functional_level,
                            resuming=resuming,
                            force_drain_switch=self.cluster.capabilities.force_drain)
        unsendable = _unsendable_names(self.cluster, snapshot)
        if unsendable:
            checks.append(CheckResult("names", False, "; ".join(unsendable)
                                      + ". Rename them (or move them off with the cluster's own"
                                      " tools) first; nothing was changed"))
        if order_error is not None:
            checks = [CheckResult("node-order", False, order_error),
                      *[c for c in checks if c.name != "node-order"]]
        steps = build_steps(snapshot, opts, order, self.cluster.commands, self.action,
                            move_wait=int(self.cluster.policies.move_wait.timeout)) \
            if order else ()
        return Plan(cluster=snapshot.name, dialect=self.cluster.dialect, order=tuple(order),
                    steps=steps, checks=tuple(checks), options=opts.to_dict(),
                    action=self.action.describe("<node>") if self.action else "(none)",
                    original_placement=snapshot.placement())

    # ---- running ----

    def run(self) -> Report:
        """Preflight, take the lock, and upgrade node by node. Returns the Report when every
        step is done; raises PreflightFailed (nothing changed), LockHeld, or UpgradeStopped
        (carrying the report; the journal resumes it)."""
        if self._journal is None:
            self._start()
        else:
            self._reopen()
        return self._drive()

    def _start(self) -> None:
        snapshot = self.cluster.snapshot(owners=True)
        self._remember_owners(snapshot)
        plan = self._plan_from(snapshot)
        for c in plan.checks:
            self._emit(CheckFinished(run_id=self.run_id, phase="preflight", check=c.name,
                                     ok=c.ok, message=c.message))
        if not plan.ok:
            raise PreflightFailed(plan.failed_checks)
        assert self.action is not None  # the "action" check refuses a run without one
        if self.journal_path is None:
            log.warning("rolling upgrade %s runs without a journal: it cannot be resumed",
                        self.run_id)
        body: dict[str, Any] = {
            "run_id": self.run_id, "cluster": snapshot.name, "endpoint": endpoint_of(self.cluster),
            "created": utc_now(),
            "updated": utc_now(), "owner": locks.whoami(), "pid": os.getpid(),
            "clusterlib_version": _clusterlib_version(),
            "options": self.options.to_dict(), "action": self.action.to_dict(),
            "original_placement": snapshot.placement(),
            "original_states": {g.name: g.state.name for g in snapshot.groups},
            "nodes_before": {n.name: _versions(n) for n in snapshot.nodes},
            "nodes_after": {}, "plan": plan.to_dict(),
            "steps": [{"id": s.id, "kind": s.kind, "node": s.node, "group": s.group,
                       "status": "pending", "attempts": 0, "started": None, "finished": None,
                       "seconds": None, "message": ""} for s in plan.steps],
            "moves": [], "retries": [], "warnings": [], "audit": [], "failed_nodes": [],
            "outcome": None, "message": "started", "stopped_at": None,
            "validation_in_flight": None,
            "functional_level": {"before": snapshot.functional_level},
            "final_placement": {},
            # Downtime of each group Online at the start (see _check_availability), the target
            # adopted from the first upgraded node when none was given, steps added on resume.
            "availability": {}, "adopted_target": None, "extra_steps": [],
            "action_unconfirmed": {},
            "hooks": {"pre_update": self._pre_update.to_dict() if self._pre_update else None,
                      "verify": self._verify.to_dict() if self._verify else None},
        }
        # Journal first, lock second: a crash in between leaves a journal whose resume takes the
        # lock, never a lock nobody can name.
        self._journal = Journal.create(self.journal_path, body)
        if self.journal_path is None:
            self._warn("no journal file: this run cannot be resumed")
        try:
            self._lock = locks.acquire(self.cluster, self.run_id, snapshot.name)
        except ClusterError as exc:
            self._journal.body["outcome"] = "refused"
            self._journal.body["message"] = str(exc)
            self._journal.save()
            raise

    def _reopen(self) -> None:
        assert self._journal is not None
        body = self._journal.body
        snapshot = self.cluster.snapshot(owners=True)
        self._remember_owners(snapshot)
        self._lock = locks.acquire(self.cluster, self.run_id, snapshot.name)
        # Every resume re-reads the live cluster, also of a run the journal calls finished
        # ("completed", "degraded", "incomplete"): the journal's word is never the outcome. The
        # steps the live cluster contradicts are reopened, and the final check always runs
        # again, so a finished run against a cluster that no longer shows it is never reported
        # finished unproven. A finished run that still holds sends nothing (every step is done).
        was = body["outcome"]
        body["outcome"] = None
        body["stopped_at"] = None
        body["message"] = "resumed"
        body["audit"].append({"text": f"resumed by {locks.whoami()} pid {os.getpid()}"
                              + (f" (the journal said {was}; re-checked)"
                                 if was in ("completed", "degraded", "incomplete") else ""),
                              "at": utc_now()})
        now = endpoint_of(self.cluster)
        if body.get("endpoint") != now:
            # The report says where the run's changes went: the latest endpoint, each change
            # audited (a simulated run resumed on a real host, or the reverse, is visible).
            body["audit"].append({"text": f"resumed through {now['kind']} {now['target']}"
                                  + (f" (the run was on {body['endpoint']['kind']}"
                                     f" {body['endpoint']['target']})" if body.get("endpoint")
                                     else ""), "at": utc_now()})
            body["endpoint"] = now
        self._reverify(snapshot)
        pending = sorted({str(r["node"]) for r in body["steps"] if r["kind"] == "action"
                          and r["status"] not in ("done", "skipped")})
        if self.action is None and pending:
            # Reopened by the live cluster (a node rolled back after the run finished), but the
            # action is not in the journal (code, a person, a secret line): refuse before any
            # change to the cluster. The journal keeps the truth (no longer "completed": the
            # reopened steps are in it), and a resume with action= continues from them.
            message = (f"the live cluster contradicts the journal: {', '.join(pending)} must be"
                       f" upgraded again, but the run's action ({body['action'].get('kind')})"
                       " cannot be rebuilt from the journal (code, a person, or a secret command"
                       " line); pass action= to resume; nothing was done")
            body["outcome"] = "stopped"
            body["message"] = message
            body["stopped_at"] = {"node": pending[0], "group": None, "phase": "resume"}
            try:
                self._journal.save()
            finally:
                locks.release(self.cluster, self._lock)
                self._lock = None
            raise JournalRejected(f"{self._journal.path}: {message}")
        self._journal.save()
        self._label = "between sessions"  # downtime found at the first check fell there

    def _reverify(self, snapshot: ClusterSnapshot) -> None:
        """On resume, re-check every node the journal says is upgraded against the live cluster
        (it may have been rolled back or reimaged since). A node whose verify step is done but
        whose live version is not the target's is upgraded again from its drain: new steps are
        appended (the journal's done steps stay as the history). Sending its installer again is
        safe here, because that node's earlier installer was proven finished (it came back on
        the new version). A node whose action started but was never verified is not redone: its
        reboot step waits for evidence, and never re-sends (see _await_evidence). When every
        step is done but groups are off their original owners, the redistribution runs again."""
        assert self._journal is not None
        body = self._journal.body
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in body["steps"]:
            if rec["node"] is not None:
                latest[(rec["node"], rec["kind"])] = rec
        plan_steps = [*body["plan"]["steps"], *body.setdefault("extra_steps", [])]
        redo: list[str] = []
        for n in body["plan"]["order"]:
            verify = latest.get((n, "verify"))
            if n in body["failed_nodes"] or verify is None or verify["status"] != "done":
                continue
            try:
                info = snapshot.node(n)
            except NotFound:
                continue
            if self._upgraded(n, info):
                continue
            redo.append(n)
            self._warn(f"the journal says {n} is upgraded, but it runs cluster service"
                       f" {info.highest_version} (OS {info.os_version}) now: rolled back or"
                       " reimaged; it is upgraded again", node=n, phase="resume")
            body["nodes_after"].pop(n, None)
            body.get("action_unconfirmed", {}).pop(n, None)
            body.get("action_sent", {}).pop(n, None)
        every_done = all(r["status"] in ("done", "skipped") for r in body["steps"])
        left = body.get("left_in_place", {})
        misplaced = [g.name for g in snapshot.groups
                     if body["original_placement"].get(g.name)
                     and not _same(g.owner, body["original_placement"][g.name])
                     and g.name not in left]
        if not redo and not (every_done and misplaced):
            return
        rounds = 1 + sum(1 for x in body["extra_steps"] if x["kind"] == "redistribute")
        added: list[dict[str, Any]] = []
        for n in redo:
            added += [x for x in body["plan"]["steps"] if x["node"] == n]
        added += [x for x in plan_steps if x["kind"] == "redistribute"][:1]
        for raw in added:
            step = dict(raw, id=f"{raw['id']}#redo{rounds}")
            body["extra_steps"].append(step)
            body["steps"].append({"id": step["id"], "kind": step["kind"], "node": step["node"],
                                  "group": step.get("group"), "status": "pending",
                                  "attempts": 0, "started": None, "finished": None,
                                  "seconds": None, "message": ""})
        body["audit"].append({"text": "resume redoes " + (", ".join(redo) or "the redistribution")
                              + " (the live cluster contradicts the journal)", "at": utc_now()})

    def _drive(self) -> Report:
        journal = self._journal
        assert journal is not None
        body = journal.body
        started = time.monotonic()
        unsubscribe = self.cluster.subscribe(self._on_cluster_event)
        self._emit(RunStarted(run_id=self.run_id, cluster=body["cluster"],
                              nodes=tuple(body["plan"]["order"]), resumed=self._resumed,
                              message=("resuming" if self._resumed else "starting")
                              + f" rolling upgrade of {body['cluster']}"))
        try:
            # _reopen cleared any earlier outcome: every session ends with the final check.
            for raw in [*body["plan"]["steps"], *body.setdefault("extra_steps", [])]:
                step = Step.from_dict(raw)
                rec = journal.step(step.id)
                if rec["status"] in ("done", "skipped"):
                    continue
                if step.node is not None and step.node in body["failed_nodes"]:
                    self._mark(rec, "skipped", f"{step.node} failed earlier in this run")
                    rec["result"] = "skipped"
                    continue
                if self._stop_requested:
                    raise _Stop(f"stopped on request before {step.id}; "
                                + self._boundary_text(step), node=step.node, phase=step.kind)
                # The availability invariant, at every step boundary (see _check_availability).
                self._check_availability(step)
                self._run_step(step, rec)
            self._check_availability(None)
            self._final_check()
            excess = self._excess_downtime()
            message = self._completion_message()
            if excess:
                text = "; ".join(f"{g} {s:.0f}s" for g, s in excess.items())
                self._warn(f"groups were down longer than their moves needed: {text}")
                message += f"; OUTAGE: groups were down beyond their moves ({text})"
            # Nodes that failed within max_failed_nodes are not upgraded: every step ran,
            # but the cluster is not where the run was to take it.
            self._finish("incomplete" if body["failed_nodes"] else
                         "degraded" if excess else "completed", message)
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM turned into one) mid-step: the journal records the step's real
            # end before the interrupt leaves run(); the resume re-checks that step.
            node, phase = self._current
            message = (f"interrupted (Ctrl-C) during {phase or 'the run'}"
                       f"{' of ' + node if node else ''}; resume re-checks that step")
            self._interrupted(message, node, phase)
            self._emit(RunFinished(run_id=self.run_id, outcome="stopped", node=node, phase=phase,
                                   seconds=time.monotonic() - started, message=message))
            raise
        except LockLost:
            raise  # fenced out: write nothing (another holder owns the cluster and journal)
        except _Stop as stop:
            self._finish("stopped", stop.message, node=stop.node, group=stop.group,
                         phase=stop.phase)
            report = self.report()
            self._emit(RunFinished(run_id=self.run_id, outcome="stopped", node=stop.node,
                                   phase=stop.phase, seconds=time.monotonic() - started,
                                   message=stop.message))
            # A journal that could not be written stays visible as the cause (ENOSPC, ...).
            cause = stop.__cause__ if isinstance(stop, _JournalFailed) else None
            raise UpgradeStopped(stop.message, report=report, journal=journal.path,
                                 node=stop.node, group=stop.group, phase=stop.phase) from cause
        except ClusterError as exc:
            node, phase = self._current
            message = (f"stopped on an unexpected error at {node or 'cluster'} {phase or ''}:"
                       f" {exc}")
            self._finish("stopped", message, node=node, phase=phase)
            self._emit(RunFinished(run_id=self.run_id, outcome="stopped", node=node, phase=phase,
                                   seconds=time.monotonic() - started, message=message))
            raise UpgradeStopped(message, report=self.report(), journal=journal.path, node=node,
                                 phase=phase) from exc
        finally:
            unsubscribe()
            if self._lock is not None:
                locks.dormant(self._lock)  # a stopped run's resume in this process may take over
        locks.release(self.cluster, self._lock or self.run_id)
        report = self.report()
        self._emit(RunFinished(run_id=self.run_id, outcome=report.outcome,
                               seconds=time.monotonic() - started, message=report.message))
        return report

    def _boundary_text(self, step: Step) -> str:
        n = step.node
        if n is None or step.kind == "drain":
            return "no node is out of the cluster"
        return {"action": f"{n} is paused and owns no group; its upgrade has not started",
                "reboot": f"{n} is restarting after its upgrade action",
                "verify": f"{n} is back (paused) and owns no group",
                "resume": f"{n} is upgraded and still paused",
                }.get(step.kind, f"{n} is upgraded and resumed")

    def report(self) -> Report:
        assert self._journal is not None
        path = str(self._journal.path) if self._journal.path is not None else None
        return Report.from_body(self._journal.body, path)

    def _completion_message(self) -> str:
        assert self._journal is not None
        body = self._journal.body
        failed = body["failed_nodes"]
        done = [n for n in body["plan"]["order"] if n not in failed]
        if not done and not failed:
            return "nothing to upgrade: every node already runs the target (checked live)"
        text = f"upgraded {len(done)} node(s): {', '.join(done)}"
        if failed:
            text += f"; FAILED (within max_failed_nodes): {', '.join(failed)}"
        return text

    def _finish(self, outcome: str, message: str, *, node: str | None = None,
                group: str | None = None, phase: str | None = None) -> None:
        assert self._journal is not None
        body = self._journal.body
        body["outcome"] = outcome
        body["message"] = message
        body["stopped_at"] = ({"node": node, "group": group, "phase": phase}
                              if outcome == "stopped" else None)
        try:
            snap = self.cluster.snapshot()
            body["final_placement"] = snap.placement()
            for n in snap.nodes:
                if n.name in body["nodes_after"] or outcome == "completed":
                    body["nodes_after"][n.name] = _versions(n)
            body["functional_level"]["final"] = snap.functional_level
            offline = [g.name for g in snap.groups
                       if g.state is not GroupState.Online
                       and body["original_states"].get(g.name) == "Online"]
            if offline:
                self._warn("groups Online at the start are not Online now: " + ", ".join(offline))
        except ClusterError as exc:
            self._warn(f"could not read the final state: {exc}")
        try:
            self._save()
        except _JournalFailed as exc:
            # The in-memory report still tells the truth; the message names the journal.
            if exc.message not in body["message"]:
                body["message"] = f"{body['message']} ({exc.message})"

    def _interrupted(self, message: str, node: str | None, phase: str | None) -> None:
        """Write the real end of the step a KeyboardInterrupt cut short, then the stop."""
        assert self._journal is not None
        for rec in self._journal.body["steps"]:
            if rec["status"] == "running":
                rec["status"] = "failed"
                rec["result"] = "interrupted"
                rec["message"] = message
                rec["finished"] = utc_now()
        try:
            self._finish("stopped", message, node=node, phase=phase)
        except Exception as exc:  # never mask the interrupt itself
            log.warning("could not record the interrupted run: %s", exc)

    # ---- the availability invariant ----

    def _avail(self, group: str) -> dict[str, Any]:
        assert self._journal is not None
        avail: dict[str, Any] = self._journal.body.setdefault("availability", {})
        rec: dict[str, Any] = avail.setdefault(group, {
            "down_since": None, "counted_until": None, "down_phase": None, "excess": 0.0,
            "by_phase": {}, "episodes": []})
        return rec

    def _down(self, group: str, since: float, label: str, state: str, on: str | None) -> None:
        """Note ``group`` as down since ``since`` (wall clock), if not already."""
        assert self._journal is not None
        if self._journal.body["original_states"].get(group) != "Online":
            return  # the invariant covers the groups Online at the start
        rec = self._avail(group)
        if rec["down_since"] is None:
            rec["down_since"] = rec["counted_until"] = since
            rec["down_phase"] = label
            rec["episodes"].append({"from": utc_now(), "to": None, "seconds": 0.0,
                                    "phase": label, "state": state, "on": on})
        else:
            rec["episodes"][-1].update(state=state, on=on)

    def _account(self, group: str, now: float, label: str, up: bool) -> None:
        """Add the downtime since the last count to ``label``; close the episode when ``up``."""
        rec = self._avail(group)
        if rec["down_since"] is None:
            return
        seconds = max(0.0, now - float(rec["counted_until"])) * self.cluster.time_scale
        rec["excess"] = round(float(rec["excess"]) + seconds, 3)
        rec["by_phase"][label] = round(float(rec["by_phase"].get(label, 0.0)) + seconds, 3)
        rec["episodes"][-1]["seconds"] = round(rec["episodes"][-1]["seconds"] + seconds, 3)
        rec["counted_until"] = now
        if up:
            rec["episodes"][-1]["to"] = utc_now()
            rec["down_since"] = rec["counted_until"] = None

    def _down_for(self, group: str, now: float) -> float:
        rec = self._avail(group)
        since = rec["down_since"]
        return 0.0 if since is None else max(0.0, now - float(since)) * self.cluster.time_scale

    def _check_availability(self, step: Step | None, snap: ClusterSnapshot | None = None) -> None:
        """The invariant: every group Online when the run started is Online (or Pending: moving)
        now. A group that is not is moved back to a node where it was Online (bounded by the move
        retry policy and ``retries_per_node``); otherwise the run stops, naming the group, where
        it is, the phase it went down in and for how long. Downtime is measured between the
        engine's own reads (an upper bound, exact to one step) and from failed moves' start."""
        assert self._journal is not None
        body = self._journal.body
        online0 = {g for g, st in body["original_states"].items() if st == "Online"}
        if not online0:
            return
        snap = snap if snap is not None else self._snap()
        now = time.time()
        label = self._label
        down: list[GroupInfo] = []
        for g in snap.groups:
            if g.name not in online0:
                continue
            self._avail(g.name)
            if g.state in (GroupState.Online, GroupState.Pending):
                self._account(g.name, now, label, up=True)
                continue
            self._down(g.name, now, label, g.state.name, g.owner)
            self._account(g.name, now, label, up=False)
            down.append(g)
        for g in down:
            self._recover(g, snap, step)

    def _online_places(self, group: str) -> list[str]:
        """Nodes where ``group`` was Online during this run, newest first."""
        assert self._journal is not None
        body = self._journal.body
        places: list[str] = []
        for m in reversed(body["moves"]):
            if m["group"] == group and m["state"] == "Online" and m["target"] not in places:
                places.append(m["target"])
        home = body["original_placement"].get(group)
        if home and home not in places:
            places.append(home)
        return places

    def _recover(self, g: GroupInfo, snap: ClusterSnapshot, step: Step | None) -> None:
        """The documented recovery of a group that should be Online: move it back to an Up node
        where it was Online. When the only such node is the one this run drained and has not yet
        upgraded, that node is resumed (it is unchanged) and the group goes back there; the run
        then stops, since draining it again would fail the group again."""
        assert self._journal is not None
        rec = self._avail(g.name)
        tries = self._recoveries.get(g.name, 0)
        label = rec["down_phase"] or self._label
        lnode, _, lphase = label.rpartition(" ")
        why: list[str] = []
        if tries <= self.options.retries_per_node:
            self._recoveries[g.name] = tries + 1
            pending = self._drained_not_started()
            for place in self._online_places(g.name):
                if _same(place, g.owner) and g.state is not GroupState.Failed:
                    continue
                try:
                    info = snap.node(place)
                except NotFound:
                    continue
                resumed = False
                if info.state is NodeState.Paused and pending is not None and _same(place, pending):
                    self._fence()  # a recovery changes the cluster: only while the lock holds
                    self._resume_node(place)
                    resumed = True
                elif info.state is not NodeState.Up:
                    why.append(f"{place} is {info.state.name}")
                    continue
                try:
                    landed = self._move(g.name, place, "recovery", known=g)
                except _MoveFailed as exc:
                    why.append(str(exc))
                    continue
                if landed not in (GroupState.Online, GroupState.Pending):
                    why.append(f"on {place} it is {landed.name}")
                    continue
                now = time.time()
                downtime = self._down_for(g.name, now)
                self._account(g.name, now, self._label, up=True)
                text = (f"{g.name} was {g.state.name} on {g.owner} (down {downtime:.0f}s since"
                        f" {label}); moved back to {place}, where it was Online")
                if resumed:
                    raise _Stop(f"{text}, and {place} was resumed without being upgraded."
                                f" {g.name} cannot stay Online on {g.owner}: fix it there (or its"
                                " possible owners), then resume; the drain of"
                                f" {place} is repeated first.", node=lnode or place,
                                group=g.name, phase=lphase or "drain")
                self._warn(text, node=lnode or None, phase=lphase or None)
                return
        down = self._down_for(g.name, time.time())
        raise _Stop(f"{g.name} is {g.state.name} on {g.owner} (Online when the run started) and"
                    f" has been down {down:.0f}s, since {label}; moving it back to a node where"
                    f" it was Online did not work ({'; '.join(why) or 'no such node is Up'})."
                    " Stopped before anything else changes; bring it Online, then resume.",
                    node=lnode or None, group=g.name, phase=lphase or None)

    def _drained_not_started(self) -> str | None:
        """The node this run drained whose upgrade action was never sent (at most one): its
        latest drain step is done, its latest action step is not, and the journal records no
        send (``action_sent`` is written right before an action is sent)."""
        assert self._journal is not None
        body = self._journal.body
        latest: dict[tuple[str, str], str] = {}
        for rec in body["steps"]:
            if rec["node"] is not None:
                latest[(rec["node"], rec["kind"])] = rec["status"]
        sent = body.get("action_sent", {})
        for n in body["plan"]["order"]:
            if (latest.get((n, "drain")) in ("done", "skipped")
                    and latest.get((n, "action")) not in (None, "done", "skipped")
                    and n not in sent):
                return str(n)
        return None

    def _final_check(self) -> None:
        """Before a run may say "completed": every node that did not fail runs the target (or,
        without one, a version other than its old one), is Up, and every group is on its original
        owner in its original state (groups the redistribution deliberately left are excepted
        with their warning). Any difference stops the run, listing them all."""
        assert self._journal is not None
        body = self._journal.body
        snap = self._snap()
        diffs: list[str] = []
        for n in body["plan"]["order"]:
            if n in body["failed_nodes"]:
                continue
            try:
                info = snap.node(n)
            except NotFound:
                diffs.append(f"{n} is no longer in the cluster")
                continue
            if not self._upgraded(n, info):
                diffs.append(f"{n} runs cluster service {info.highest_version} (OS"
                             f" {info.os_version}), not {self._target_text(n)}")
            if info.state is not NodeState.Up:
                diffs.append(f"{n} is {info.state.name}, not Up")
        original: dict[str, str | None] = body["original_placement"]
        left = body.get("left_in_place", {})
        for g in snap.groups:
            home = original.get(g.name)
            if home and not _same(g.owner, home) and g.name not in left:
                diffs.append(f"{g.name} is on {g.owner}, not on its original owner {home}")
            was = body["original_states"].get(g.name)
            if was is not None and was != g.state.name and not (
                    was == "Online" and g.state is GroupState.Pending):
                diffs.append(f"{g.name} is {g.state.name}, was {was}")
        if diffs:
            raise _Stop(f"final check: {len(diffs)} difference(s) from the target state, so the"
                        " run is not complete: " + "; ".join(diffs) + ". Resume re-checks and"
                        " redoes what the live cluster contradicts.", phase="final-check")

    def _target_text(self, n: str) -> str:
        if self.options.target is not None:
            return f"the target {self.options.target}"
        assert self._journal is not None
        adopted = self._journal.body.get("adopted_target")
        if adopted:
            return f"the target {adopted['highest']} (OS {adopted['os']}) adopted from" \
                   f" {adopted['from']}"
        return f"a version other than {self._before(n).get('highest')}"

    def _excess_downtime(self) -> dict[str, float]:
        assert self._journal is not None
        avail = self._journal.body.get("availability", {})
        return {g: float(r["excess"]) for g, r in avail.items() if float(r["excess"]) > 0}

    # ---- steps ----

    def _mark(self, rec: dict[str, Any], status: str, message: str, save: bool = True) -> None:
        rec["status"] = status
        rec["message"] = message
        rec["finished"] = utc_now()
        if save:
            self._save()

    def _fence(self, *, before_move: bool = False) -> None:
        """Fencing (``lock.check``): stop with LockLost, changing nothing, unless this holder's
        token still holds the lock. At every step start; before a move unless the last check
        was less than ``lock.FENCE_INTERVAL`` seconds ago (a frozen run always re-checks)."""
        if self._lock is None:
            return
        if before_move and time.monotonic() - self._fenced_at < locks.FENCE_INTERVAL:
            return
        try:
            locks.check(self.cluster, self._lock)
        except LockLost as lost:
            node, phase = self._current
            raise LockLost(str(lost), holder=lost.holder, report=self.report(),
                           journal=self._journal.path if self._journal else None, node=node,
                           phase=phase) from None
        self._fenced_at = time.monotonic()

    def _run_step(self, step: Step, rec: dict[str, Any]) -> None:
        assert self._journal is not None
        self._fence()
        handler = getattr(self, "_do_" + step.kind.replace("-", "_"))
        self._current = (step.node, step.kind)
        resumed_step = rec["status"] in ("running", "failed")
        prior = (rec["status"], rec["attempts"], rec["started"])
        rec["status"] = "running"
        rec["attempts"] += 1
        rec["started"] = rec["started"] or utc_now()
        self._label = f"{step.node} {step.kind}" if step.node else step.kind
        try:
            self._save()  # before (and the previous step's after)
        except _JournalFailed:
            # The step never started: the report must not say it ran.
            rec["status"], rec["attempts"], rec["started"] = prior
            raise
        self._emit(PhaseStarted(run_id=self.run_id, node=step.node, phase=step.kind, step=step.id,
                                timeout=self._phase_timeout(step.kind),
                                message=step.description))
        t0 = time.monotonic()

        def close(status: str, message: str) -> None:
            # "already": the live cluster shows the step's work done. If an earlier session
            # started this step, it ran there; otherwise it was skipped as already done.
            if status == "already":
                status, rec["result"] = (("done", "ran") if resumed_step
                                         else ("skipped", "already done"))
            else:
                rec["result"] = {"done": "ran"}.get(status, status)
            seconds = (time.monotonic() - t0) * self.cluster.time_scale
            rec["seconds"] = round((rec["seconds"] or 0.0) + seconds, 3)
            # "After" is written together with the next step's "before" (or the run's end):
            # nothing reaches the cluster in between, and a crash before that write only
            # means this step is checked again on resume.
            self._mark(rec, status, message, save=False)
            self._emit(PhaseFinished(run_id=self.run_id, node=step.node, phase=step.kind,
                                     step=step.id, status=status, seconds=seconds,
                                     message=message or status))

        try:
            status, message = handler(step, resumed_step)
        except _NodeFailed as exc:
            close("failed", str(exc))
            self._node_failed(step, str(exc))
            return
        except _Stop as stop:
            stop.node = stop.node or step.node
            stop.phase = stop.phase or step.kind
            close("failed", stop.message)
            raise
        except LockLost:
            raise
        except ClusterError as exc:
            close("failed", str(exc))
            raise _Stop(f"{step.kind} of {step.node or 'the cluster'} failed: {exc}",
                        node=step.node, phase=step.kind) from exc
        close(status, message)

    def _phase_timeout(self, kind: str) -> float | None:
        o = self.options
        return {"drain": o.drain_timeout, "reboot": o.reboot_timeout, "resume": o.rejoin_timeout,
                "action": o.action_timeout if isinstance(self.action, ManualAction) else None,
                }.get(kind)

    def _node_failed(self, step: Step, message: str) -> None:
        """A node failed but came back: count it, and either stop or make it useful again."""
        assert self._journal is not None and step.node is not None
        body = self._journal.body
        failures = len(body["failed_nodes"]) + 1
        if failures > self.options.max_failed_nodes:
            raise _Stop(f"{message}. {step.node} is left paused and drained; no further node was"
                        f" touched (max_failed_nodes={self.options.max_failed_nodes}).",
                        node=step.node, phase=step.kind)
        body["failed_nodes"].append(step.node)
        self._warn(f"{message}; continuing ({failures} of max {self.options.max_failed_nodes}"
                   " failed nodes)", node=step.node, phase=step.kind)
        info = self.cluster.commands.read_node(step.node)
        if info.state is NodeState.Paused:
            self._resume_node(step.node)
        for rec in body["steps"]:
            if rec["node"] == step.node and rec["status"] == "pending":
                rec["status"] = "skipped"
                rec["message"] = "node failed"
        self._save()

    # ---- reads ----

    def _remember_owners(self, snapshot: ClusterSnapshot) -> None:
        self._owners = {g.name: (g.preferred_owners, g.possible_owners, g.anti_affinity)
                        for g in snapshot.groups}

    def _snap(self) -> ClusterSnapshot:
        """A plain snapshot with the owner lists read at the start of the run merged in."""
        snap = self.cluster.snapshot()
        groups = []
        for g in snap.groups:
            known = self._owners.get(g.name)
            if known is not None:
                g = attrs.evolve(g, preferred_owners=known[0], possible_owners=known[1],
                                 anti_affinity=known[2])
            groups.append(g)
        return snap.evolve(groups=tuple(groups))

    def _node(self, name: str) -> NodeInfo:
        return self.cluster.commands.read_node(name)

    def _wait(self, read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str,
              failed: Callable[[T], str | None] | None = None) -> T:
        policy = WaitPolicy(timeout=timeout, interval=min(self.options.poll_interval, timeout))
        return wait_for(read, done, policy, what=what, scale=self.cluster.time_scale,
                        failed=failed)

    def _before(self, node: str) -> dict[str, Any]:
        assert self._journal is not None
        return self._journal.body["nodes_before"].get(node) or {}

    def _changed(self, node: str, info: NodeInfo) -> bool:
        """Whether ``node`` runs another version than at the start (cluster service, or the OS
        build and service pack: a service-pack roll changes only those)."""
        v = _versions(info)
        before = self._before(node)
        return v["highest"] is not None and (v["highest"], v["os"]) != (before.get("highest"),
                                                                        before.get("os"))

    def _upgraded(self, node: str, info: NodeInfo) -> bool:
        """Whether ``info`` proves the node runs what the action installs: the target's
        cluster-service version when one was given; else the version the first upgraded node
        came back with (adopted as the target, see _do_verify); else any change from before."""
        if self.options.target is not None:
            return self.options.target.matches(info.highest_version, info.os_version)
        assert self._journal is not None
        adopted = self._journal.body.get("adopted_target")
        if adopted:
            v = _versions(info)
            return (v["highest"], v["os"]) == (adopted["highest"], adopted["os"])
        return self._changed(node, info)

    # ---- moves ----

    def _on_cluster_event(self, name: str, details: dict[str, Any]) -> None:
        node, phase = self._current
        if name == "retry":
            record = {"node": node, "phase": phase, "group": details.get("group"),
                      "attempt": details.get("attempt"), "error": str(details.get("error")),
                      "at": utc_now()}
            if self._journal is not None:
                self._journal.body["retries"].append(record)
            self._emit(Retry(run_id=self.run_id, node=node, phase=phase,
                             group=details.get("group"), attempt=int(details.get("attempt") or 0),
                             error=str(details.get("error")),
                             message=f"retrying the move of {details.get('group')}:"
                             f" {details.get('error')}"))
        elif name == "move" and details.get("rollback"):
            self._record_move(str(details.get("group")), details.get("source"),
                              str(details.get("target")), str(details.get("state")), 1, 0.0,
                              "rollback")

    def _record_move(self, group: str, source: str | None, target: str, state: str, attempts: int,
                     seconds: float, purpose: str) -> None:
        node, phase = self._current
        assert self._journal is not None
        self._journal.body["moves"].append({
            "group": group, "source": source, "target": target, "state": state,
            "attempts": attempts, "seconds": round(seconds, 3), "purpose": purpose,
            "node": node, "phase": phase, "at": utc_now()})
        self._emit(GroupMoved(run_id=self.run_id, node=node, phase=phase, group=group,
                              source=source, target=target, state=state, attempts=attempts,
                              seconds=seconds, purpose=purpose,
                              message=f"{group}: {source} -> {target} ({state})"))

    def _move(self, group: str, target: str, purpose: str,
              known: GroupInfo | None = None) -> GroupState:
        """Move ``group`` to ``target`` and wait until it is back in its state there (returned).
        Transient refusals and slow moves are retried; a group that fails to come online is
        returned to where it was (raises _MoveFailed saying where it is now). ``known``: the
        group as a snapshot taken in this phase shows it (saves a read per move)."""
        d = self.cluster.commands
        before = known if known is not None else d.read_group(group)
        if _same(before.owner, target) and before.state is not GroupState.Failed:
            return before.state
        expected = (before.state if before.state in (GroupState.Online, GroupState.Offline,
                                                     GroupState.PartialOnline)
                    else GroupState.Online)
        t0 = time.monotonic()
        try:
            # The Group handle's retrying, rolling-back move without its per-move reads: this
            # phase already checked the target from its own snapshot.
            self._fence(before_move=True)
            attempts = Group(self.cluster, group).move_prechecked(target, expected,
                                                                  known=before)
        except (ClusterRefused, WaitTimeout) as exc:
            raise _MoveFailed(self._move_failed(group, before, target, t0, exc, purpose),
                              group) from exc
        # The wait above ended only with the group in ``expected`` on ``target``.
        self._record_move(group, before.owner, target, expected.name, attempts,
                          (time.monotonic() - t0) * self.cluster.time_scale, purpose)
        return expected

    # ---- phase: drain ----

    def _do_drain(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        assert n is not None
        info = self._node(n)
        if info.state in _OUT:
            # Only on a resume or after a crash: wait for the node before draining it.
            self._wait_back(n, seen_down=True)
        snap = self._snap()
        others = [f"{x.name} is {x.state.name}" for x in snap.nodes
                  if not _same(x.name, n) and x.state is not NodeState.Up]
        if others:
            raise _Stop(f"will not pause {n} while another node is not Up ({', '.join(others)}):"
                        " only one node is ever out at a time; nothing was changed on " + n,
                        node=n, phase="drain")
        if not snap.keeps_quorum_without(n):
            if snap.quorum_type:
                raise _Stop(f"will not pause {n}: taking it down would lose quorum"
                            f" ({snap.quorum_type})", node=n, phase="drain")
            # Unknown quorum model: preflight already warned; see preflight's quorum check.
        me = snap.node(n)
        if me.state is NodeState.Paused and not snap.groups_on(n):
            return "already", f"{n} is already paused and owns no group"
        attempts = 1 + self.options.retries_per_node
        for attempt in range(1, attempts + 1):
            try:
                self._drain_once(n)
                break
            except _MoveFailed as exc:
                trouble: str = str(exc)
                group: str | None = exc.group
            except _DrainTrouble as exc:
                trouble, group = str(exc), exc.group
            if attempt == attempts:
                raise _Stop(f"drain of {n} failed: {trouble}. " + self._node_state_text(n),
                            node=n, group=group, phase="drain")
            self._note_retry(n, "drain", attempt, trouble, group)
            if self._node(n).state in _OUT:
                self._wait_back(n, seen_down=True)
        # Emptiness was established by _drain_once from its post-drain snapshot and moves; the
        # action re-checks it on a fresh snapshot right before it starts (the interlock).
        state = self._node(n).state
        if state is not NodeState.Paused:
            raise _Stop(f"{n} is {state.name} after the drain, not Paused", node=n,
                        phase="drain")
        return "done", f"{n} paused and empty"

    def _note_retry(self, node: str, phase: str, attempt: int, error: str,
                    group: str | None = None) -> None:
        assert self._journal is not None
        self._journal.body["retries"].append({"node": node, "phase": phase, "group": group,
                                              "attempt": attempt, "error": error,
                                              "at": utc_now()})
        self._save()
        self._emit(Retry(run_id=self.run_id, node=node, phase=phase, group=group, attempt=attempt,
                         error=error, message=f"retrying {phase} of {node}: {error}"))

    def _node_state_text(self, node: str) -> str:
        try:
            snap = self.cluster.snapshot()
        except ClusterError:
            return ""
        me = snap.node(node)
        on = [g.name for g in snap.groups_on(node)]
        return (f"{node} is {me.state.name}" + (f" and still owns {', '.join(on)}" if on else
                                                " and owns no group") + ".")

    def _drain_once(self, n: str) -> None:
        """Pause and drain ``n``, then move whatever the cluster left there. On return the node
        is Paused and the snapshot taken after the drain showed nothing else on it."""
        d = self.cluster.commands
        caps = self.cluster.capabilities
        info = self._node(n)
        if not (info.state is NodeState.Paused and info.drain_status is DrainStatus.InProgress):
            try:
                d.execute(d.pause_command(n, drain=True, force=True) if self.options.force_drain
                          else d.pause_command(n, drain=True))
            except ClusterRefused as exc:
                raise _DrainTrouble(f"the cluster refused to pause {n}: {exc}") from exc
            except PreconditionFailed as exc:
                # Refused before sending (cluster.exe: a group name cmd.exe quoting cannot
                # carry, see ClusterExeDialect.check_drain): retrying cannot help, and the node
                # was not paused. Stop at once naming the group.
                on = [g.name for g in self.cluster.snapshot().groups_on(n)]
                named = [g for g in on if repr(g) in str(exc) or f'"{g}"' in str(exc)]
                raise _Stop(f"will not drain {n}: {exc}. Nothing was sent; {n} was not paused"
                            " and still owns its groups" + (f" ({', '.join(on)})" if on else "")
                            + ". Rename the group (or move it off with the cluster's own tools),"
                            " then resume.", node=n, group=named[0] if named else None,
                            phase="drain") from exc
        if caps.drain:
            try:
                info = self._wait(lambda: self._node(n),
                                  lambda x: x.drain_status is not DrainStatus.InProgress
                                  or x.state in _OUT, self.options.drain_timeout,
                                  f"drain of {n}")
            except WaitTimeout as exc:
                raise _DrainTrouble(str(exc)) from exc
            if info.state in _OUT:
                raise _DrainTrouble(f"{n} went {info.state.name} during the drain (crashed?);"
                                    " the cluster failed its groups over")
            if info.drain_status is DrainStatus.Failed or info.state is not NodeState.Paused:
                left = [g.name for g in self.cluster.snapshot().groups_on(n) if not g.is_core]
                raise _DrainTrouble(f"the cluster's drain of {n} failed (node {info.state.name},"
                                    f" drain {info.drain_status.name}); still on it:"
                                    f" {', '.join(left) or 'nothing'}",
                                    group=left[0] if left else None)
        # Whatever the cluster did not move (the core group; every group where the cluster
        # cannot drain) clusterlib moves, trying each candidate node in turn.
        snap = self._snap()
        targets, stuck = evacuation_plan(snap, n)
        if stuck:
            raise _Stop(f"cannot finish draining {n}: no other Up node may own"
                        f" {', '.join(stuck)}", node=n, group=stuck[0], phase="drain")
        for gname in targets:
            self._move_somewhere(snap, gname, n)

    def _move_somewhere(self, snap: ClusterSnapshot, gname: str, away_from: str) -> None:
        """Move ``gname`` off ``away_from`` to the best candidate in ``snap`` that takes it."""
        tried: list[str] = []
        last = ""
        g = snap.group(gname)
        while True:
            candidates = candidate_nodes(snap, g, exclude=[away_from, *tried])
            if not candidates:
                raise _MoveFailed(f"no node would take {gname} off {away_from}"
                                  + (f" (tried {', '.join(tried)}: {last})" if tried else ""),
                                  gname)
            try:
                self._move(gname, candidates[0], "drain", known=g)
                return
            except _MoveFailed as exc:
                tried.append(candidates[0])
                last = str(exc)

    # ---- phase: action ----

    def _do_action(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        assert n is not None and self.action is not None and self._journal is not None
        info = self._node(n)
        if self._upgraded(n, info):
            return "already", f"{n} already runs {info.highest_version}; not upgraded again"
        unconfirmed = self._journal.body.setdefault("action_unconfirmed", {})
        if n in unconfirmed:
            if n.lower() not in self._resend:
                # An earlier attempt may have started the installer: never send it again.
                return self._await_evidence(n, unconfirmed[n]["error"])
            self._journal.body["audit"].append({
                "text": f"upgrade action sent again on {n} at the operator's word (resend_action)",
                "at": utc_now()})
            del unconfirmed[n]
            self._resend.discard(n.lower())  # once per session
        if info.state in _OUT:
            if resumed:
                return "done", f"{n} is {info.state.name}: the action is already under way"
            raise _Stop(f"{n} is {info.state.name} before the upgrade action", node=n,
                        phase="action")
        if info.state is NodeState.Up:
            # Someone (or a crash and rejoin) resumed it since the drain: drain again first.
            self._warn(f"{n} was Up again before the action; draining it again", node=n,
                       phase="action")
            self._do_drain(step, resumed)
        # The interlock: never start an upgrade on a node that owns a group, nor while a group
        # Online at the start is down (its recovery may need this node).
        snap = self._snap()
        self._check_availability(step, snap)
        owned = snap.groups_on(n)
        if owned:
            raise _Stop(f"refusing to start the upgrade action on {n}: it still owns"
                        f" {', '.join(g.name for g in owned)}", node=n, group=owned[0].name,
                        phase="action")
        if isinstance(self.action, ManualAction):
            self.action.timeout = self.options.action_timeout
        if self._pre_update is not None:
            self._run_hook(self._pre_update, n, "action")
        attempts = 1 + self.options.retries_per_node
        for attempt in range(1, attempts + 1):
            # Recorded before it is sent: from here on the node may be mid-upgrade.
            self._journal.body.setdefault("action_sent", {})[n] = utc_now()
            self._save()
            self._resend.discard(n.lower())  # resend_action means once, never after a send
            try:
                self.action.run(n, self.cluster, _Context(self, n))
                return "done", self.action.describe(n)
            except ActionUnconfirmed as exc:
                unconfirmed[n] = {"at": utc_now(), "error": str(exc)}
                self._save()
                return self._await_evidence(n, str(exc))
            except ActionFailed as exc:
                now = self._node(n)
                if now.state in _OUT:
                    self._warn(f"the action reported failure but {n} is restarting: {exc}",
                               node=n, phase="action")
                    return "done", f"action reported failure; {n} is restarting"
                if attempt == attempts:
                    raise _NodeFailed(f"upgrade action failed on {n} after {attempts} attempt(s):"
                                      f" {exc}") from exc
                self._note_retry(n, "action", attempt, str(exc))
        raise AssertionError("unreachable")

    def _await_evidence(self, n: str, why: str) -> tuple[str, str]:
        """The action's start on ``n`` can be neither confirmed nor ruled out. Wait, bounded by
        ``reboot_timeout``, for evidence that it started (``n`` going down, or already on a new
        version); without it, stop for an operator. Never send the action again."""
        try:
            info = self._wait(lambda: self._node(n),
                              lambda x: x.state in _OUT or self._changed(n, x),
                              self.options.reboot_timeout, f"evidence that the upgrade of {n}"
                              " started")
        except WaitTimeout as exc:
            raise _Stop(f"{why}. {n} did not restart and runs the same version"
                        f" {self.options.reboot_timeout:g}s later. The upgrade action was NOT"
                        " sent again: a second installer on a node mid-upgrade can break it."
                        f" {n} is paused and owns no group. Check {n}: if the installer runs,"
                        " let it finish and resume; if it never started, resume with"
                        f" resend_action=[{n!r}].", node=n, phase="action") from exc
        return "done", (f"start unconfirmed ({why}), but {n} is"
                        f" {info.state.name} on {info.highest_version}: it started")

    # ---- phase: reboot ----

    def _do_reboot(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        assert n is not None and self.action is not None and self._journal is not None
        info = self._node(n)
        if (n.lower() in self._resend and info.state in _BACK and not self._changed(n, info)
                and not self._snap().groups_on(n)):
            # The operator checked that the installer sent earlier is not running (it failed
            # where its exit code cannot be read, e.g. through WMI): send it once more.
            self._journal.body.setdefault("action_unconfirmed", {})[n] = {
                "at": utc_now(), "error": "the operator asked to send the action again"}
            self._do_action(Step(id=f"{n}:action", kind="action", node=n, description=""), False)
            info = self._node(n)
        # Only evidence counts as "went down": the node out now, or already on a new version.
        # A resumed step is not evidence: after a crash the installer may still be copying
        # files with the node Up (its install window), and its restart is yet to come. Setup's
        # own restarts keep the node Down (the cluster service does not run), so a node seen
        # down and back is at the end of the install; verify then checks its version. A node
        # this very read sees out counts as seen going down: it may be back before the next poll.
        seen_down = ((not self.action.reboots) or info.state in _OUT
                     or self._changed(n, info))
        info = self._wait_back(n, seen_down=seen_down)
        return "done", f"{n} is back ({info.state.name})"

    def _wait_back(self, n: str, *, seen_down: bool) -> NodeInfo:
        """Wait, bounded, for ``n`` to go down (unless already seen) and return Paused or Up.
        Stops early when the node came back with versions the cluster refuses (join refused)."""
        state: dict[str, Any] = {"down": seen_down, "joining_at": None}
        failure: list[str] = []
        scale = self.cluster.time_scale

        def done(info: NodeInfo) -> bool:
            if info.state in _OUT:
                state["down"] = True
            if info.state is NodeState.Joining and state["joining_at"] is None:
                state["joining_at"] = time.monotonic()
            return bool(state["down"]) and info.state in _BACK

        def failed(info: NodeInfo) -> str | None:
            joining_at = state["joining_at"]
            if isinstance(joining_at, float) and info.state is NodeState.Joining and (
                    time.monotonic() - joining_at) * scale > self.options.rejoin_timeout:
                failure.append(f"{n} has been Joining for more than"
                               f" {self.options.rejoin_timeout:g}s")
                return failure[-1]
            # Down with versions the join rule refuses: refused, once we saw it try to join
            # (Joining, then Down again), or once that has lasted the rejoin timeout; a node
            # still rebooting into a fixed install also looks like this for a while.
            if info.state is NodeState.Down and self._incompatible(n, info):
                since = state.get("incompatible_at") or time.monotonic()
                state["incompatible_at"] = since
                if state["joining_at"] is not None or (
                        time.monotonic() - since) * scale >= self.options.rejoin_timeout:
                    failure.append(self._join_refused_text(n, info))
                    return failure[-1]
            else:
                state["incompatible_at"] = None
            return None

        try:
            return self._wait(lambda: self._node(n), done, self.options.reboot_timeout,
                              f"{n} to come back", failed=failed)
        except WaitTimeout as exc:
            if failure:
                raise _Stop(failure[-1], node=n, phase="reboot") from exc
            last = self._node(n)
            raise _Stop(f"{n} did not come back within {self.options.reboot_timeout:g}s after"
                        f" the upgrade action (last seen {last.state.name}"
                        f"{'' if state['down'] else ', never seen going down'}). It owns no group"
                        " and every group runs on the other nodes. Once it is back (Paused), run"
                        " RollingUpgrade.resume with the journal."
                        + ("" if state["down"] else
                           " The installer was not sent again. If it failed or never ran (an"
                           " exit code started through WMI cannot be read), resume with"
                           f" resend_action=[{n!r}]."), node=n, phase="reboot") from exc

    def _incompatible(self, n: str, info: NodeInfo) -> bool:
        if info.highest_version is None or str(info.highest_version) == self._before(n).get(
                "highest"):
            return False
        from clusterlib.upgrade.options import TargetVersion

        target = TargetVersion(info.highest_version, info.lowest_version)
        active = [x for x in self.cluster.snapshot().nodes
                  if not _same(x.name, n) and x.state in _BACK]
        ok, _why = join_verdict(target, active)
        return ok is False

    def _join_refused_text(self, n: str, info: NodeInfo) -> str:
        from clusterlib.upgrade.options import TargetVersion

        active = [x for x in self.cluster.snapshot().nodes
                  if not _same(x.name, n) and x.state in _BACK]
        _ok, why = join_verdict(TargetVersion(info.highest_version or "0.0",
                                              info.lowest_version), active)
        return (f"{n} came back running cluster service {info.highest_version} (lowest"
                f" {info.lowest_version}, OS {info.os_version}) and the cluster refuses its join"
                f" (Win32 5075 ERROR_CLUSTER_INCOMPATIBLE_VERSIONS; {why}). It owns no group;"
                " install a compatible version on it, then resume with the journal.")

    # ---- phase: verify ----

    def _do_verify(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        assert n is not None and self._journal is not None
        info = self._node(n)
        if info.state not in _BACK:
            raise _Stop(f"{n} is {info.state.name}; it must be back to verify it", node=n,
                        phase="verify")
        after = _versions(info)
        self._journal.body["nodes_after"][n] = after
        before = self._before(n)
        target = self.options.target
        if target is not None and not target.matches(info.highest_version, info.os_version):
            raise _NodeFailed(f"{n} came back running cluster service {info.highest_version}"
                              f" (OS {info.os_version}), expected {target}")
        if not self._changed(n, info):
            raise _Stop(f"{n} is back but still runs cluster service {after['highest']} (OS"
                        f" {after['os']}), as before the upgrade action: it is not upgraded, so"
                        " it is not resumed and no group moves onto it. It is paused and owns"
                        " no group. Check the installer, then resume with the journal.",
                        node=n, phase="verify")
        body = self._journal.body
        if target is None:
            adopted = body.get("adopted_target")
            if adopted is None:
                # Without an explicit target the first upgraded node sets it for the rest.
                body["adopted_target"] = {"highest": after["highest"], "lowest": after["lowest"],
                                          "os": after["os"], "from": n}
                self._warn(f"no target version was given: {n}'s new version {after['highest']}"
                           f" (OS {after['os']}) is the target for every other node", node=n,
                           phase="verify")
            elif (after["highest"], after["os"]) != (adopted["highest"], adopted["os"]):
                raise _NodeFailed(f"{n} came back running cluster service {after['highest']}"
                                  f" (OS {after['os']}), but {adopted['from']} was upgraded to"
                                  f" {adopted['highest']} (OS {adopted['os']}), the target of"
                                  " this run")
        if self._verify is not None:
            self._run_hook(self._verify, n, "verify")
        return "done", f"{before.get('highest')} -> {after['highest']} (OS {after['os']})"

    def _run_hook(self, hook: UpgradeAction, n: str, phase: str) -> None:
        """A pre-update or verification hook: a failure stops the run with ``n`` paused and
        drained (resumable: the hook runs again)."""
        try:
            hook.run(n, self.cluster, _Context(self, n))
        except ClusterError as exc:
            what = "pre-update command" if phase == "action" else "verification"
            raise _Stop(f"the {what} failed on {n}: {exc}. {n} is paused and owns no group;"
                        " fix it, then resume with the journal (the"
                        f" {what} runs again).", node=n, phase=phase) from exc

    # ---- phase: resume ----

    def _do_resume(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        assert n is not None
        info = self._node(n)
        if info.state is NodeState.Up:
            return "already", f"{n} is already Up"
        if info.state is not NodeState.Paused:
            raise _Stop(f"{n} is {info.state.name}; cannot resume it", node=n, phase="resume")
        self._resume_node(n)
        return "done", f"{n} resumed (no failback)"

    def _resume_node(self, n: str) -> None:
        d = self.cluster.commands
        d.execute(d.resume_command(n, failback="NoFailback"))
        self._wait(lambda: self._node(n), lambda x: x.state is NodeState.Up,
                   self.options.rejoin_timeout, f"resume of {n}")

    # ---- phase: failback (mode "each") ----

    def _do_failback(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        assert n is not None and self._journal is not None
        original = self._journal.body["original_placement"]
        snap = self._snap()
        moved = 0
        for g in snap.groups:
            if _same(original.get(g.name), n) and not _same(g.owner, n) and g.can_be_owned_by(n):
                try:
                    self._move(g.name, n, "failback", known=g)
                except _MoveFailed as exc:
                    raise _Stop(f"failback to {n}: {exc}", node=n, group=exc.group,
                                phase="failback") from exc
                moved += 1
        return "done", f"{moved} group(s) back on {n}"

    # ---- phase: validate ----

    def _do_validate(self, step: Step, resumed: bool) -> tuple[str, str]:
        n = step.node
        gname = step.group
        assert n is not None and gname is not None and self._journal is not None
        body = self._journal.body
        d = self.cluster.commands
        try:
            g = d.read_group(gname)
        except NotFound:
            self._warn(f"validation group {gname} no longer exists; validation skipped", node=n,
                       phase="validate")
            return "skipped", "validation group gone"
        in_flight = body["validation_in_flight"]
        home = in_flight["home"] if in_flight and in_flight.get("group") == gname else g.owner
        if home is None:
            return "skipped", f"{gname} has no owner"
        if in_flight and _same(g.owner, n) and not _same(home, n):
            # Resumed mid-validation: it reached the node; take it home, then validate again.
            self._move(gname, home, "validation")
        if g.state is not GroupState.Online and not in_flight:
            self._warn(f"validation group {gname} is {g.state.name}, not Online; validation"
                       " skipped", node=n, phase="validate")
            return "skipped", f"{gname} not Online"
        possible = self._owners.get(gname, ((), (), ()))[1]
        if possible and n.lower() not in {p.lower() for p in possible}:
            self._warn(f"{n} may not own {gname}; validation skipped", node=n, phase="validate")
            return "skipped", f"{n} is not a possible owner of {gname}"
        if _same(home, n):
            # It already lives here (failback "each"): validate by moving it away and back.
            snap = self._snap()
            other = candidate_nodes(snap, snap.group(gname), exclude=[n])
            if not other:
                return "skipped", f"no other node for {gname}"
            home, n_target = other[0], n
            first, second = home, n_target
        else:
            first, second = n, home
        body["validation_in_flight"] = {"node": n, "group": gname, "home": g.owner}
        self._save()
        try:
            self._move(gname, first, "validation")
        except _MoveFailed as exc:
            body["validation_in_flight"] = None
            where = d.read_group(gname)
            raise _Stop(f"validation move of {gname} to {first} failed: {exc}. {gname} is"
                        f" {where.state.name} on {where.owner}; {n} is upgraded, resumed and"
                        " owns no validation group. Fix it (or choose another validation group)"
                        " and resume.", node=n, group=gname, phase="validate") from exc
        try:
            self._move(gname, second, "validation")
        except _MoveFailed as exc:
            where = d.read_group(gname)
            raise _Stop(f"validation: {gname} could not return to {second}: {exc}. It is"
                        f" {where.state.name} on {where.owner}.", node=n, group=gname,
                        phase="validate") from exc
        body["validation_in_flight"] = None
        return "done", f"{gname} moved to {first} and back to {second}"

    # ---- cluster phases ----

    def _do_redistribute(self, step: Step, resumed: bool) -> tuple[str, str]:
        assert self._journal is not None
        original: dict[str, str | None] = self._journal.body["original_placement"]
        snap = self._snap()
        todo = [g for g in snap.groups
                if original.get(g.name) is not None and not _same(g.owner, original[g.name])]
        # Ordinary groups by priority (as a drain moves them), the core group last.
        todo.sort(key=lambda g: (g.is_core, -g.priority_or_default, g.name.lower()))
        failures: list[tuple[str, str]] = []
        moves: list[tuple[GroupInfo, str]] = []
        for g in todo:
            home = original[g.name]
            assert home is not None
            try:
                home_info = snap.node(home)
            except NotFound:
                self._warn(f"{g.name}'s original owner {home} is gone; left on {g.owner}")
                self._journal.body.setdefault("left_in_place", {})[g.name] = g.owner
                continue
            if home_info.state is not NodeState.Up:
                failures.append((g.name, f"its original owner {home} is {home_info.state.name}"))
                continue
            if not g.can_be_owned_by(home):
                self._warn(f"{home} may no longer own {g.name}; left on {g.owner}")
                self._journal.body.setdefault("left_in_place", {})[g.name] = g.owner
                continue
            moves.append((g, home))
        # The core group last, alone, after every other group is home.
        moved = self._move_all([m for m in moves if not m[0].is_core], failures)
        moved += self._move_all([m for m in moves if m[0].is_core], failures, width=1)
        if failures:
            text = "; ".join(f"{g}: {why}" for g, why in failures)
            raise _Stop(f"redistribution left {len(failures)} group(s) off their original owner"
                        f" ({text}). Every other group is back; every node is upgraded.",
                        group=failures[0][0], phase="redistribute")
        return "done", f"{moved} group(s) moved back to their original owners"

    def _move_all(self, moves: list[tuple[GroupInfo, str]], failures: list[tuple[str, str]],
                  width: int | None = None) -> int:
        """Move each group to its node, at most ``redistribute_parallelism`` at a time; returns
        how many arrived, adds (group, why) to ``failures`` for the others.

        Each move is fenced and sent with ``-Wait 0`` (Move-ClusterGroup returns at once), and
        the moves in flight are confirmed by one read of every group per poll. A group that goes
        Failed on its target is returned where it was (as ``_move`` does, same message); a move
        the cluster refuses at once, or one that outlasts ``policies.move_wait``, is handed to
        ``_move``, which re-reads the group (never re-sending a move under way) and retries.
        cluster.exe's ``/wait:0`` is not documented to return at once [U]: there, one at a time.
        """
        c = self.cluster
        d = c.commands
        width = width or self.options.redistribute_parallelism
        if width <= 1 or c.dialect == "clusterexe":
            return self._move_serially(moves, failures)
        queue = list(moves)
        flying: dict[str, tuple[GroupInfo, str, GroupState, float]] = {}
        handover: list[tuple[GroupInfo, str]] = []
        moved = 0
        limit = c.policies.move_wait.timeout / (c.time_scale or 1.0)
        while queue or flying:
            while queue and len(flying) < width:
                g, home = queue.pop(0)
                expected = (g.state if g.state in (GroupState.Online, GroupState.Offline,
                                                   GroupState.PartialOnline) else GroupState.Online)
                self._fence(before_move=True)
                try:
                    d.execute(d.move_command(g.name, home, wait=0))
                except ClusterError as refused:
                    if isinstance(refused, TransientClusterError):
                        # Busy, locked or moving: the handover below is its retry; record it
                        # as one, as the serial move does, so the report says it happened.
                        self._on_cluster_event("retry", {"group": g.name, "attempt": 1,
                                                         "error": refused})
                    handover.append((g, home))  # _move retries it, or says why it cannot
                    continue
                flying[g.name] = (g, home, expected, time.monotonic())
            if not flying:
                continue
            pause_between_polls(c.policies.move_wait, c.time_scale)
            now = {g.name: g for g in c.snapshot().groups}
            for name, (was, home, want, t0) in list(flying.items()):
                seen = now.get(name)
                there = seen is not None and _same(seen.owner, home)
                if seen is not None and there and seen.state is want:
                    del flying[name]
                    self._record_move(name, was.owner, home, want.name, 1,
                                      (time.monotonic() - t0) * c.time_scale, "redistribute")
                    moved += 1
                elif seen is not None and there and seen.state is GroupState.Failed:
                    del flying[name]
                    exc = Group(c, name).roll_back(was, home)
                    failures.append((name, self._move_failed(name, was, home, t0, exc,
                                                             "redistribute")))
                elif seen is None or time.monotonic() - t0 > limit:
                    del flying[name]
                    handover.append((was, home))
            if time.monotonic() - self._last_save > 1.0:
                # Moves are facts worth keeping, but not worth an fsync each.
                self._save()
        return moved + self._move_serially(handover, failures, fresh=True)

    def _move_serially(self, moves: list[tuple[GroupInfo, str]], failures: list[tuple[str, str]],
                       fresh: bool = False) -> int:
        """One move after another through ``_move``; ``fresh``: re-read each group first."""
        moved = 0
        for g, home in moves:
            try:
                self._move(g.name, home, "redistribute", known=None if fresh else g)
                moved += 1
            except _MoveFailed as exc:
                failures.append((g.name, str(exc)))
            if time.monotonic() - self._last_save > 1.0:
                self._save()
        return moved

    def _move_failed(self, group: str, before: GroupInfo, target: str, t0: float,
                     exc: ClusterError, purpose: str) -> str:
        """A move that ended badly: count the group's downtime, journal the move, say why."""
        now = self.cluster.commands.read_group(group)
        if now.state not in (GroupState.Online, GroupState.Pending):
            # Down since this move began (the availability section counts from here).
            self._down(group, time.time() - (time.monotonic() - t0), self._label,
                       now.state.name, now.owner)
        self._record_move(group, before.owner, target, f"failed; now {now.state.name} on"
                          f" {now.owner}", 1, (time.monotonic() - t0) * self.cluster.time_scale,
                          purpose)
        return f"moving {group} from {before.owner} to {target} failed: {exc}"

    def _do_functional_level(self, step: Step, resumed: bool) -> tuple[str, str]:
        assert self._journal is not None
        snap = self.cluster.snapshot()
        fl = self._journal.body["functional_level"]
        not_up = [f"{n.name} is {n.state.name}" for n in snap.nodes if n.state is not NodeState.Up]
        versions = {str(n.highest_version) for n in snap.nodes}
        if not_up or len(versions) > 1:
            raise _Stop("not raising the functional level: "
                        + ("; ".join(not_up) if not_up else
                           f"nodes run different versions ({', '.join(sorted(versions))})"),
                        phase="functional-level")
        after = self.cluster.update_functional_level()
        fl["after"] = after.functional_level
        if fl.get("before") == after.functional_level:
            return "already", f"functional level already {after.functional_level}"
        return "done", f"functional level {fl.get('before')} -> {after.functional_level}"

    # ---- resuming ----

    @classmethod
    def from_journal(cls, cluster: Cluster, *, journal: str | os.PathLike[str],
                     action: UpgradeAction | None = None,
                     on_event: Subscriber | None = None, pre_update: Any = None,
                     verify: Any = None, resend_action: Any = ()) -> RollingUpgrade:
        """The run recorded in ``journal``, ready to ``run()`` again (refuses a journal from
        another cluster, or a damaged or edited one). ``pre_update``/``verify``: the run's hooks
        when the journal cannot rebuild them (a callable). ``resend_action``: nodes on which you
        have checked that an unconfirmed upgrade action never started; only there is it sent
        again."""
        j = Journal.load(journal)
        body = j.body
        live = cluster.snapshot()
        if not _same(body["cluster"], live.name):
            raise JournalRejected(f"{journal}: this journal is for cluster {body['cluster']}, but"
                                  f" the connection is to cluster {live.name}; nothing was done")
        live_nodes = {n.name.lower() for n in live.nodes}
        unknown = [n for n in body["nodes_before"] if n.lower() not in live_nodes]
        if unknown:
            raise JournalRejected(f"{journal}: nodes {', '.join(unknown)} of the journal are not in"
                                  f" cluster {live.name}; nothing was done")
        try:
            options = UpgradeOptions.from_dict(body["options"])
        except (TypeError, ValueError, KeyError) as exc:
            raise JournalRejected(f"{journal}: unreadable options: {exc}") from exc
        if action is not None:
            # The action a resume runs is the one the caller means, never just what the file says.
            check_action(body["action"], action.to_dict(), str(journal))
        act = action or action_from_dict(body["action"])
        pending_actions = [s for s in body["steps"]
                           if s["kind"] == "action" and s["status"] not in ("done", "skipped")]
        if act is None and pending_actions:
            raise JournalRejected(
                f"{journal}: the run's action ({body['action'].get('kind')}) cannot be rebuilt"
                " from the journal (code, a person, or a secret command line); pass action=")
        hooks = body.get("hooks") or {}
        rebuilt: dict[str, Any] = {"pre_update": pre_update, "verify": verify}
        for name, given in rebuilt.items():
            saved = hooks.get(name)
            if given is None and saved:
                rebuilt[name] = action_from_dict(saved)
                if rebuilt[name] is None:
                    raise JournalRejected(
                        f"{journal}: the run's {name} hook ({saved.get('kind')}"
                        f" {saved.get('name') or ''}) cannot be rebuilt from the journal (code or"
                        f" a secret); pass {name}= to resume")
        self = cls(cluster, act, journal=j.path, options=options, on_event=on_event,
                   pre_update=rebuilt["pre_update"], verify=rebuilt["verify"])
        self._resend = {str(n).lower() for n in resend_action}
        self._run_id = body["run_id"]
        self._journal = j
        self._resumed = True
        return self

    @overload
    @classmethod
    def resume(cls, cluster: Cluster, *, journal: str | os.PathLike[str],
               action: UpgradeAction | None = None, on_event: Subscriber | None = None,
               pre_update: Any = None, verify: Any = None, resend_action: Any = (),
               run: Literal[False, None] = None) -> RollingUpgrade: ...

    @overload
    @classmethod
    def resume(cls, cluster: Cluster, *, journal: str | os.PathLike[str],
               action: UpgradeAction | None = None, on_event: Subscriber | None = None,
               pre_update: Any = None, verify: Any = None, resend_action: Any = (),
               run: Literal[True]) -> Report: ...

    @classmethod
    def resume(cls, cluster: Cluster, *, journal: str | os.PathLike[str],
               action: UpgradeAction | None = None,
               on_event: Subscriber | None = None, pre_update: Any = None,
               verify: Any = None, resend_action: Any = (),
               run: bool | None = None) -> RollingUpgrade | Report:
        """The run recorded in ``journal``, ready to ``.subscribe()`` to and ``.run()``: the
        same shape as ``RollingUpgrade(...)`` (``RollingUpgrade.resume(cluster,
        journal=path).run()`` continues from the first unfinished step, re-checking the live
        cluster at every step and redoing a node whose recorded upgrade the live versions
        contradict; it returns the Report or raises UpgradeStopped again).

        ``run=True`` is the old shape (it runs at once and returns the Report); it still works
        but is deprecated (DeprecationWarning) and will be removed."""
        upgrade = cls.from_journal(cluster, journal=journal, action=action, on_event=on_event,
                                   pre_update=pre_update, verify=verify,
                                   resend_action=resend_action)
        if run:
            warnings.warn("RollingUpgrade.resume(..., run=True) is deprecated: call"
                          " RollingUpgrade.resume(...).run(), which returns the same Report",
                          DeprecationWarning, stacklevel=2)
            return upgrade.run()
        return upgrade


class _DrainTrouble(Exception):
    def __init__(self, message: str, group: str | None = None) -> None:
        super().__init__(message)
        self.group = group


def break_lock(cluster: Cluster, *, reason: str, journal: str | os.PathLike[str] | None = None,
               on_event: Subscriber | None = None) -> locks.LockInfo | None:
    """Remove a stale upgrade lock, with an audit trail (see ``clusterlib.upgrade.lock``)."""
    return locks.break_lock(cluster, reason=reason, journal=journal, on_event=on_event)


def _clusterlib_version() -> str:
    """The running clusterlib's version, recorded in the journal for the report's header."""
    from clusterlib import __version__

    return __version__
