"""The rolling-upgrade engine: the loop that runs a plan's steps against the journal, stops safely, resumes.

Start (or reopen), then per step: fence, availability check, run the phase, mark it; finish.

Per node: drain -> action -> reboot -> verify -> resume -> [failback] -> validate; then
redistribute and, only when asked, raise the functional level. The phases are plain functions
in ``clusterlib.upgrade.phases`` (``PHASES``: step kind -> function), sharing one
``context.RunContext``. Every phase is written to the journal before it starts and after it
ends, and every phase re-reads the live cluster before it acts, so a resume never trusts the
journal's word about the cluster: a node already upgraded is not upgraded again, a node left
paused is resumed, a group left on the wrong node is moved back.

Truth rules: every group Online at the start is checked at every step boundary (the version
check right after a reboot wait, which sends and writes nothing, shares the resume's; see
``_quiet``) and on the read each upgrade action decides on, and recovered or the run stops
(``availability.check``); an installer whose start cannot be ruled out is never sent again
(``nodewatch.await_evidence``); a node counts as upgraded only on the target version (explicit,
or adopted from the first upgraded node); the run ends with a final check
(``availability.final_check``), and says "completed" only when nothing differs and no group was
down beyond its moves ("degraded", "incomplete" or a stop otherwise). See docs/rolling-upgrade.md.

Reads are deliberately few: one round trip per step boundary (snapshot and lock listing), an
action and the read that follows it in one pipeline where the dialect can (the pause and the
snapshot after it, the resume and the node, a validation move and its confirming read), and a
phase decides on its boundary's read when nothing came between (tests/upgrade/
test_critical_path.py pins the counts). Possible and preferred owners are read once per run
(they cost one large round trip: Get-ClusterOwnerNode over every group and resource) and merged
into the plain snapshots the phases take; moves go through the same retrying, rolling-back move
the Group handle uses, without its two full snapshots per move. That keeps a 400-group
redistribution bounded by the cluster's own move time, not by reads.
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
from typing import Any, Literal, overload

from clusterlib.cluster import Cluster
from clusterlib.errors import ClusterError, NotFound
from clusterlib.model import ClusterSnapshot, GroupState, NodeState
from clusterlib.upgrade import availability, downtime, moves, nodewatch, resume
from clusterlib.upgrade import lock as locks
from clusterlib.upgrade.actions import ManualAction, UpgradeAction, as_hook
from clusterlib.upgrade.context import JournalFailed, NodeFailed, RunContext, Stop, same, versions_of
from clusterlib.upgrade.errors import JournalRejected, LockLost, PreflightFailed, UpgradeStopped
from clusterlib.upgrade.events import (
    CheckFinished,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
    Subscriber,
    utc_now,
)
from clusterlib.upgrade.journal import Journal
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.phases import PHASES, PhaseFn, PhaseResult
from clusterlib.upgrade.plan import Plan, Step, build_steps
from clusterlib.upgrade.preflight import CheckResult, resolve_order, run_checks
from clusterlib.upgrade.report import Report
from clusterlib.upgrade.state import Endpoint, Hooks, RunState, StepRecord, StopPoint

log = logging.getLogger("clusterlib.upgrade")


def _action_problem(action: UpgradeAction, cluster: Cluster,
                    snapshot: ClusterSnapshot) -> str | None:
    """``action.problem(cluster)``, with the plan's snapshot for an action that takes one (the
    built-in ones check every node); a custom action's one-argument problem() still works."""
    try:
        takes = "snapshot" in inspect.signature(action.problem).parameters
    except (TypeError, ValueError):
        takes = False
    return action.problem(cluster, snapshot=snapshot) if takes else action.problem(cluster)  # type: ignore[call-arg]


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


