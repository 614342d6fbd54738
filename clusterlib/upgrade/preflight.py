"""Preflight: the named safety checks run before anything changes, and the drain sequence they reason over.

Each check returns a ``CheckResult`` (name, ok, severity, message). Errors stop the run before it
starts (``PreflightFailed`` lists all of them); warnings are shown in the plan and the report.
Everything here reads one snapshot (taken with owners) and the lock; nothing is sent.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from attrs import frozen

from clusterlib.model import ClusterSnapshot, GroupInfo, GroupState, NodeInfo, NodeState, ServiceVersion
from clusterlib.placement import evacuation_plan
from clusterlib.upgrade.lock import LockInfo
from clusterlib.upgrade.options import AUTO, TargetVersion, UpgradeOptions


@frozen
class CheckResult:
    name: str
    ok: bool
    message: str
    severity: str = "error"  # "error" stops the run; "warning" is only reported

    @property
    def blocking(self) -> bool:
        return not self.ok and self.severity == "error"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "severity": self.severity,
                "message": self.message}


@frozen
class NodeDrain:
    """What draining one node is predicted to do at its turn in the sequence."""

    node: str
    targets: dict[str, str]  # group -> predicted target
    stuck: tuple[str, ...]  # groups no remaining Up node may own
    after: dict[str, str | None]  # predicted placement once this node is done


def default_order(snapshot: ClusterSnapshot) -> tuple[str, ...]:
    """Fewest groups first (CAU's default), ties in the cluster's node order."""
    index = {n.name: i for i, n in enumerate(snapshot.nodes)}
    return tuple(sorted((n.name for n in snapshot.nodes),
                        key=lambda name: (len(snapshot.groups_on(name)), index[name])))


def resolve_order(snapshot: ClusterSnapshot, options: UpgradeOptions) -> tuple[str, ...]:
    """The node order as the cluster spells the names (NodeNotFound lists valid names)."""
    if options.order is None:
        return default_order(snapshot)
    return tuple(snapshot.node(name).name for name in options.order)


def _with_owner(group: GroupInfo, owner: str) -> GroupInfo:
    return attrs.evolve(group, owner=owner)


def _with_state(snapshot: ClusterSnapshot, node: str, state: NodeState) -> ClusterSnapshot:
    return snapshot.evolve(nodes=tuple(attrs.evolve(n, state=state) if n.name == node else n
                                       for n in snapshot.nodes))


def simulate_run(snapshot: ClusterSnapshot, order: Sequence[str],
                 failback_each: bool = False) -> tuple[list[NodeDrain], dict[str, str | None]]:
    """Predict each node's drain in turn (node paused, its groups placed on the Up nodes, node
    resumed) and the placement before redistribution. The cluster's own drain placement may
    differ; this is what the plan shows and what the capacity check reasons over."""
    original = snapshot.placement()
    working = snapshot
    drains: list[NodeDrain] = []
    for node in order:
        paused = _with_state(working, node, NodeState.Paused)
        targets, stuck = evacuation_plan(paused, node)
        groups = tuple(_with_owner(g, targets[g.name]) if g.name in targets else g
                       for g in working.groups)
        if failback_each:
            groups = tuple(_with_owner(g, node) if (original.get(g.name) or "") == node else g
                           for g in groups)
        working = working.evolve(groups=groups)
        drains.append(NodeDrain(node=node, targets=targets, stuck=tuple(stuck),
                                after=working.placement()))
    return drains, working.placement()


def validation_group(snapshot: ClusterSnapshot, options: UpgradeOptions,
                     node: str | None = None) -> GroupInfo | None:
    """The group the validation move uses: the named one, or the lowest-priority non-core
    Online group (ties by name) that ``node`` may own."""
    choice = options.validation_group
    if choice is None:
        return None
    if choice != AUTO:
        return snapshot.group(choice)
    candidates = [g for g in snapshot.groups if not g.is_core and g.state is GroupState.Online
                  and (node is None or g.can_be_owned_by(node))]
    if not candidates:
        return None
    return min(candidates, key=lambda g: (g.priority, g.name.lower()))


def cluster_versions(nodes: Sequence[NodeInfo]) -> tuple[ServiceVersion, ServiceVersion] | None:
    """(ClusterHighestVersion, ClusterLowestVersion) over ``nodes`` (reference 3.5), or None
    when a version is unknown."""
    his = [n.highest_version for n in nodes]
    los = [n.lowest_version for n in nodes]
    if not nodes or any(v is None for v in his) or any(v is None for v in los):
        return None
    return (min(v for v in his if v is not None), max(v for v in los if v is not None))


def join_verdict(target: TargetVersion, active: Sequence[NodeInfo]) -> tuple[bool | None, str]:
    """Whether a node running ``target`` may join a cluster of ``active`` nodes:
    NodeHighest == ClusterHighest, or NodeLowest == ClusterHighest, or NodeHighest ==
    ClusterLowest (reference 3.5, verified). None = cannot tell (versions unknown)."""
    versions = cluster_versions(active)
    if versions is None:
        return None, "the cluster's node versions are unknown"
    ch, cl = versions
    if target.lowest is None:
        # [P] without NodeLowestVersion only the "majors differ by at most one" rule applies.
        ok = all(n.highest_version is not None and abs(n.highest_version.major
                                                       - target.highest.major) <= 1 for n in active)
        return ok, (f"majors within one of {target.highest.major} (inferred: target lowest"
                    f" version not given); cluster highest {ch}, lowest {cl}")
    ok = target.highest == ch or target.lowest == ch or target.highest == cl
    return ok, f"node {target.highest}/{target.lowest} vs cluster highest {ch}, lowest {cl}"


def run_checks(snapshot: ClusterSnapshot, options: UpgradeOptions, *, order: Sequence[str],
               lock: LockInfo | None, lock_error: str | None, run_id: str | None,
               action_problem: str | None, functional_level_supported: bool,
               resuming: bool = False) -> list[CheckResult]:
    """Every preflight check, in a fixed order; see docs/rolling-upgrade.md for each one."""
    out: list[CheckResult] = []

    def add(name: str, problems: list[str], ok_text: str, severity: str = "error") -> None:
        out.append(CheckResult(name, not problems, "; ".join(problems) if problems else ok_text,
                               severity))

    # nodes-up
    down = [f"{n.name} is {n.state.name}" for n in snapshot.nodes
            if n.state not in (NodeState.Up, NodeState.Paused)]
    add("nodes-up", down, f"all {len(snapshot.nodes)} nodes are Up",
        "error" if options.require_all_up else "warning")

    # groups-healthy
    bad = [f"group {g.name} is {g.state.name}" for g in snapshot.groups
           if g.state in (GroupState.Failed, GroupState.PartialOnline, GroupState.Pending,
                          GroupState.Unknown)]
    add("groups-healthy", bad, "no group is Failed, PartialOnline or Pending")

    # no-paused-nodes
    paused = [f"{n.name} is already Paused (someone else's maintenance?)" for n in snapshot.nodes
              if n.state is NodeState.Paused]
    if resuming:
        out.append(CheckResult("no-paused-nodes", True, "resuming: paused nodes are this run's",
                               "warning"))
    else:
        add("no-paused-nodes", paused, "no node is paused")

    # node-order
    names = {n.name.lower() for n in snapshot.nodes}
    problems = [f"{name!r} appears more than once" for name in {o for o in order
                                                             if list(order).count(o) > 1}]
    missing = [n.name for n in snapshot.nodes if n.name.lower() not in {o.lower() for o in order}]
    if missing:
        problems.append(f"not in the order, so not upgraded: {', '.join(missing)}")
    add("node-order", [p for p in problems if "appears" in p] or [],
        "order: " + " -> ".join(order), "error")
    if missing:
        out.append(CheckResult("node-order-partial", False, problems[-1], "warning"))
    del names

    # quorum
    q = [f"taking {n} down would lose quorum ({snapshot.quorum_type or 'unknown quorum type'})"
         for n in order if not snapshot.keeps_quorum_without(n)]
    if q and not snapshot.quorum_type:
        # The dialect did not report the quorum model (cluster.exe in this build): the
        # strict-majority arithmetic above is then a guess, not a finding. 2000/2003 clusters
        # normally run on a quorum disk, which survives one node down [P].
        out.append(CheckResult("quorum", False, "the cluster did not report its quorum type, so"
                               " quorum with one node down cannot be proven (a quorum disk"
                               " survives it; a majority node set of two nodes does not):"
                               " check it before running", "warning"))
    else:
        add("quorum", q, "quorum holds with any one node down")

    # capacity (in sequence, the way the run will drain)
    drains, _ = simulate_run(snapshot, order, failback_each=options.failback == "each")
    stuck = [f"draining {d.node}: no other node may own {', '.join(d.stuck)}" for d in drains
             if d.stuck]
    add("capacity", stuck, "the remaining nodes can own every group at each step")
    conflicts = []
    for d in drains:
        for gname, target in d.targets.items():
            g = snapshot.group(gname)
            if g.anti_affinity and any(set(g.anti_affinity) & set(o.anti_affinity)
                                       for o in snapshot.groups_on(target) if o.name != g.name):
                conflicts.append(f"{gname} -> {target} while {d.node} is out")
    if conflicts:
        out.append(CheckResult("anti-affinity", False, "groups share a node with an"
                               " anti-affinity partner: " + "; ".join(conflicts[:10]), "warning"))

    # version-join
    if options.target is not None:
        issues: list[str] = []
        unknown = False
        upgraded: set[str] = set()
        for node in order:
            active = [n for n in snapshot.nodes if n.name != node
                      and n.state in (NodeState.Up, NodeState.Paused)]
            active = [attrs.evolve(n, highest_version=options.target.highest,
                                   lowest_version=options.target.lowest or n.lowest_version)
                      if n.name in upgraded else n for n in active]
            ok, why = join_verdict(options.target, active)
            if ok is None:
                unknown = True
            elif not ok:
                issues.append(f"{node} running {options.target} could not rejoin: {why}")
            upgraded.add(node)
        if unknown and not issues:
            out.append(CheckResult("version-join", False, "cannot check the join rule: the"
                                   " nodes' cluster-service versions are unknown", "warning"))
        else:
            if order:
                first = join_verdict(options.target,
                                     [n for n in snapshot.nodes if n.name != order[0]])
                add("version-join", issues, f"target {options.target} can join at every step"
                    f" (first: {first[1]})")
            else:
                # No usable order (e.g. it named an unknown node): node-order says why.
                add("version-join", issues, "no nodes to check")
    else:
        out.append(CheckResult("version-join", True, "no target version given: versions are"
                               " recorded, not checked", "warning"))

    # lock
    if lock_error is not None:
        add("lock", [lock_error], "")
    elif lock is not None and lock.run_id != run_id:
        add("lock", [f"the cluster is locked by {lock.describe()}"], "")
    else:
        add("lock", [], "no other clusterlib run holds the cluster" if lock is None
            else f"held by this run ({lock.run_id})")

    # action
    add("action", [action_problem] if action_problem else [], "the action can reach each node")

    # functional-level
    if options.raise_functional_level:
        # Functional levels exist from Windows Server 2012 R2 (8) and can be raised from 2016
        # (9) on (reference 3.3). Without a level now, only a target of 9.x or later proves the
        # upgraded cluster will have one to raise.
        will_have = (snapshot.functional_level is not None
                     or (options.target is not None and options.target.highest.major >= 9))
        add("functional-level", [] if functional_level_supported and will_have else
            ["raising the functional level was requested, but this cluster has none"
             + ("" if functional_level_supported else
                " (no Update-ClusterFunctionalLevel: Windows Server 2016 and later only)")
             + ("" if will_have else "; give target= a Windows Server 2016+ version (9.x or"
                " later) to prove the upgraded cluster will have one")],
            f"will raise the functional level at the end (now {snapshot.functional_level})")

    # validation-group
    if options.validation_group is None:
        out.append(CheckResult("validation-group", True, "validation move skipped (None)",
                               "warning"))
    else:
        try:
            vg = validation_group(snapshot, options)
        except Exception as exc:  # GroupNotFound lists the valid names
            add("validation-group", [str(exc)], "")
        else:
            if vg is None:
                out.append(CheckResult("validation-group", False, "no Online non-core group to"
                                       " validate with; the validation move will be skipped",
                                       "warning"))
            elif vg.is_core:
                add("validation-group", [f"{vg.name} is the core group; pick a non-critical one"],
                    "")
            else:
                add("validation-group", [], f"{vg.name} (priority {vg.priority})")
    return out
