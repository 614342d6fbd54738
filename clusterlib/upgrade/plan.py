"""The inspectable plan: ordered steps, the exact commands they send, expected durations (= a dry run)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from clusterlib.errors import NotFound, NotSupported, PreconditionFailed
from clusterlib.model import ClusterSnapshot, GroupInfo
from clusterlib.upgrade.options import AUTO, UpgradeOptions
from clusterlib.upgrade.preflight import (
    CheckResult,
    NodeDrain,
    core_follows_upgraded,
    simulate_run,
    validation_group,
)

if TYPE_CHECKING:
    from clusterlib.dialects.base import Dialect
    from clusterlib.upgrade.actions import UpgradeAction

@frozen
class Step:
    """One step of the run. ``commands`` are the exact commands (``describe()`` of what the
    dialect builds); lines in parentheses are waits and reads, not commands."""

    id: str
    kind: str
    node: str | None
    description: str
    commands: tuple[str, ...] = ()
    expected_seconds: float = 0.0
    group: str | None = None
    predicted_moves: dict[str, str] = field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "node": self.node, "group": self.group,
                "description": self.description, "commands": list(self.commands),
                "expected_seconds": self.expected_seconds,
                "predicted_moves": dict(self.predicted_moves)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(id=data["id"], kind=data["kind"], node=data.get("node"),
                   description=data.get("description", ""), commands=tuple(data.get("commands", ())),
                   expected_seconds=float(data.get("expected_seconds", 0.0)),
                   group=data.get("group"), predicted_moves=dict(data.get("predicted_moves", {})))


@frozen
class Plan:
    cluster: str
    dialect: str
    order: tuple[str, ...]
    steps: tuple[Step, ...]
    checks: tuple[CheckResult, ...]
    options: dict[str, Any]
    action: str
    original_placement: dict[str, str | None]

    @property
    def ok(self) -> bool:
        """True when no preflight check blocks the run."""
        return not any(c.blocking for c in self.checks)

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.blocking)

    @property
    def expected_seconds(self) -> float:
        return sum(s.expected_seconds for s in self.steps)

    @property
    def order_policy(self) -> str:
        """How the order was chosen: "given" (``order=``), "node-id" or "fewest-groups-first"."""
        if self.options.get("order") is not None:
            return "given"
        return str(self.options.get("order_policy") or "node-id")

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "dialect": self.dialect, "order": list(self.order),
                "order_policy": self.order_policy, "ok": self.ok, "action": self.action,
                "options": self.options,
                "expected_seconds": self.expected_seconds,
                "checks": [c.to_dict() for c in self.checks],
                "steps": [s.to_dict() for s in self.steps],
                "original_placement": dict(self.original_placement)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        how = _ORDER_TEXT.get(self.order_policy, self.order_policy)
        lines = [f"Rolling upgrade plan for cluster {self.cluster} ({self.dialect})",
                 f"Order: {' -> '.join(self.order)} ({how})",
                 f"Action: {self.action}",
                 f"Expected duration: {_dur(self.expected_seconds)} (estimates)",
                 "", "Preflight:"]
        for c in self.checks:
            mark = "ok  " if c.ok else ("FAIL" if c.severity == "error" else "warn")
            lines.append(f"  [{mark}] {c.name}: {c.message}")
        lines += ["", "Steps:"]
        for i, s in enumerate(self.steps, 1):
            where = s.node or "cluster"
            lines.append(f"  {i:3d}. {where:<12} {s.kind:<16} ~{_dur(s.expected_seconds):>7}"
                         f"  {s.description}")
            for cmd in s.commands:
                lines.append(f"         {cmd}")
        if not self.ok:
            lines += ["", "NOT READY: " + "; ".join(c.name for c in self.failed_checks)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        e = html.escape
        checks = "".join(
            f"<tr><td>{e(c.name)}</td><td>{'✔' if c.ok else ('✖' if c.severity == 'error' else '⚠')}"
            f"</td><td>{e(c.message)}</td></tr>" for c in self.checks)
        steps = "".join(
            f"<tr><td>{i}</td><td>{e(s.node or 'cluster')}</td><td>{e(s.kind)}</td>"
            f"<td>{e(_dur(s.expected_seconds))}</td><td>{e(s.description)}"
            + "".join(f"<br><code>{e(c)}</code>" for c in s.commands) + "</td></tr>"
            for i, s in enumerate(self.steps, 1))
        return (f"<div><b>Rolling upgrade plan: {e(self.cluster)}</b> ({e(self.dialect)}),"
                f" order {e(' → '.join(self.order))}, {'ready' if self.ok else '<b>not ready</b>'}"
                f"<table><tr><th>check</th><th></th><th>result</th></tr>{checks}</table>"
                f"<table><tr><th>#</th><th>node</th><th>step</th><th>~time</th><th>what</th></tr>"
                f"{steps}</table></div>")


_ORDER_TEXT = {"given": "as given", "node-id": "order_policy node-id: node 1 first",
               "fewest-groups-first": "order_policy fewest-groups-first, as CAU does"}


def _dur(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


#: ``/wait`` seconds on every planned move command.
_WAIT = 300


@frozen
class _Planning:
    """What every step builder reads: one snapshot, the options, the dialect and the action."""

    snapshot: ClusterSnapshot
    options: UpgradeOptions
    order: tuple[str, ...]
    dialect: Dialect
    action: UpgradeAction | None
    original: dict[str, str | None]
    validation: GroupInfo | None  # the cluster-wide choice (None: no validation move)
    core_moves: bool  # 2016+ mixed-OS mode moves the core group to the first upgraded node
    move_wait: int = _WAIT  # the handles' move wait (Cluster.policies.move_wait), as sent
    # The core group and each node's original groups, found once: every node's steps read
    # them, and looking them up per node would scan every group once per node.
    core: GroupInfo | None = None
    homes: dict[str, list[str]] = field(factory=dict)

    def ahead_of(self, node: str) -> str | None:
        """With drain ahead, the node whose groups leave while ``node`` installs (the next in
        the order); None without it, for the last node, or on 3 nodes or fewer, where drain
        ahead does nothing (clusterlib.upgrade.moves.drain_ahead)."""
        if not self.options.drain_ahead or len(self.snapshot.nodes) < 4 or node not in self.order:
            return None
        i = self.order.index(node)
        return self.order[i + 1] if i + 1 < len(self.order) else None

    def move(self, group: str, node: str) -> str:
        try:
            return self.dialect.move_command(group, node, wait=self.move_wait).describe()
        except PreconditionFailed as exc:
            # A name the dialect cannot send (cluster.exe: UnsafeName). The plan still shows
            # the step; the run refuses it at the drain, before the pause (nothing sent).
            return f"(move {group!r} to {node!r} cannot be sent: {exc})"


def build_steps(snapshot: ClusterSnapshot, options: UpgradeOptions, order: Sequence[str],
                dialect: Dialect, action: UpgradeAction | None, *,
                move_wait: int = _WAIT) -> tuple[Step, ...]:
    """The steps for ``order`` with the commands ``dialect`` would send. Linear in groups: the
    predicted sequence comes from the snapshot's cache (preflight computed it already)."""
    core_moves = core_follows_upgraded(snapshot, options.target)
    drains, before_redistribution = simulate_run(snapshot, order,
                                                 failback_each=options.failback == "each",
                                                 core_to_first_upgraded=core_moves)
    try:
        base_vg = validation_group(snapshot, options)
    except NotFound:  # preflight reports it; the plan just has no validation step
        base_vg = None
    original = snapshot.placement()
    homes: dict[str, list[str]] = {}
    for g, o in original.items():
        homes.setdefault(o or "", []).append(g)
    ctx = _Planning(snapshot, options, tuple(order), dialect, action, original,
                    base_vg, core_moves, move_wait, snapshot.core_group, homes)
    steps: list[Step] = []
    for d in drains:
        steps += _node_steps(ctx, d)
    steps += _cluster_steps(ctx, before_redistribution)
    return tuple(steps)