def _first_state(run: RunContext, snapshot: ClusterSnapshot, plan: Plan) -> RunState:
    """A new run's recorded state: what the run starts from, its plan, every step pending."""
    assert run.action is not None
    return RunState(
        run_id=run.run_id, cluster=snapshot.name,
        endpoint=Endpoint(**endpoint_of(run.cluster)), created=utc_now(), updated=utc_now(),
        owner=locks.whoami(), pid=os.getpid(), clusterlib_version=_clusterlib_version(),
        options=run.options.to_dict(), action=run.action.to_dict(),
        original_placement=snapshot.placement(),
        original_states={g.name: g.state.name for g in snapshot.groups},
        nodes_before={n.name: versions_of(n) for n in snapshot.nodes},
        nodes_after={}, plan=plan.to_dict(),
        steps=[resume.pending_record(s.id, s.kind, s.node, s.group) for s in plan.steps],
        moves=[], retries=[], warnings=[], audit=[], failed_nodes=[],
        outcome=None, message="started", stopped_at=None, validation_in_flight=None,
        functional_level={"before": snapshot.functional_level}, final_placement={},
        # Downtime of each group Online at the start (see availability.check), the target
        # adopted from the first upgraded node when none was given, steps added on resume.
        availability={}, adopted_target=None, extra_steps=[], action_unconfirmed={},
        hooks=Hooks(pre_update=run.pre_update.to_dict() if run.pre_update else None,
                    verify=run.verify.to_dict() if run.verify else None))


_BOUNDARY = {"action": "{n} is paused and owns no group; its upgrade has not started",
             "reboot": "{n} is restarting after its upgrade action",
             "verify": "{n} is back (paused) and owns no group",
             "resume": "{n} is upgraded and still paused"}


def _boundary_text(step: Step) -> str:
    """The state the cluster is in at the boundary before ``step``, in words."""
    n = step.node
    if n is None or step.kind == "drain":
        return "no node is out of the cluster"
    return _BOUNDARY.get(step.kind, "{n} is upgraded and resumed").format(n=n)


def plan_of(run: RunContext, snapshot: ClusterSnapshot, resuming: bool = False) -> Plan:
    """The plan and its preflight results from ``snapshot``; nothing is changed."""
    cluster, opts, action = run.cluster, run.options, run.action
    try:
        order = resolve_order(snapshot, opts)
        order_error = None
    except NotFound as exc:
        order, order_error = (), str(exc)
    checks = _checks(run, snapshot, order, resuming)
    if order_error is not None:
        checks = [CheckResult("node-order", False, order_error),
                  *[c for c in checks if c.name != "node-order"]]
    steps = build_steps(snapshot, opts, order, cluster.dialect, action,
                        move_wait=int(cluster.policies.move_wait.timeout)) if order else ()
    return Plan(cluster=snapshot.name, dialect=cluster.dialect_name, order=tuple(order),
                steps=steps, checks=tuple(checks), options=opts.to_dict(),
                action=action.describe("<node>") if action else "(none)",
                original_placement=snapshot.placement())


def _checks(run: RunContext, snapshot: ClusterSnapshot, order: Any,
            resuming: bool) -> list[CheckResult]:
    """The preflight checks of a plan (preflight.run_checks), with the lock and the action's
    problem read here."""
    cluster = run.cluster
    lock_info = None
    lock_error = None
    try:
        lock_info = locks.read_lock(cluster)
    except ClusterError as exc:
        lock_error = f"cannot read the upgrade lock: {exc}"
    problem = "no upgrade action given" if run.action is None else _action_problem(
        run.action, cluster, snapshot)
    caps = cluster.capabilities
    return run_checks(snapshot, run.options, order=order, lock=lock_info,
                      lock_error=lock_error, run_id=run.run_id, action_problem=problem,
                      functional_level_supported=caps.functional_level,
                      resuming=resuming, force_drain_switch=caps.force_drain)


def _completion_message(state: RunState) -> str:
    failed = state.failed_nodes
    done = [n for n in state.plan["order"] if n not in failed]
    if not done and not failed:
        return "nothing to upgrade: every node already runs the target (checked live)"
    text = f"upgraded {len(done)} node(s): {', '.join(done)}"
    if failed:
        text += f"; FAILED (within max_failed_nodes): {', '.join(failed)}"
    return text


