"""Preflight: the named safety checks run before anything changes, and the drain sequence they reason over.

Each check is a function of one ``CheckContext`` (the snapshot, the options, the order, the lock
and what the caller knows about the action) returning its ``CheckResult`` rows (name, ok,
severity, message); ``CHECKS`` lists them in the order they run. Errors stop the run before it
starts (``PreflightFailed`` lists all of them); warnings are shown in the plan and the report.
Everything here reads one snapshot (taken with owners) and the lock; nothing is sent. Every
check is linear in groups: lookups go through the snapshot's index, never a scan per group.

Release facts (upgrade paths, node limits) come from ``clusterlib.versions``, which cites its
public sources (KB 288778, KB 935197, the "Cluster operating system rolling upgrade" page, ...).
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence

import attrs
from attrs import define, frozen

from clusterlib import versions
from clusterlib.errors import NotFound
from clusterlib.model import (
    ClusterSnapshot,
    GroupInfo,
    GroupState,
    NodeInfo,
    NodeState,
    ServiceVersion,
)
from clusterlib.placement import PlacementState
from clusterlib.upgrade.lock import LockInfo
from clusterlib.upgrade.options import AUTO, TargetVersion, UpgradeOptions

#: Cluster OS Rolling Upgrade (Windows Server 2016 and later, cluster-service major 9+): "When the
#: first upgraded node joins the cluster, the cluster enters "Mixed-OS" mode, and the cluster core
#: resources are moved to the newer node" (learn.microsoft.com, "Cluster operating system rolling
#: upgrade"). The plan predicts that move instead of counting it as a group off its owner.
MIXED_OS_CORE_MOVE_MAJOR = 9

#: Text shown when a path or topology is refused: the supported way out.
MIGRATION = ("build a new cluster on the target release and migrate the roles to it (the"
             " supported alternative to a rolling upgrade)")


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


def _result(name: str, problems: Sequence[str], ok_text: str,
            severity: str = "error") -> CheckResult:
    return CheckResult(name, not problems, "; ".join(problems) if problems else ok_text, severity)


@frozen
class NodeDrain:
    """What draining one node is predicted to do at its turn in the sequence."""

    node: str
    targets: dict[str, str]  # group -> predicted target
    stuck: tuple[str, ...]  # groups no remaining Up node may own
    after: Mapping[str, str | None]  # predicted placement once this node is done (read-only)


# ---- order ----

def fewest_groups_first(snapshot: ClusterSnapshot) -> tuple[str, ...]:
    """Fewest groups first (Cluster-Aware Updating's default), ties in node-ID order."""
    by_id = snapshot.nodes_by_id()
    index = {n.name: i for i, n in enumerate(by_id)}
    return tuple(sorted((n.name for n in by_id),
                        key=lambda name: (len(snapshot.groups_on(name)), index[name])))


def node_id_order(snapshot: ClusterSnapshot) -> tuple[str, ...]:
    """Node 1 first: the nodes' own order (node ID, as ``cluster node`` and Get-ClusterNode list
    them), the order of the classic procedure ("Node 1 is paused ...", TechNet cc779712)."""
    return tuple(n.name for n in snapshot.nodes_by_id())


#: ``UpgradeOptions.order_policy`` -> how the order is chosen when ``order`` is None.
ORDER_POLICIES: dict[str, Callable[[ClusterSnapshot], tuple[str, ...]]] = {
    "node-id": node_id_order,
    "fewest-groups-first": fewest_groups_first,
}


def default_order(snapshot: ClusterSnapshot, policy: str = "node-id") -> tuple[str, ...]:
    """The order ``policy`` gives (``ORDER_POLICIES``; "node-id" unless told otherwise)."""
    try:
        chooser = ORDER_POLICIES[policy]
    except KeyError:
        raise ValueError(f"order_policy must be one of {', '.join(ORDER_POLICIES)},"
                         f" not {policy!r}") from None
    return chooser(snapshot)


def resolve_order(snapshot: ClusterSnapshot, options: UpgradeOptions) -> tuple[str, ...]:
    """The node order as the cluster spells the names (NodeNotFound lists valid names), without
    the nodes that already run the target: draining a node and sending its installer again
    would take its workloads away for nothing (a re-run, or a cluster finished by hand)."""
    if options.order is None:
        order = default_order(snapshot, options.order_policy)
    else:
        order = tuple(snapshot.node(name).name for name in options.order)
    done = {name.lower() for name in already_on_target(snapshot, options)}
    return tuple(name for name in order if name.lower() not in done)


def already_on_target(snapshot: ClusterSnapshot, options: UpgradeOptions) -> tuple[str, ...]:
    """Nodes that already run ``options.target`` (none without an explicit target: the first
    upgraded node's version becomes the target only during the run)."""
    target = options.target
    if target is None:
        return ()
    return tuple(n.name for n in snapshot.nodes if target.matches(n.highest_version, n.os_version))


def order_source(options: UpgradeOptions) -> str:
    """How the order was chosen, for the plan: "given", or the policy's name."""
    return "given" if options.order is not None else options.order_policy


# ---- the predicted sequence ----

def core_follows_upgraded(snapshot: ClusterSnapshot, target: TargetVersion | None) -> bool:
    """Whether the cluster itself moves its core group to the first upgraded node (Cluster OS
    Rolling Upgrade, 2016+ mixed-OS mode; see ``MIXED_OS_CORE_MOVE_MAJOR``): the target is a
    2016+ release newer than what the nodes run now. [P]: the page says "core resources"; the
    plan takes that as the core group."""
    if target is None or target.highest.major < MIXED_OS_CORE_MOVE_MAJOR:
        return False
    majors = {n.highest_version.major for n in snapshot.nodes if n.highest_version is not None}
    return bool(majors) and min(majors) < target.highest.major


def simulate_run(snapshot: ClusterSnapshot, order: Sequence[str], failback_each: bool = False,
                 *, core_to_first_upgraded: bool = False,
                 ) -> tuple[list[NodeDrain], dict[str, str | None]]:
    """Predict each node's drain in turn (node paused, its groups placed on the Up nodes, node
    resumed) and the placement before redistribution. The cluster's own drain placement may
    differ; this is what the plan shows and what the capacity check reasons over.

    ``core_to_first_upgraded``: once the first node is back, the core group is predicted on it
    (2016+ mixed-OS mode), so the later drains and the redistribution expect it there.
    One evacuation per node over the snapshot's index: O(nodes x groups); computed once per
    snapshot and arguments (preflight and the plan both ask)."""
    key = f"simulate_run:{tuple(order)!r}:{failback_each}:{core_to_first_upgraded}"
    drains, before = snapshot.cached(key, lambda: _simulate(snapshot, tuple(order), failback_each,
                                                            core_to_first_upgraded))
    return list(drains), dict(before)


def _simulate(snapshot: ClusterSnapshot, order: tuple[str, ...], failback_each: bool,
              core_to_first_upgraded: bool) -> tuple[list[NodeDrain], dict[str, str | None]]:
    state = PlacementState(snapshot)
    home: dict[str, list[str]] = {}  # node -> the groups it owned at the start
    for g in snapshot.groups:
        if g.owner is not None:
            home.setdefault(g.owner, []).append(g.name)
    drains: list[NodeDrain] = []
    core = snapshot.core_group
    known = {n.name for n in snapshot.nodes}
    # Each node's "after" is its own moves layered over the earlier ones and the start: no
    # placement copy per node (that alone was O(nodes x groups)).
    layers: list[Mapping[str, str | None]] = [snapshot.placement()]
    for i, node in enumerate(order):
        targets, stuck = state.evacuate(node)
        if node in known:
            if failback_each:
                for name in home.get(node, ()):
                    state.move(name, node)
            if core_to_first_upgraded and i == 0 and core is not None:
                state.move(core.name, node)
        layers.insert(0, state.take_changes())
        drains.append(NodeDrain(node=node, targets=targets, stuck=tuple(stuck),
                                after=ChainMap(*layers)))  # type: ignore[arg-type]
    return drains, state.placement()


# ---- the validation group ----

#: Resource types that must not move back from an upgraded Windows Server 2003 node to a
#: Windows 2000 one: their database is upgraded on the first move (KB 293302). Lower case.
NO_FAILBACK_TO_DOWN_LEVEL = ("dhcp service", "wins service")
#: Resource types with their own upgrade procedure: IIS 6.0 is not supported during rolling
#: upgrades (TechNet cc738014); DHCP needs the "last node rolling upgrade" (cc738014); Exchange
#: 2000 does not run on Windows Server 2003 (KB 321648, [P]). Lower case; a trailing "*" is a
#: prefix.
OWN_PROCEDURE = ("iis server instance", "smtp server instance", "nntp server instance",
                 "microsoft exchange*")


def _matches(resource_type: str, patterns: Sequence[str]) -> bool:
    t = resource_type.strip().lower()
    return any(t.startswith(p[:-1]) if p.endswith("*") else t == p for p in patterns)


def legacy_mix(snapshot: ClusterSnapshot, target: TargetVersion | None) -> bool:
    """Whether this run can leave Windows 2000 (cluster-service major 3) and Windows Server 2003
    (4) nodes side by side: a node runs 2000 and the target is 2003 (or unknown), or both run
    now. Unknown versions count as possible (the rule only narrows the choice)."""
    majors = {n.highest_version.major for n in snapshot.nodes if n.highest_version is not None}
    if not majors:
        return True
    if 3 in majors and 4 in majors:
        return True
    return 3 in majors and (target is None or target.highest.major == 4)


@frozen
class ValidationChoice:
    """The validation group and, for each group passed over, the rule that excluded it."""

    group: GroupInfo | None
    excluded: tuple[tuple[str, str], ...]  # (group, rule)
    reason: str  # why ``group`` (or why none)

    def describe_exclusions(self, limit: int = 8) -> str:
        """"rule: g1, g2 (+N more)" per rule, for the plan text."""
        by_rule: dict[str, list[str]] = {}
        for name, rule in self.excluded:
            by_rule.setdefault(rule, []).append(name)
        parts = []
        for rule, names in by_rule.items():
            more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
            parts.append(f"{rule}: {', '.join(names[:limit])}{more}")
        return "; ".join(parts)


#: The rules, each with the text shown next to the groups it excluded.
RULE_CORE = "core group (never the validation group: it holds the cluster name and quorum)"
RULE_NOT_ONLINE = "not Online"
RULE_OWNERS = "the node may not own it (possible owners)"
RULE_NO_FAILBACK = ("holds DHCP or WINS, which cannot move back from Windows Server 2003 to"
                    " Windows 2000 (KB 293302)")
RULE_OWN_PROCEDURE = ("holds IIS 6 or Exchange resources, which have their own upgrade"
                      " procedure (TechNet cc738014, KB 321648)")


def _group_rule(g: GroupInfo, types: frozenset[str], node: str | None,
                mixed: bool) -> str | None:
    if g.is_core:
        return RULE_CORE
    if mixed and any(_matches(t, NO_FAILBACK_TO_DOWN_LEVEL) for t in types):
        return RULE_NO_FAILBACK
    if any(_matches(t, OWN_PROCEDURE) for t in types):
        return RULE_OWN_PROCEDURE
    if g.state is not GroupState.Online:
        return RULE_NOT_ONLINE
    if node is not None and not g.can_be_owned_by(node):
        return RULE_OWNERS
    return None


def _types_by_group(snapshot: ClusterSnapshot) -> dict[str, tuple[frozenset[str], int]]:
    """Lower-case group name -> (its resource types, its resource count): one pass."""
    acc: dict[str, tuple[set[str], list[int]]] = {}
    for r in snapshot.resources:
        types, count = acc.setdefault(r.group.lower(), (set(), [0]))
        if r.resource_type:
            types.add(r.resource_type)
        count[0] += 1
    return {k: (frozenset(t), c[0]) for k, (t, c) in acc.items()}


def choose_validation_group(snapshot: ClusterSnapshot, options: UpgradeOptions,
                            node: str | None = None) -> ValidationChoice:
    """The validation group by the rules: not the core group; not a group holding DHCP or WINS
    while Windows 2000 and 2003 nodes can be mixed (KB 293302); not one holding a resource with
    its own upgrade procedure (IIS 6, Exchange: cc738014, KB 321648); Online; ownable by
    ``node``. Among the rest a non-critical one: lowest priority, then fewest resources, then
    name (the 2003 guidance: "Select a resource group that is not critical", cc779712).

    A named group (``options.validation_group``) is checked against the same rules; breaking one
    is refused by the ``validation-group`` check. GroupNotFound for an unknown name."""
    key = f"validation:{options.validation_group!r}:{options.target!r}:{node!r}"
    return snapshot.cached(key, lambda: _choose(snapshot, options, node))


def _choose(snapshot: ClusterSnapshot, options: UpgradeOptions,
            node: str | None) -> ValidationChoice:
    choice = options.validation_group
    if choice is None:
        return ValidationChoice(None, (), "validation move skipped (validation_group=None)")
    mixed = legacy_mix(snapshot, options.target)
    info = _types_by_group(snapshot)
    empty: tuple[frozenset[str], int] = (frozenset(), 0)
    if choice != AUTO:
        g = snapshot.group(choice)
        rule = _group_rule(g, info.get(g.name.lower(), empty)[0], node, mixed)
        if rule in (RULE_NOT_ONLINE, RULE_OWNERS):
            rule = None  # a named group: the run itself reports these at the move
        return ValidationChoice(g, ((g.name, rule),) if rule else (), "named by validation_group")
    excluded: list[tuple[str, str]] = []
    best: tuple[int, int, str] | None = None
    chosen: GroupInfo | None = None
    for g in snapshot.groups:
        types, count = info.get(g.name.lower(), empty)
        rule = _group_rule(g, types, node, mixed)
        if rule is not None:
            excluded.append((g.name, rule))
            continue
        key = (g.priority_or_default, count, g.name.lower())
        if best is None or key < best:
            best, chosen = key, g
    if chosen is None:
        return ValidationChoice(None, tuple(excluded), "no group passes the rules")
    count = info.get(chosen.name.lower(), empty)[1]
    known = f", {count} resource(s)" if snapshot.resources else ""
    return ValidationChoice(chosen, tuple(excluded),
                            (f"lowest priority ({chosen.priority}{known}) among the eligible"
                             if chosen.priority is not None else
                             f"fewest resources ({count}) among the eligible (no group priority"
                             " on this cluster)" if snapshot.resources else
                             "first by name among the eligible (no group priority on this"
                             " cluster)"))


def validation_group(snapshot: ClusterSnapshot, options: UpgradeOptions,
                     node: str | None = None) -> GroupInfo | None:
    """The group the validation move uses (``choose_validation_group``); None = no move. A named
    group is returned even when a rule refuses it: the ``validation-group`` check stops such a
    run before anything changes."""
    return choose_validation_group(snapshot, options, node).group


# ---- versions ----

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
    versions_now = cluster_versions(active)
    if versions_now is None:
        return None, "the cluster's node versions are unknown"
    ch, cl = versions_now
    if target.lowest is None:
        # [P] without NodeLowestVersion only the "majors differ by at most one" rule applies.
        ok = all(n.highest_version is not None and abs(n.highest_version.major
                                                       - target.highest.major) <= 1 for n in active)
        return ok, (f"majors within one of {target.highest.major} (inferred: target lowest"
                    f" version not given); cluster highest {ch}, lowest {cl}")
    ok = target.highest == ch or target.lowest == ch or target.highest == cl
    return ok, f"node {target.highest}/{target.lowest} vs cluster highest {ch}, lowest {cl}"


def _label(major: int) -> str:
    rel = versions.release_for_major(major)
    return rel.label if rel is not None else f"cluster-service major {major}"


# ---- the checks ----

@define
class CheckContext:
    """What every check may read. ``drains`` is the predicted sequence, computed once."""

    snapshot: ClusterSnapshot
    options: UpgradeOptions
    order: tuple[str, ...]
    lock: LockInfo | None = None
    lock_error: str | None = None
    run_id: str | None = None
    action_problem: str | None = None
    functional_level_supported: bool = True
    resuming: bool = False
    #: The cluster's forced-drain switch (Capabilities.force_drain), None: it has none.
    force_drain_switch: str | None = None

    @functools.cached_property
    def drains(self) -> list[NodeDrain]:
        return simulate_run(self.snapshot, self.order,
                            failback_each=self.options.failback == "each",
                            core_to_first_upgraded=core_follows_upgraded(
                                self.snapshot, self.options.target))[0]

    @functools.cached_property
    def majors(self) -> dict[str, int]:
        """Node -> current cluster-service major, for the nodes that report one."""
        return {n.name: n.highest_version.major for n in self.snapshot.nodes
                if n.highest_version is not None}


def check_nodes_up(ctx: CheckContext) -> list[CheckResult]:
    """``nodes-up``: every node is Up (or Paused: ``no-paused-nodes`` judges those)."""
    down = [f"{n.name} is {n.state.name}" for n in ctx.snapshot.nodes
            if n.state not in (NodeState.Up, NodeState.Paused)]
    return [_result("nodes-up", down, f"all {len(ctx.snapshot.nodes)} nodes are Up",
                    "error" if ctx.options.require_all_up else "warning")]


def check_groups_healthy(ctx: CheckContext) -> list[CheckResult]:
    """``groups-healthy``: no group Failed, PartialOnline, Pending or Unknown."""
    bad = [f"group {g.name} is {g.state.name}" for g in ctx.snapshot.groups
           if g.state in (GroupState.Failed, GroupState.PartialOnline, GroupState.Pending,
                          GroupState.Unknown)]
    return [_result("groups-healthy", bad, "no group is Failed, PartialOnline or Pending")]


def check_no_paused_nodes(ctx: CheckContext) -> list[CheckResult]:
    """``no-paused-nodes``: a paused node is someone else's maintenance (a resume skips this)."""
    if ctx.resuming:
        return [CheckResult("no-paused-nodes", True, "resuming: paused nodes are this run's",
                            "warning")]
    paused = [f"{n.name} is already Paused (someone else's maintenance?)"
              for n in ctx.snapshot.nodes if n.state is NodeState.Paused]
    return [_result("no-paused-nodes", paused, "no node is paused")]


def check_node_order(ctx: CheckContext) -> list[CheckResult]:
    """``node-order``: no node twice; ``node-order-partial`` (warning): nodes left out."""
    seen: set[str] = set()
    twice: list[str] = []
    for name in ctx.order:
        if name.lower() in seen and name not in twice:
            twice.append(name)
        seen.add(name.lower())
    problems = [f"{name!r} appears more than once" for name in twice]
    how = order_source(ctx.options)
    out = [_result("node-order", problems, "order: " + " -> ".join(ctx.order)
                   + ("" if how == "given" else f" (order_policy {how})"))]
    on_target = already_on_target(ctx.snapshot, ctx.options)
    if on_target:
        out.append(CheckResult("already-on-target", False,
                               f"{', '.join(on_target)} already run{'s' if len(on_target) == 1 else ''}"
                               f" the target {ctx.options.target}: not drained, not upgraded again",
                               "warning"))
    skip = seen | {name.lower() for name in on_target}
    missing = [n.name for n in ctx.snapshot.nodes if n.name.lower() not in skip]
    if missing:
        out.append(CheckResult("node-order-partial", False,
                               f"not in the order, so not upgraded: {', '.join(missing)}",
                               "warning"))
    return out


def check_node_limit(ctx: CheckContext) -> list[CheckResult]:
    """``node-limit``: the cluster has no more nodes than every release involved allows (the
    nodes' releases now and the target's): KB 288778, TechNet cc787244; 64 from 2012 on [P].
    The edition is not in the snapshot, so the limit is the release's most permissive edition;
    Windows 2000 with more than 2 nodes gets a warning (Advanced Server 2, Datacenter 4)."""
    count = len(ctx.snapshot.nodes)
    majors = set(ctx.majors.values())
    if ctx.options.target is not None:
        majors.add(ctx.options.target.highest.major)
    known = sorted(m for m in majors if versions.release_for_major(m) is not None)
    if not known:
        return [CheckResult("node-limit", False, f"{count} nodes; the release is unknown, so the"
                            " node limit (KB 288778) cannot be checked", "warning")]
    problems = []
    for major in known:
        limit = versions.max_nodes(major)
        if count > limit:
            problems.append(f"{count} nodes, but {_label(major)} allows at most {limit} (KB"
                            f" 288778, TechNet cc787244): {MIGRATION} with at most {limit} nodes"
                            " or remove nodes first")
    if problems:
        return [_result("node-limit", problems, "")]
    limits = ", ".join(f"{_label(m)} {versions.max_nodes(m)}" for m in known)
    out = [_result("node-limit", [], f"{count} nodes within every release's limit ({limits})")]
    if 3 in known and count > versions.max_nodes(3, "Advanced Server"):
        out.append(CheckResult("node-limit-edition", False, f"{count} nodes on Windows 2000:"
                               " only Datacenter Server allows more than 2 (Advanced Server 2,"
                               " Datacenter 4; KB 288778); the edition is not in the snapshot,"
                               " check it", "warning"))
    return out


def check_upgrade_path(ctx: CheckContext) -> list[CheckResult]:
    """``upgrade-path``: Microsoft supports going from the nodes' release to the target node by
    node (``versions.upgrade_path``: 2000 -> 2003, service packs, 2012 R2 -> 2016 -> ... one
    release at a time); anything else is refused naming the supported alternative. Nodes must
    already be at most one major apart (version compatibility; mixed mode only during a rolling
    upgrade, KB 288778). Without a target the path is checked once the first node is upgraded."""
    majors = ctx.majors
    if not majors:
        return [CheckResult("upgrade-path", False, "the nodes' cluster-service versions are"
                            " unknown, so the upgrade path cannot be checked", "warning")]
    low, high = min(majors.values()), max(majors.values())
    if high - low > 1:
        listing = ", ".join(f"{n} {_label(m)}" for n, m in majors.items())
        return [_result("upgrade-path", [f"the nodes run releases more than one apart"
                                         f" ({listing}); a cluster mixes at most two adjacent"
                                         " cluster-service majors (version compatibility,"
                                         " KB 288778)"], "")]
    target = ctx.options.target
    if target is None:
        return [CheckResult("upgrade-path", True, f"no target version given: the path from"
                            f" {_label(low)} cannot be checked until the first node is"
                            " upgraded; each later node is then checked against the first"
                            " upgraded node's version", "warning")]
    to = target.highest.major
    if versions.release_for_major(to) is None:
        return [_result("upgrade-path", [f"target {target} is no known release (known"
                                         " cluster-service majors: "
                                         + ", ".join(str(r.cluster_major)
                                                     for r in versions.RELEASES.values())
                                         + ")"], "")]
    if high > to:
        newer = [n for n, m in majors.items() if m > to]
        return [_result("upgrade-path", [f"{', '.join(newer)} already run(s) {_label(high)},"
                                         f" newer than the target {_label(to)}: a node is never"
                                         f" downgraded in place; {MIGRATION}"], "")]
    ok, text = path_verdict(low, to)
    return [_result("upgrade-path", [] if ok else [text], text)]


def path_verdict(from_major: int, to_major: int) -> tuple[bool, str]:
    """Whether nodes may go from one cluster-service major to another node by node, and the
    text to show: the source when it is supported, else the reason and the supported
    alternative (the one-release-at-a-time path where there is one, else migration). The
    ``upgrade-path`` check's verdict, also usable once a first node shows the version a run
    without a target goes to. ValueError for a major that is no known release."""
    verdict = versions.upgrade_path(from_major, to_major)
    if verdict.ok:
        return True, f"{verdict.reason} ({verdict.source})"
    if verdict.steps:
        way = ("upgrade one release at a time ("
               + " -> ".join(_label(m) for m in (from_major, *verdict.steps)) + "), or "
               + MIGRATION)
    else:
        way = MIGRATION
    return False, f"{verdict.reason}. Supported alternative: {way} ({verdict.source})"


def check_quorum(ctx: CheckContext) -> list[CheckResult]:
    """``quorum``: the cluster keeps quorum with any one node of the order down (reference 4)."""
    snap = ctx.snapshot
    q = [f"taking {n} down would lose quorum ({snap.quorum_type or 'unknown quorum type'})"
         for n in ctx.order if not snap.keeps_quorum_without(n)]
    if q and not snap.quorum_type:
        # The dialect did not report the quorum model (cluster.exe in this build): the
        # strict-majority arithmetic above is then a guess, not a finding. 2000/2003 clusters
        # normally run on a quorum disk, which survives one node down [P].
        return [CheckResult("quorum", False, "the cluster did not report its quorum type, so"
                            " quorum with one node down cannot be proven (a quorum disk"
                            " survives it; a majority node set of two nodes does not):"
                            " check it before running", "warning")]
    return [_result("quorum", q, "quorum holds with any one node down")]


def check_capacity(ctx: CheckContext) -> list[CheckResult]:
    """``capacity``: at each step of the sequence the remaining Up nodes can own every group."""
    stuck = [f"draining {d.node}: no other node may own {', '.join(d.stuck)}" for d in ctx.drains
             if d.stuck]
    return [_result("capacity", stuck, "the remaining nodes can own every group at each step")]


def check_anti_affinity(ctx: CheckContext) -> list[CheckResult]:
    """``anti-affinity`` (warning, only when found): a predicted target already hosts a partner."""
    snap = ctx.snapshot
    partners = {g.name: g for g in snap.groups if g.anti_affinity}
    if not partners:
        return []
    # Per node, how many of its groups (as the snapshot places them) carry each class: one pass,
    # so the check stays linear however many groups share a class.
    classes: dict[str, dict[str, int]] = {}
    for o in snap.groups:
        if o.anti_affinity:
            per = classes.setdefault((o.owner or "").lower(), {})
            for c in set(o.anti_affinity):
                per[c] = per.get(c, 0) + 1
    conflicts = []
    for d in ctx.drains:
        for gname, target in d.targets.items():
            g = partners.get(gname)
            if g is None:
                continue
            there = classes.get(target.lower(), {})
            itself = 1 if (g.owner or "").lower() == target.lower() else 0
            if any(there.get(c, 0) - itself > 0 for c in set(g.anti_affinity)):
                conflicts.append(f"{gname} -> {target} while {d.node} is out")
    if not conflicts:
        return []
    return [CheckResult("anti-affinity", False, "groups share a node with an anti-affinity"
                        " partner: " + "; ".join(conflicts[:10]), "warning")]


def check_version_join(ctx: CheckContext) -> list[CheckResult]:
    """``version-join``: the target can join the cluster at each step (reference 3.5)."""
    target = ctx.options.target
    snap = ctx.snapshot
    if target is None:
        return [CheckResult("version-join", True, "no target version given: versions are"
                            " recorded, not checked", "warning")]
    issues: list[str] = []
    unknown = False
    upgraded: set[str] = set()
    for node in ctx.order:
        active = [n for n in snap.nodes if n.name != node
                  and n.state in (NodeState.Up, NodeState.Paused)]
        active = [attrs.evolve(n, highest_version=target.highest,
                               lowest_version=target.lowest or n.lowest_version)
                  if n.name in upgraded else n for n in active]
        ok, why = join_verdict(target, active)
        if ok is None:
            unknown = True
        elif not ok:
            issues.append(f"{node} running {target} could not rejoin: {why}")
        upgraded.add(node)
    if unknown and not issues:
        return [CheckResult("version-join", False, "cannot check the join rule: the nodes'"
                            " cluster-service versions are unknown", "warning")]
    if not ctx.order:
        # No usable order (e.g. it named an unknown node): node-order says why.
        return [_result("version-join", issues, "no nodes to check")]
    first = join_verdict(target, [n for n in snap.nodes if n.name != ctx.order[0]])
    return [_result("version-join", issues, f"target {target} can join at every step"
                    f" (first: {first[1]})")]


def check_lock(ctx: CheckContext) -> list[CheckResult]:
    """``lock``: no other clusterlib run holds the cluster."""
    if ctx.lock_error is not None:
        return [_result("lock", [ctx.lock_error], "")]
    if ctx.lock is not None and ctx.lock.run_id != ctx.run_id:
        return [_result("lock", [f"the cluster is locked by {ctx.lock.describe()}"], "")]
    return [_result("lock", [], "no other clusterlib run holds the cluster" if ctx.lock is None
                    else f"held by this run ({ctx.lock.run_id})")]


def check_action(ctx: CheckContext) -> list[CheckResult]:
    """``action``: an action was given and can reach each node."""
    return [_result("action", [ctx.action_problem] if ctx.action_problem else [],
                    "the action can reach each node")]


def check_functional_level(ctx: CheckContext) -> list[CheckResult]:
    """``functional-level`` (only when raising was asked for): the cluster will have a level to
    raise. Functional levels exist from 2012 R2 (8) and can be raised from 2016 (9) on
    (reference 3.3); without a level now, only a 9.x+ target proves there will be one."""
    opts = ctx.options
    if not opts.raise_functional_level:
        return []
    snap = ctx.snapshot
    will_have = (snap.functional_level is not None
                 or (opts.target is not None and opts.target.highest.major >= 9))
    problems = [] if ctx.functional_level_supported and will_have else [
        "raising the functional level was requested, but this cluster has none"
        + ("" if ctx.functional_level_supported else
           " (no Update-ClusterFunctionalLevel: Windows Server 2016 and later only)")
        + ("" if will_have else "; give target= a Windows Server 2016+ version (9.x or"
           " later) to prove the upgraded cluster will have one")]
    return [_result("functional-level", problems,
                    f"will raise the functional level at the end (now {snap.functional_level})")]


def check_force_drain(ctx: CheckContext) -> list[CheckResult]:
    """``force-drain`` (only when asked for, CAU's -ForcePauseAndDrain): the cluster's
    Suspend-ClusterNode has -ForceDrain (2012 R2+) or -ForceEvacuation (2012)."""
    if not ctx.options.force_drain:
        return []
    switch = ctx.force_drain_switch
    problems = [] if switch else [
        "a forced drain was requested, but this cluster has none: Suspend-ClusterNode -ForceDrain"
        " exists from Windows Server 2012 R2 (-ForceEvacuation on 2012); Windows Server 2008 R2"
        " has no drain and cluster.exe no forced one. Run without force_drain"]
    return [CheckResult("force-drain", not problems, "; ".join(problems) if problems else
                        f"drains are forced (-{switch}): a group that cannot move safely is"
                        " stopped and moved as a failed role, and the node is paused anyway;"
                        " the availability check then recovers it or stops",
                        "error" if problems else "warning")]


def check_validation_group(ctx: CheckContext) -> list[CheckResult]:
    """``validation-group``: the group chosen by ``choose_validation_group``, with the rule that
    excluded each other group; a named group that breaks a rule is refused."""
    opts = ctx.options
    if opts.validation_group is None:
        return [CheckResult("validation-group", True, "validation move skipped (None)",
                            "warning")]
    try:
        choice = choose_validation_group(ctx.snapshot, opts)
    except NotFound as exc:  # GroupNotFound lists the valid names
        return [_result("validation-group", [str(exc)], "")]
    vg = choice.group
    skipped = choice.describe_exclusions()
    if vg is None:
        return [CheckResult("validation-group", False, "no group passes the rules; the"
                            " validation move will be skipped. Excluded: " + skipped, "warning")]
    if choice.excluded and opts.validation_group != AUTO:
        rule = choice.excluded[0][1]
        return [_result("validation-group", [f"{vg.name}: {rule}; pick a non-critical group"
                                             " (or validation_group='auto')"], "")]
    text = f"{vg.name} (priority {vg.priority}; {choice.reason})"
    if skipped:
        text += ". Excluded: " + skipped
    out = [_result("validation-group", [], text)]
    if legacy_mix(ctx.snapshot, opts.target) and not _types_known(ctx.snapshot, vg.name):
        out.append(CheckResult("validation-group-types", False, f"the resource types of {vg.name}"
                               " were not read (cluster.exe's resource listing has no type"
                               " column), so the DHCP/WINS rule (KB 293302) could not be"
                               f" applied to it: make sure {vg.name} holds no DHCP or WINS"
                               " resource, or name another group with validation_group=",
                               "warning"))
    return out


def _types_known(snapshot: ClusterSnapshot, group: str) -> bool:
    """Whether every resource of ``group`` came with its type (and the group has any)."""
    key = group.lower()
    mine = [r for r in snapshot.resources if r.group.lower() == key]
    return bool(mine) and all(r.resource_type for r in mine)


def check_core_group(ctx: CheckContext) -> list[CheckResult]:
    """``core-group``: which group the dialect flagged as the core group (IsCoreGroup; the
    quorum resource's group on cluster.exe), never found by its localized name. On a 2016+
    target the cluster moves it to the first upgraded node (mixed-OS mode): the plan predicts
    that move, so it is not a group "off its owner"; redistribution moves it back."""
    core = ctx.snapshot.core_group
    if core is None:
        return [CheckResult("core-group", False, "the cluster reported no core group; every"
                            " group is treated as an ordinary one", "warning")]
    text = f"{core.name} on {core.owner}"
    if core_follows_upgraded(ctx.snapshot, ctx.options.target) and ctx.order:
        first = ctx.order[0]
        text += (f"; expected to move to {first} once {first} is upgraded and back (mixed-OS"
                 " mode: \"the cluster core resources are moved to the newer node\", Cluster"
                 " operating system rolling upgrade), not a failure; moved back at"
                 " redistribution")
    return [CheckResult("core-group", True, text)]


def check_names(ctx: CheckContext) -> list[CheckResult]:
    """``names`` (cluster.exe clusters only): groups and nodes whose names cmd.exe quoting cannot
    carry (``clusterlib.wire.cmdline.check_name``). Every group is moved by name at some drain or
    at the redistribution, so the run is refused before anything changes (the drain also refuses
    such a group, for one that appears later). Says nothing when every name can be sent."""
    snap = ctx.snapshot
    if snap.dialect != "clusterexe":
        return []
    from clusterlib.errors import UnsafeName
    from clusterlib.wire.cmdline import check_name

    problems = []
    for kind, names in (("node name", [n.name for n in snap.nodes]),
                        ("group name", [g.name for g in snap.groups])):
        for name in names:
            try:
                check_name(name, kind)
            except UnsafeName as exc:
                problems.append(str(exc))
    if not problems:
        return []
    return [CheckResult("names", False, "; ".join(problems) + ". Rename them (or move them off"
                        " with the cluster's own tools) first; nothing was changed")]


#: Every check, in the order they run and are shown.
CHECKS: tuple[Callable[[CheckContext], list[CheckResult]], ...] = (
    check_nodes_up, check_groups_healthy, check_no_paused_nodes, check_node_order,
    check_node_limit, check_upgrade_path, check_quorum, check_capacity, check_anti_affinity,
    check_version_join, check_lock, check_action, check_functional_level, check_validation_group,
    check_core_group, check_force_drain, check_names,
)


def run_checks(snapshot: ClusterSnapshot, options: UpgradeOptions, *, order: Sequence[str],
               lock: LockInfo | None, lock_error: str | None, run_id: str | None,
               action_problem: str | None, functional_level_supported: bool,
               resuming: bool = False,
               force_drain_switch: str | None = None) -> list[CheckResult]:
    """Every preflight check (``CHECKS``), in a fixed order; see docs/rolling-upgrade.md."""
    ctx = CheckContext(snapshot, options, tuple(order), lock, lock_error, run_id, action_problem,
                       functional_level_supported, resuming, force_drain_switch)
    out: list[CheckResult] = []
    for check in CHECKS:
        out.extend(check(ctx))
    return out