def _node_steps(ctx: _Planning, d: NodeDrain) -> list[Step]:
    """One node's turn: drain, action, reboot, verify, resume, [failback], [validate]."""
    n, opts, est = d.node, ctx.options, ctx.options.estimates
    steps = [_drain_step(ctx, d), Step(
        id=f"{n}:action", kind="action", node=n,
        description="run the upgrade action (only once the node owns no group)",
        commands=(ctx.action.describe(n),) if ctx.action is not None else ("(no action given)",),
        expected_seconds=est.install)]
    reboots = ctx.action.reboots if ctx.action is not None else True
    core = ctx.core
    mixed_os = (f"; mixed-OS mode: the cluster moves its core group {core.name} to {n}"
                " (expected, not a failure)") if ctx.core_moves and core is not None \
        and n == ctx.order[0] else ""
    ahead = ctx.ahead_of(n)
    if ahead is not None:
        mixed_os += (f"; meanwhile (drain ahead) {ahead}'s groups move to other Up nodes, never"
                     f" {n}")
    steps.append(Step(
        id=f"{n}:reboot", kind="reboot", node=n,
        description=("wait for the node to go Down and rejoin (Joining -> Paused)" if reboots
                     else "wait for the node to be back (Paused or Up)") + mixed_os,
        commands=(f"(wait <= {opts.reboot_timeout:g}s for {n} Down then back;"
                  f" <= {opts.rejoin_timeout:g}s Joining -> Paused)",),
        expected_seconds=est.reboot + est.join if reboots else est.join))
    want = f"expect NodeHighestVersion {opts.target.highest}" if opts.target else \
        "record versions"
    steps.append(Step(id=f"{n}:verify", kind="verify", node=n,
                      description=f"read {n}'s versions: {want}",
                      commands=(f"(read {n} NodeHighestVersion/NodeLowestVersion)",)))
    steps.append(Step(id=f"{n}:resume", kind="resume", node=n,
                      description=f"resume {n} without failback",
                      commands=(ctx.dialect.resume_command(n, failback="NoFailback").describe(),),
                      expected_seconds=5.0))
    if opts.failback == "each":
        home = ctx.homes.get(n, [])
        steps.append(Step(
            id=f"{n}:failback", kind="failback", node=n,
            description=f"move {n}'s original groups back to it ({len(home)})",
            commands=tuple(ctx.move(g, n) for g in home), expected_seconds=len(home) * est.move))
    validate = _validate_step(ctx, d)
    return steps + ([validate] if validate is not None else [])