def _finish(run: RunContext, outcome: str, message: str, *, node: str | None = None,
            group: str | None = None, phase: str | None = None,
            snap: ClusterSnapshot | None = None) -> None:
    """Record the run's outcome and the cluster's final state (``snap``: read a moment ago by
    the final check; else read here), and save."""
    state = run.state
    state.outcome = outcome
    state.message = message
    state.stopped_at = (StopPoint(node=node, group=group, phase=phase)
                        if outcome == "stopped" else None)
    try:
        snap = snap if snap is not None else run.cluster.snapshot()
        state.final_placement = snap.placement()
        if outcome == "stopped" and run.options.drain_ahead:
            # Groups moved off the next node ahead of its turn are still where they went.
            note = moves.ahead_note(run, snap)
            if note and note not in state.message:
                state.message = f"{message} {note}"
        for n in snap.nodes:
            if n.name in state.nodes_after or outcome == "completed":
                state.nodes_after[n.name] = versions_of(n)
        state.functional_level["final"] = snap.functional_level
        offline = [g.name for g in snap.groups
                   if g.state is not GroupState.Online
                   and state.original_states.get(g.name) == "Online"]
        if offline:
            run.warn("groups Online at the start are not Online now: " + ", ".join(offline))
    except ClusterError as exc:
        run.warn(f"could not read the final state: {exc}")
    try:
        run.save()
    except JournalFailed as exc:
        # The in-memory report still tells the truth; the message names the journal.
        if exc.message not in state.message:
            state.message = f"{state.message} ({exc.message})"


#: Step kinds whose "running" is written by the phase itself, right before it first sends
#: anything (``RunContext.save_before_send``; the upgrade action: with the record that it is
#: sent; the drain: right before the pause), so that the step boundary's read is as recent at
#: the send as a read of its own, and serves as the phase's decision read (the drain's "only
#: one node out" and quorum, the action's interlock).
_WRITTEN_BEFORE_SEND = frozenset({"action", "drain"})


def _begin(run: RunContext, step: Step, rec: StepRecord, quiet: bool = False) -> bool:
    """Journal the step as running (its "before"; for a step written before its send, or a
    quiet one, by the phase or the next step); returns whether an earlier session started
    it."""
    run.current = (step.node, step.kind)
    resumed_step = rec.status in ("running", "failed")
    prior = (rec.status, rec.attempts, rec.started)
    run.prior_status = rec.status
    rec.status = "running"
    rec.attempts += 1
    rec.started = rec.started or utc_now()
    run.label = f"{step.node} {step.kind}" if step.node else step.kind
    if quiet or step.kind in _WRITTEN_BEFORE_SEND:
        run.unsaved = True  # the phase writes it with its first send's record (write-ahead)
        run.emit(PhaseStarted(run_id=run.run_id, node=step.node, phase=step.kind, step=step.id,
                              timeout=_phase_timeout(run, step.kind), message=step.description))
        return resumed_step
    try:
        run.save()  # before (and the previous step's after)
    except JournalFailed:
        # The step never started: the report must not say it ran.
        rec.status, rec.attempts, rec.started = prior
        raise
    run.emit(PhaseStarted(run_id=run.run_id, node=step.node, phase=step.kind, step=step.id,
                          timeout=_phase_timeout(run, step.kind), message=step.description))
    return resumed_step


def _close(run: RunContext, step: Step, rec: StepRecord, t0: float, resumed_step: bool,
           result: PhaseResult) -> None:
    """Mark the step's end. "already": the live cluster shows the step's work done. If an
    earlier session started this step, it ran there; otherwise it was skipped as already
    done."""
    status, message = result
    if status == "already":
        status, rec.result = (("done", "ran") if resumed_step else ("skipped", "already done"))
    else:
        rec.result = {"done": "ran"}.get(status, status)
    seconds = (time.monotonic() - t0) * run.cluster.time_scale
    rec.seconds = round((rec.seconds or 0.0) + seconds, 3)
    # "After" is written together with the next step's "before" (or the run's end): nothing
    # reaches the cluster in between, and a crash before that write only means this step is
    # checked again on resume.
    run.mark(rec, status, message, save=False)
    run.emit(PhaseFinished(run_id=run.run_id, node=step.node, phase=step.kind, step=step.id,
                           status=status, seconds=seconds, message=message or status))


def _call(run: RunContext, phase: PhaseFn, step: Step, resumed: bool,
          quiet: bool = False) -> PhaseResult:
    read, run.boundary_read = run.boundary_read, None
    try:
        result = phase(run, step, resumed)
    except LockLost:
        raise
    except (NodeFailed, Stop, ClusterError):
        if quiet:
            # A quiet step was not fenced; what follows a failure sends or writes (a failed
            # node is resumed, the stop is journaled): only while the lock holds, read now.
            run.fence()
        raise
    finally:
        run.boundary, run.boundary_fenced = None, False  # they served this step only
    if read is not None and _read_only(run, step, result):
        run.carry = read  # the next boundary may start from it (availability.check)
    return result


def _quiet(run: RunContext, step: Step) -> bool:
    """Whether ``step`` starts with no boundary read, no fence and no journal write of its
    own: the version check without a verify hook, right after the reboot wait of its node
    ended in this session (under ``lock.FENCE_INTERVAL`` ago). It sends nothing and writes
    nothing; it decides on the reboot wait's last read of the node, which shows it back with
    its versions (``RunContext.back``). The availability check, the fence and the journal's
    write come at the next boundary (the resume), before anything is sent."""
    back = run.back
    return (step.kind == "verify" and run.verify is None and back is not None
            and run.current == (step.node, "reboot") and same(back[0], step.node)
            and time.monotonic() - back[2] < locks.FENCE_INTERVAL)


def _read_only(run: RunContext, step: Step, result: PhaseResult) -> bool:
    """Whether ``step`` only read the cluster (sent nothing, waited for nothing): the
    version check without a verify hook, a resume of a node already Up, a drain of a node
    already paused and empty."""
    return ((step.kind == "verify" and run.verify is None and result.status == "done")
            or (step.kind in ("resume", "drain") and result.status == "already"))


def _phase_timeout(run: RunContext, kind: str) -> float | None:
    o = run.options
    return {"drain": o.drain_timeout, "reboot": o.reboot_timeout, "resume": o.rejoin_timeout,
            "action": o.action_timeout if isinstance(run.action, ManualAction) else None,
            }.get(kind)