def _drain_step(ctx: _Planning, d: NodeDrain) -> Step:
    """Pause (with drain where the cluster has it) and the moves clusterlib makes itself."""
    n, est, caps = d.node, ctx.options.estimates, ctx.dialect.capabilities
    core_name = ctx.core.name if ctx.core is not None else None
    self_moved = {g: t for g, t in d.targets.items() if not caps.drain or g == core_name}
    batches = math.ceil(max(0, len(d.targets) - len(self_moved)) / max(1, est.drain_parallelism))
    try:
        commands = [(ctx.dialect.pause_command(n, drain=True, force=True)
                     if ctx.options.force_drain
                     else ctx.dialect.pause_command(n, drain=True)).describe()]
    except NotSupported as exc:  # the force-drain check refuses the run
        commands = [f"(cannot pause {n}: {exc})"]
    commands += [ctx.move(g, t) for g, t in self_moved.items()]
    commands.append(f"(confirm: {n} Paused and owns no group)")
    return Step(
        id=f"{n}:drain", kind="drain", node=n,
        description=f"pause {n} and move its {len(d.targets)} group(s) away"
        + (" (the cluster drains; clusterlib moves the core group)" if caps.drain
           else " (clusterlib moves each group)")
        + (" (drain ahead: most have left while the previous node installed)"
           if any(ctx.ahead_of(m) == n for m in ctx.order) else ""),
        commands=tuple(commands), expected_seconds=(batches + len(self_moved)) * est.move,
        predicted_moves=dict(d.targets))


def _validate_step(ctx: _Planning, d: NodeDrain) -> Step | None:
    """The validation move onto the node and back where the group then is (predicted)."""
    n = d.node
    vg = ctx.validation
    if vg is not None and ctx.options.validation_group == AUTO and not vg.can_be_owned_by(n):
        # The cluster-wide choice serves every node that may own it (the best group overall is
        # the best among those a node may own); only other nodes need their own choice.
        vg = validation_group(ctx.snapshot, ctx.options, n)
    back_to = d.after.get(vg.name) if vg is not None else None
    if vg is None or back_to is None:
        return None
    return Step(
        id=f"{n}:validate", kind="validate", node=n, group=vg.name,
        description=f"validation move: {vg.name} to {n} and back",
        commands=(ctx.move(vg.name, n),
                  ctx.move(vg.name, back_to) + "  (back where it is then; predicted)"),
        expected_seconds=2 * ctx.options.estimates.move)


def _cluster_steps(ctx: _Planning, before: dict[str, str | None]) -> list[Step]:
    """After the last node: redistribution, then (if asked) the functional level."""
    est = ctx.options.estimates
    back = {g: o for g, o in ctx.original.items() if o is not None and (before.get(g) or "") != o}
    steps = [Step(
        id="cluster:redistribute", kind="redistribute", node=None,
        description=f"move every group back to its original owner ({len(back)} predicted moves)",
        commands=tuple(ctx.move(g, o) for g, o in back.items()),
        expected_seconds=len(back) * est.move, predicted_moves=dict(back))]
    if ctx.options.raise_functional_level:
        try:
            command = ctx.dialect.functional_level_command(what_if=False).describe()
        except NotSupported:  # the functional-level check refuses the run and says why
            command = "(this cluster has no Update-ClusterFunctionalLevel: not possible)"
        steps.append(Step(
            id="cluster:functional-level", kind="functional-level", node=None,
            description="raise the cluster functional level (irreversible; all nodes Up on one"
            " version)", commands=(command,), expected_seconds=10.0))
    return steps