def _node_failed(run: RunContext, step: Step, message: str) -> None:
    """A node failed but came back: count it, and either stop or make it useful again."""
    assert step.node is not None
    state = run.state
    failures = len(state.failed_nodes) + 1
    most = run.options.max_failed_nodes
    if failures > most:
        raise Stop(f"{message}. {step.node} is left paused and drained; no further node was"
                   f" touched (max_failed_nodes={most}).", node=step.node, phase=step.kind)
    state.failed_nodes.append(step.node)
    run.warn(f"{message}; continuing ({failures} of max {most} failed nodes)", node=step.node,
             phase=step.kind)
    if run.node(step.node).state is NodeState.Paused:
        nodewatch.resume_node(run, step.node)
    for rec in state.steps:
        if rec.node == step.node and rec.status == "pending":
            rec.status = "skipped"
            rec.message = "node failed"
    run.save()


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
        if options is None:
            options = UpgradeOptions(**policies)
        elif policies:
            options = options.evolve(**policies)
        self.cluster = cluster
        self.journal_path = None if journal is None else Path(journal)
        # Hooks (CAU's pre-/post-update scripts): a command line, a RemoteCommand, a
        # PowerShellAction or fn(node, cluster) raising to fail. pre_update runs on the drained
        # node right before the action; verify after the version check, before the node is
        # resumed and the validation move. Either failing stops with the node paused and empty.
        self._ctx = RunContext(
            cluster, action, options, run_id=uuid.uuid4().hex[:12],
            pre_update=as_hook(pre_update if pre_update is not None else options.pre_update,
                               "pre_update"),
            verify=as_hook(verify if verify is not None else options.verify, "verify"))
        if on_event is not None:
            self._ctx.bus.subscribe(on_event)
        self._resumed = False
        self._stop_requested = False

    def __repr__(self) -> str:
        return (f"<RollingUpgrade {self.run_id} of {self.cluster!r}"
                f"{' (resumed)' if self._resumed else ''}>")

    @property
    def run_id(self) -> str:
        return self._ctx.run_id

    @property
    def action(self) -> UpgradeAction | None:
        return self._ctx.action

    @action.setter
    def action(self, value: UpgradeAction | None) -> None:
        self._ctx.action = value

    @property
    def options(self) -> UpgradeOptions:
        return self._ctx.options

    @options.setter
    def options(self, value: UpgradeOptions) -> None:
        self._ctx.options = value

    @property
    def _journal(self) -> Journal | None:
        return self._ctx.journal

    # ---- events and operator ----

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event)`` for every event; returns an unsubscribe function."""
        return self._ctx.bus.subscribe(fn)

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

    # ---- planning ----

    def plan(self) -> Plan:
        """The plan and its preflight results, from one snapshot; nothing is changed."""
        snapshot = self.cluster.snapshot(owners=True)
        return self._plan_from(snapshot)

    def preflight(self) -> tuple[Any, ...]:
        return self.plan().checks

    def _plan_from(self, snapshot: ClusterSnapshot, resuming: bool = False) -> Plan:
        return plan_of(self._ctx, snapshot, resuming)

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
        run = self._ctx
        snapshot = self.cluster.snapshot(owners=True)
        run.remember_owners(snapshot)
        plan = self._plan_from(snapshot)
        for c in plan.checks:
            run.emit(CheckFinished(run_id=self.run_id, phase="preflight", check=c.name,
                                   ok=c.ok, message=c.message))
        if not plan.ok:
            raise PreflightFailed(plan.failed_checks)
        assert self.action is not None  # the "action" check refuses a run without one
        if self.journal_path is None:
            log.warning("rolling upgrade %s runs without a journal: it cannot be resumed",
                        self.run_id)
        # Journal first, lock second: a crash in between leaves a journal whose resume takes the
        # lock, never a lock nobody can name.
        run.journal = Journal.create(self.journal_path, _first_state(run, snapshot, plan))
        if self.journal_path is None:
            run.warn("no journal file: this run cannot be resumed")
        try:
            run.lock = locks.acquire(self.cluster, self.run_id, snapshot.name)
        except ClusterError as exc:
            run.state.outcome = "refused"
            run.state.message = str(exc)
            run.journal.save()
            raise

    def _reopen(self) -> None:
        run = self._ctx
        assert run.journal is not None
        snapshot = self.cluster.snapshot(owners=True)
        run.remember_owners(snapshot)
        run.lock = locks.acquire(self.cluster, self.run_id, snapshot.name)
        resume.reopen(run, snapshot, Endpoint(**endpoint_of(self.cluster)))
        refused = resume.unbuildable(run)
        if refused is not None:
            try:
                run.journal.save()
            finally:
                locks.release(self.cluster, run.lock)
                run.lock = None
            raise JournalRejected(f"{run.journal.path}: {refused}")
        run.journal.save()
        run.label = "between sessions"  # downtime found at the first check fell there

    def _drive(self) -> Report:
        run = self._ctx
        started = time.monotonic()
        unsubscribe = self.cluster.subscribe(run.on_cluster_event)
        run.emit(RunStarted(run_id=self.run_id, cluster=run.state.cluster,
                            nodes=tuple(run.state.plan["order"]), resumed=self._resumed,
                            message=("resuming" if self._resumed else "starting")
                            + f" rolling upgrade of {run.state.cluster}"))
        try:
            # _reopen cleared any earlier outcome: every session ends with the final check.
            self._steps()
            self._conclude()
        except KeyboardInterrupt:
            self._interrupted(started)
            raise
        except LockLost:
            raise  # fenced out: write nothing (another holder owns the cluster and journal)
        except Stop as stop:
            # A journal that could not be written stays visible as the cause (ENOSPC, ...).
            raise self._stopped(stop, started) from (
                stop.__cause__ if isinstance(stop, JournalFailed) else None)
        except ClusterError as exc:
            raise self._failed(exc, started) from exc
        finally:
            unsubscribe()
            if run.lock is not None:
                locks.dormant(run.lock)  # a stopped run's resume in this process may take over
        locks.release(self.cluster, run.lock or self.run_id)
        report = self.report()
        run.emit(RunFinished(run_id=self.run_id, outcome=report.outcome,
                             seconds=time.monotonic() - started, message=report.message))
        return report

    def _steps(self) -> None:
        """Each step not yet done, in order: skipped when its node failed earlier, else fenced,
        preceded by the availability check, run, and marked."""
        run = self._ctx
        assert run.journal is not None
        state = run.state
        for raw in [*state.plan["steps"], *state.extra_steps]:
            step = Step.from_dict(raw)
            rec = state.step(step.id)
            if rec.status in ("done", "skipped"):
                continue
            if step.node is not None and step.node in state.failed_nodes:
                run.mark(rec, "skipped", f"{step.node} failed earlier in this run")
                rec.result = "skipped"
                continue
            if self._stop_requested:
                raise Stop(f"stopped on request before {step.id}; " + _boundary_text(step),
                           node=step.node, phase=step.kind)
            if _quiet(run, step):
                self._run_step(step, rec, quiet=True)
                continue
            run.back = None
            # The availability invariant, at every step boundary (see availability.check).
            availability.check(run, step)
            self._run_step(step, rec)

    def _conclude(self) -> None:
        """After the last step: the availability check, the final check, the outcome."""
        run = self._ctx
        availability.check(run, None)
        final = availability.final_check(run)
        excess = downtime.excess(run)
        message = _completion_message(run.state)
        if excess:
            text = "; ".join(f"{g} {s:.0f}s" for g, s in excess.items())
            run.warn(f"groups were down longer than their moves needed: {text}")
            message += f"; OUTAGE: groups were down beyond their moves ({text})"
        # Nodes that failed within max_failed_nodes are not upgraded: every step ran, but the
        # cluster is not where the run was to take it.
        _finish(self._ctx, "incomplete" if run.state.failed_nodes else
                "degraded" if excess else "completed", message, snap=final)

    def _stopped(self, stop: Stop, started: float) -> UpgradeStopped:
        """Record a stop; the UpgradeStopped to raise, carrying the report."""
        run = self._ctx
        assert run.journal is not None
        _finish(self._ctx, "stopped", stop.message, node=stop.node, group=stop.group, phase=stop.phase)
        report = self.report()
        run.emit(RunFinished(run_id=self.run_id, outcome="stopped", node=stop.node,
                             phase=stop.phase, seconds=time.monotonic() - started,
                             message=stop.message))
        return UpgradeStopped(stop.message, report=report, journal=run.journal.path,
                              node=stop.node, group=stop.group, phase=stop.phase)

    def _failed(self, exc: ClusterError, started: float) -> UpgradeStopped:
        """Record a stop on an unexpected cluster error; the UpgradeStopped to raise."""
        run = self._ctx
        assert run.journal is not None
        node, phase = run.current
        message = f"stopped on an unexpected error at {node or 'cluster'} {phase or ''}: {exc}"
        _finish(self._ctx, "stopped", message, node=node, phase=phase)
        run.emit(RunFinished(run_id=self.run_id, outcome="stopped", node=node, phase=phase,
                             seconds=time.monotonic() - started, message=message))
        return UpgradeStopped(message, report=self.report(), journal=run.journal.path,
                              node=node, phase=phase)

    def _interrupted(self, started: float) -> None:
        """Ctrl-C (or SIGTERM turned into one) mid-step: the journal records the step's real
        end before the interrupt leaves run(); the resume re-checks that step."""
        run = self._ctx
        node, phase = run.current
        message = (f"interrupted (Ctrl-C) during {phase or 'the run'}"
                   f"{' of ' + node if node else ''}; resume re-checks that step")
        for rec in run.state.steps:
            if rec.status == "running":
                rec.status = "failed"
                rec.result = "interrupted"
                rec.message = message
                rec.finished = utc_now()
        try:
            _finish(self._ctx, "stopped", message, node=node, phase=phase)
        except Exception as exc:  # never mask the interrupt itself
            log.warning("could not record the interrupted run: %s", exc)
        run.emit(RunFinished(run_id=self.run_id, outcome="stopped", node=node, phase=phase,
                             seconds=time.monotonic() - started, message=message))

    def report(self) -> Report:
        return self._ctx.report()

    # ---- one step ----

    def _run_step(self, step: Step, rec: StepRecord, quiet: bool = False) -> None:
        """Fence, journal the start, run the step's phase, journal how it ended. ``quiet``
        (see ``_quiet``): no fence and no journal write at its start."""
        run = self._ctx
        if not quiet:
            run.fence()
        phase = PHASES.get(step.kind)
        if phase is None:
            raise Stop(f"the journal's step {step.id} has the unknown kind {step.kind!r}"
                       f" (known: {', '.join(PHASES)}); nothing was done", node=step.node)
        label = run.label
        resumed_step = _begin(run, step, rec, quiet)
        if quiet:
            # It takes no time: what the next boundary finds happened during the step before.
            run.label = label
        t0 = time.monotonic()
        try:
            result = _call(run, phase, step, resumed_step, quiet)
        except NodeFailed as exc:
            _close(run, step, rec, t0, resumed_step, PhaseResult("failed", str(exc)))
            _node_failed(run, step, str(exc))
            return
        except Stop as stop:
            stop.node = stop.node or step.node
            stop.phase = stop.phase or step.kind
            _close(run, step, rec, t0, resumed_step, PhaseResult("failed", stop.message))
            raise
        except LockLost:
            raise
        except ClusterError as exc:
            _close(run, step, rec, t0, resumed_step, PhaseResult("failed", str(exc)))
            raise Stop(f"{step.kind} of {step.node or 'the cluster'} failed: {exc}",
                       node=step.node, phase=step.kind) from exc
        _close(run, step, rec, t0, resumed_step, result)

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
        options = resume.checked_options(cluster, j, journal)
        act = resume.rebuilt_action(j, action, journal)
        hooks = resume.rebuilt_hooks(j, journal, pre_update=pre_update, verify=verify)
        self = cls(cluster, act, journal=j.path, options=options, on_event=on_event,
                   pre_update=hooks["pre_update"], verify=hooks["verify"])
        self._ctx.resend = {str(n).lower() for n in resend_action}
        self._ctx.run_id = j.state.run_id
        self._ctx.journal = j
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


def break_lock(cluster: Cluster, *, reason: str, journal: str | os.PathLike[str] | None = None,
               on_event: Subscriber | None = None) -> locks.LockInfo | None:
    """Remove a stale upgrade lock, with an audit trail (see ``clusterlib.upgrade.lock``)."""
    return locks.break_lock(cluster, reason=reason, journal=journal, on_event=on_event)


def _clusterlib_version() -> str:
    """The running clusterlib's version, recorded in the journal for the report's header."""
    from clusterlib import __version__

    return __version__
