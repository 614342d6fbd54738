"""Preflight: each named check with its own message, upgrade paths and node limits as Windows has
them, the validation group's rules, the core group by flag, and the default node order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from clusterlib.model import (
    ClusterSnapshot,
    GroupInfo,
    GroupState,
    NodeInfo,
    NodeState,
    ResourceInfo,
    ResourceState,
    ServiceVersion,
)
from clusterlib.upgrade.lock import LockInfo
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.preflight import (
    CHECKS,
    RULE_CORE,
    RULE_NO_FAILBACK,
    RULE_OWN_PROCEDURE,
    CheckContext,
    CheckResult,
    check_action,
    check_anti_affinity,
    check_capacity,
    check_core_group,
    check_functional_level,
    check_groups_healthy,
    check_lock,
    check_no_paused_nodes,
    check_node_limit,
    check_node_order,
    check_nodes_up,
    check_quorum,
    check_upgrade_path,
    check_validation_group,
    check_version_join,
    choose_validation_group,
    resolve_order,
    run_checks,
    simulate_run,
)

# Cluster-service versions (clusapi.h CLUSTER_VERSION; [MS-CMRP] 2.2.3.3 for 2000/2003).
W2000 = ServiceVersion(3, 2195)
W2003 = ServiceVersion(4, 3790)
W2008 = ServiceVersion(5, 6001)
W2008R2 = ServiceVersion(6, 7601)
W2012R2 = ServiceVersion(8, 9600)
W2016 = ServiceVersion(9, 3)


def node(name: str, version: ServiceVersion | None = W2012R2, state: NodeState = NodeState.Up,
         node_id: str = "", lowest: ServiceVersion | None = None) -> NodeInfo:
    return NodeInfo(name, state, id=node_id, highest_version=version,
                    lowest_version=lowest or (ServiceVersion(version.major - 1, 0)
                                              if version else None))


def snap(nodes: Sequence[NodeInfo] | None = None, groups: Sequence[GroupInfo] | None = None,
         resources: Sequence[ResourceInfo] = (), quorum: str = "NodeAndDiskMajority",
         **kw: object) -> ClusterSnapshot:
    nodes = tuple(nodes) if nodes is not None else (node("NODE1", node_id="1"),
                                                    node("NODE2", node_id="2"))
    groups = tuple(groups) if groups is not None else (
        GroupInfo("Cluster Group", GroupState.Online, nodes[0].name, is_core=True),
        GroupInfo("SQL Group 1", GroupState.Online, nodes[0].name),
        GroupInfo("File Group 3", GroupState.Online, nodes[-1].name, priority=1000))
    kw.setdefault("witness", True)
    return ClusterSnapshot("C1", tuple(nodes), tuple(groups), tuple(resources),
                           quorum_type=quorum, **kw)  # type: ignore[arg-type]


def ctx(s: ClusterSnapshot, order: Sequence[str] | None = None, **opts: object) -> CheckContext:
    options = UpgradeOptions(**opts)  # type: ignore[arg-type]
    return CheckContext(s, options, tuple(order) if order is not None
                        else resolve_order(s, options))


def one(results: list[CheckResult]) -> CheckResult:
    assert len(results) == 1, results
    return results[0]


# ---- each check on its own ----------------------------------------------------------------------


def test_nodes_up_names_the_down_node() -> None:
    s = snap(nodes=(node("NODE1"), node("NODE2", state=NodeState.Down)))
    r = one(check_nodes_up(ctx(s)))
    assert r.blocking and r.message == "NODE2 is Down"
    assert one(check_nodes_up(ctx(s, require_all_up=False))).severity == "warning"
    assert one(check_nodes_up(ctx(snap()))).message == "all 2 nodes are Up"


def test_groups_healthy_names_the_failed_group() -> None:
    s = snap(groups=(GroupInfo("G", GroupState.Failed, "NODE1"),
                     GroupInfo("H", GroupState.Offline, "NODE2")))
    r = one(check_groups_healthy(ctx(s)))
    assert r.blocking and r.message == "group G is Failed"  # Offline is legitimate


def test_no_paused_nodes_unless_resuming() -> None:
    s = snap(nodes=(node("NODE1"), node("NODE2", state=NodeState.Paused)))
    assert "NODE2 is already Paused" in one(check_no_paused_nodes(ctx(s))).message
    c = ctx(s)
    c.resuming = True
    assert one(check_no_paused_nodes(c)).ok


def test_node_order_repeats_and_partial_orders() -> None:
    s = snap(nodes=(node("A"), node("B"), node("C")))
    repeat, partial = check_node_order(ctx(s, order=("A", "a", "B")))
    assert repeat.blocking and "'a' appears more than once" in repeat.message
    assert partial.name == "node-order-partial" and partial.severity == "warning"
    assert partial.message == "not in the order, so not upgraded: C"
    ok = one(check_node_order(ctx(s)))
    assert ok.ok and ok.message == "order: A -> B -> C (order_policy node-id)"


def test_quorum_needs_a_quorum_type_to_be_proven() -> None:
    two = snap(quorum="NodeMajority", witness=False)
    r = one(check_quorum(ctx(two)))
    assert r.blocking and "taking NODE1 down would lose quorum (NodeMajority)" in r.message
    unknown = one(check_quorum(ctx(snap(quorum="", witness=False))))
    assert unknown.severity == "warning" and "cannot be proven" in unknown.message
    assert one(check_quorum(ctx(snap()))).ok  # disk witness: 2 of 3 votes remain


def test_capacity_names_the_group_nobody_else_may_own() -> None:
    s = snap(groups=(GroupInfo("Pinned", GroupState.Online, "NODE1", possible_owners=("NODE1",)),))
    r = one(check_capacity(ctx(s)))
    assert r.blocking and r.message == "draining NODE1: no other node may own Pinned"


def test_anti_affinity_is_a_warning_naming_the_pair() -> None:
    s = snap(groups=(GroupInfo("SQL1", GroupState.Online, "NODE1", anti_affinity=("sql",)),
                     GroupInfo("SQL2", GroupState.Online, "NODE2", anti_affinity=("sql",))))
    r = one(check_anti_affinity(ctx(s)))
    assert r.severity == "warning" and "SQL1 -> NODE2 while NODE1 is out" in r.message
    assert check_anti_affinity(ctx(snap())) == []


def test_version_join_refuses_a_target_two_majors_up() -> None:
    r = one(check_version_join(ctx(snap(), target="10.3")))
    assert r.blocking and "could not rejoin" in r.message
    assert one(check_version_join(ctx(snap()))).severity == "warning"  # no target
    assert one(check_version_join(ctx(snap(), target="9.3/8.9600"))).ok


def test_lock_held_by_someone_else() -> None:
    c = ctx(snap())
    c.lock = LockInfo("other", "bob@host", 7, "2026-01-01T00:00:00Z")
    r = one(check_lock(c))
    assert r.blocking and "bob@host" in r.message
    c.run_id = "other"
    assert one(check_lock(c)).ok


def test_action_problem_is_the_message() -> None:
    c = ctx(snap())
    c.action_problem = "no upgrade action given"
    assert one(check_action(c)).message == "no upgrade action given"


def test_functional_level_needs_a_2016_target() -> None:
    c = ctx(snap(), raise_functional_level=True)
    r = one(check_functional_level(c))
    assert r.blocking and "9.x or later" in r.message
    assert one(check_functional_level(ctx(snap(), raise_functional_level=True, target="9.3"))).ok
    assert check_functional_level(ctx(snap())) == []


def test_every_check_is_named_and_run_in_order() -> None:
    names = [c.name for c in run_checks(snap(), UpgradeOptions(target="9.3/8.9600"),
                                        order=("NODE1", "NODE2"), lock=None, lock_error=None,
                                        run_id=None, action_problem=None,
                                        functional_level_supported=True)]
    assert names == ["nodes-up", "groups-healthy", "no-paused-nodes", "node-order", "node-limit",
                     "upgrade-path", "quorum", "capacity", "version-join", "lock", "action",
                     "validation-group", "core-group"]
    assert all(f.__name__.startswith("check_") and f.__doc__ for f in CHECKS)


# ---- upgrade paths and node limits (versions.py facts) -------------------------------------------


@pytest.mark.parametrize(("now", "target", "words"), [
    (W2003, "5.6001", ["Windows Server 2003 -> 2008 has no rolling upgrade", "KB 935197",
                       "migrate the roles"]),
    (W2008, "6.7601", ["migration to a new cluster", "migrate the roles"]),
    (W2008R2, "7.9200", ["migration to a new cluster", "migrate the roles"]),
    (ServiceVersion(7, 9200), "8.9600", ["Cluster OS Rolling Upgrade starts at 2012 R2"]),
    (W2016, "12.4", ["skips a release", "one release at a time", "Windows Server 2019",
                     "migrate the roles"]),
])
def test_unsupported_paths_are_refused_naming_the_alternative(now: ServiceVersion, target: str,
                                                             words: list[str]) -> None:
    s = snap(nodes=(node("NODE1", now), node("NODE2", now)))
    r = one(check_upgrade_path(ctx(s, target=target)))
    assert r.blocking and r.name == "upgrade-path"
    assert "Supported alternative:" in r.message
    for w in words:
        assert w in r.message, (w, r.message)


@pytest.mark.parametrize(("now", "target", "kind"), [
    (W2000, "4.3790", "rolling upgrade"), (W2012R2, "9.3", "Cluster OS Rolling Upgrade"),
    (W2003, "4.3790", "service packs"),
])
def test_supported_paths_pass_with_their_source(now: ServiceVersion, target: str,
                                                kind: str) -> None:
    s = snap(nodes=(node("NODE1", now), node("NODE2", now)))
    r = one(check_upgrade_path(ctx(s, target=target)))
    assert r.ok and kind in r.message


def test_upgrade_path_without_target_waits_for_the_first_node() -> None:
    r = one(check_upgrade_path(ctx(snap(nodes=(node("A", W2000), node("B", W2000))))))
    assert r.ok and r.severity == "warning"
    assert "cannot be checked until the first node is upgraded" in r.message
    assert "Windows 2000" in r.message


def test_upgrade_path_other_refusals() -> None:
    unknown = one(check_upgrade_path(ctx(snap(nodes=(node("A", None), node("B", None))),
                                         target="4.3790")))
    assert unknown.severity == "warning" and "versions are unknown" in unknown.message
    apart = one(check_upgrade_path(ctx(snap(nodes=(node("A", W2000), node("B", W2008))),
                                       target="5.6001")))
    assert apart.blocking and "more than one apart" in apart.message
    down = one(check_upgrade_path(ctx(snap(nodes=(node("A", W2003), node("B", W2003))),
                                      target="3.2195")))
    assert down.blocking and "downgraded" in down.message
    bogus = one(check_upgrade_path(ctx(snap(), target="42.0")))
    assert bogus.blocking and "no known release" in bogus.message
    # A resumed 2000 -> 2003 run: one node already on 2003.
    mid = one(check_upgrade_path(ctx(snap(nodes=(node("A", W2003), node("B", W2000))),
                                     target="4.3790")))
    assert mid.ok


def test_node_limits_by_release() -> None:
    eight_2000 = snap(nodes=[node(f"N{i}", W2000) for i in range(1, 9)])
    r = check_node_limit(ctx(eight_2000, target="4.3790"))[0]
    assert r.blocking and "8 nodes, but Windows 2000 Advanced Server allows at most 4" in r.message
    assert "KB 288778" in r.message and "migrate the roles" in r.message
    nine_2003 = snap(nodes=[node(f"N{i}", W2003) for i in range(1, 10)])
    assert "at most 8" in check_node_limit(ctx(nine_2003))[0].message
    two = check_node_limit(ctx(snap(nodes=(node("A", W2000), node("B", W2000))),
                               target="4.3790"))
    assert len(two) == 1 and two[0].ok
    three = check_node_limit(ctx(snap(nodes=[node(f"N{i}", W2000) for i in range(3)]),
                                 target="4.3790"))
    assert three[0].ok and three[1].name == "node-limit-edition"
    assert three[1].severity == "warning" and "Datacenter" in three[1].message
    seventeen = snap(nodes=[node(f"N{i}", W2008R2) for i in range(17)])
    assert check_node_limit(ctx(seventeen))[0].blocking
    unknown = one(check_node_limit(ctx(snap(nodes=(node("A", None), node("B", None))))))
    assert unknown.severity == "warning" and "cannot be checked" in unknown.message


# ---- default order -------------------------------------------------------------------------------


def test_default_order_is_node_id_node_1_first() -> None:
    s = snap(nodes=(node("NODE2", node_id="2"), node("NODE10", node_id="10"),
                    node("NODE1", node_id="1")),
             groups=(GroupInfo("a", GroupState.Online, "NODE1"),
                     GroupInfo("b", GroupState.Online, "NODE1")))
    assert resolve_order(s, UpgradeOptions()) == ("NODE1", "NODE2", "NODE10")
    cau = UpgradeOptions(order_policy="fewest-groups-first")
    assert resolve_order(s, cau) == ("NODE2", "NODE10", "NODE1")
    assert resolve_order(s, UpgradeOptions(order=["node10", "node1", "node2"])) == (
        "NODE10", "NODE1", "NODE2")


def test_order_policy_is_validated_and_round_trips() -> None:
    with pytest.raises(ValueError, match="order_policy must be one of node-id,"
                                         " fewest-groups-first, not 'random'"):
        UpgradeOptions(order_policy="random")
    opts = UpgradeOptions(order_policy="Fewest-Groups-First")
    assert UpgradeOptions.from_dict(opts.to_dict()).order_policy == "fewest-groups-first"
    old = opts.to_dict()
    del old["order_policy"]  # a journal written before the policy existed
    assert UpgradeOptions.from_dict(old).order_policy == "node-id"


# ---- the validation group -----------------------------------------------------------------------


def legacy() -> ClusterSnapshot:
    """A Windows 2000 cluster on its way to 2003, with the resource types of cc738014."""
    groups = (GroupInfo("Cluster Group", GroupState.Online, "NODE1", is_core=True),
              GroupInfo("DHCP Group", GroupState.Online, "NODE1"),
              GroupInfo("WINS Group", GroupState.Online, "NODE2"),
              GroupInfo("Web Group", GroupState.Online, "NODE2"),
              GroupInfo("Exchange Virtual Server 1", GroupState.Online, "NODE1"),
              GroupInfo("File Group 1", GroupState.Online, "NODE1"),
              GroupInfo("File Group 2", GroupState.Online, "NODE2"),
              GroupInfo("Printers", GroupState.Offline, "NODE2"))
    res = (ResourceInfo("Cluster IP Address", "Cluster Group", ResourceState.Online, "IP Address"),
           ResourceInfo("DHCP Server", "DHCP Group", ResourceState.Online, "DHCP Service"),
           ResourceInfo("WINS Server", "WINS Group", ResourceState.Online, "WINS Service"),
           ResourceInfo("Web Site", "Web Group", ResourceState.Online, "IIS Server Instance"),
           ResourceInfo("SA", "Exchange Virtual Server 1", ResourceState.Online,
                        "Microsoft Exchange System Attendant"),
           ResourceInfo("Share 1", "File Group 1", ResourceState.Online, "File Share"),
           ResourceInfo("Disk 1", "File Group 1", ResourceState.Online, "Physical Disk"),
           ResourceInfo("Share 2", "File Group 2", ResourceState.Online, "File Share"))
    return snap(nodes=(node("NODE1", W2000, node_id="1"), node("NODE2", W2000, node_id="2")),
                groups=groups, resources=res, quorum="")


def test_validation_group_by_the_rules_on_a_2000_to_2003_run() -> None:
    choice = choose_validation_group(legacy(), UpgradeOptions(target="4.3790"))
    assert choice.group is not None and choice.group.name == "File Group 2"  # fewest resources
    rules = dict(choice.excluded)
    assert rules["Cluster Group"] == RULE_CORE
    assert rules["DHCP Group"] == rules["WINS Group"] == RULE_NO_FAILBACK
    assert rules["Web Group"] == rules["Exchange Virtual Server 1"] == RULE_OWN_PROCEDURE
    assert rules["Printers"] == "not Online"
    text = one(check_validation_group(ctx(legacy(), target="4.3790"))).message
    assert text.startswith("File Group 2 (priority 2000; lowest priority (2000, 1 resource(s))")
    assert "(KB 293302): DHCP Group, WINS Group" in text and "cc738014" in text


def test_dhcp_may_validate_when_no_2000_node_is_involved() -> None:
    s = legacy()
    s = s.evolve(nodes=tuple(node(n.name, W2012R2) for n in s.nodes),
                 groups=tuple(g for g in s.groups if g.name not in ("File Group 1",
                                                                   "File Group 2")))
    choice = choose_validation_group(s, UpgradeOptions(target="9.3"))
    assert choice.group is not None and choice.group.name in ("DHCP Group", "WINS Group")


def test_lowest_priority_wins_then_fewest_resources() -> None:
    s = snap(groups=(GroupInfo("Big", GroupState.Online, "NODE1", priority=1000),
                     GroupInfo("Small", GroupState.Online, "NODE1", priority=2000)),
             resources=[ResourceInfo(f"r{i}", "Big", ResourceState.Online, "File Share")
                        for i in range(5)])
    assert choose_validation_group(s, UpgradeOptions()).group.name == "Big"  # type: ignore[union-attr]


def test_a_named_group_breaking_a_rule_is_refused() -> None:
    r = one(check_validation_group(ctx(legacy(), target="4.3790", validation_group="DHCP Group")))
    assert r.blocking and r.message.startswith("DHCP Group: holds DHCP or WINS")
    core = one(check_validation_group(ctx(legacy(), validation_group="cluster group")))
    assert core.blocking and "core group" in core.message
    unknown = one(check_validation_group(ctx(legacy(), validation_group="Nope")))
    assert unknown.blocking and "'File Group 1'" in unknown.message  # lists the valid names


def test_no_eligible_group_is_a_warning_listing_the_rules() -> None:
    s = snap(groups=(GroupInfo("Grupo de Cluster", GroupState.Online, "NODE1", is_core=True),))
    r = one(check_validation_group(ctx(s)))
    assert r.severity == "warning" and "Grupo de Cluster" in r.message and "core group" in r.message


def test_core_group_is_found_by_the_flag_not_the_name() -> None:
    # A localized cluster: the core group is "Grupo de Cluster"; a group merely named
    # "Cluster Group" is an ordinary group and may validate.
    s = snap(groups=(GroupInfo("Grupo de Cluster", GroupState.Online, "NODE1", is_core=True),
                     GroupInfo("Cluster Group", GroupState.Online, "NODE2", priority=1000)))
    assert choose_validation_group(s, UpgradeOptions()).group.name == "Cluster Group"  # type: ignore[union-attr]
    assert one(check_core_group(ctx(s))).message.startswith("Grupo de Cluster on NODE1")
    none = one(check_core_group(ctx(snap(groups=()))))
    assert none.severity == "warning" and "no core group" in none.message


def test_mixed_os_core_move_is_predicted_not_a_failure() -> None:
    # Nodes on 2012 R2, target 2016: once NODE2 (first) is back, the cluster moves its core
    # resources to it (Cluster operating system rolling upgrade page).
    s = snap(nodes=(node("NODE1", node_id="1"), node("NODE2", node_id="2")))
    order = ("NODE2", "NODE1")
    drains, before = simulate_run(s, order, core_to_first_upgraded=True)
    assert drains[0].after["Cluster Group"] == "NODE2"
    assert "Cluster Group" not in drains[1].targets or drains[1].targets["Cluster Group"] == "NODE2"
    assert before["Cluster Group"] == "NODE2"
    r = one(check_core_group(ctx(s, order=order, target="9.3")))
    assert r.ok and "expected to move to NODE2" in r.message and "not a failure" in r.message
    # 2000 -> 2003 has no such move.
    plain = one(check_core_group(ctx(legacy(), target="4.3790")))
    assert "expected to move" not in plain.message


def test_anti_affinity_only_for_a_shared_class() -> None:
    s = snap(groups=(GroupInfo("SQL1", GroupState.Online, "NODE1", anti_affinity=("sql",)),
                     GroupInfo("Web", GroupState.Online, "NODE2", anti_affinity=("web",))))
    assert check_anti_affinity(ctx(s)) == []


def test_unknown_resource_types_on_a_legacy_run_are_a_warning() -> None:
    # cluster.exe's `cluster res` listing has names, groups, owners and states, but no types.
    s = legacy()
    s = s.evolve(resources=tuple(ResourceInfo(r.name, r.group, r.state) for r in s.resources))
    results = check_validation_group(ctx(s, target="4.3790"))
    assert [r.name for r in results] == ["validation-group", "validation-group-types"]
    assert results[1].severity == "warning" and "KB 293302" in results[1].message
    assert results[0].ok
    # With the types read, no warning.
    assert len(check_validation_group(ctx(legacy(), target="4.3790"))) == 1
    # Not a 2000/2003 run: no warning either.
    modern = snap(resources=[ResourceInfo("x", "File Group 3", ResourceState.Online)])
    assert len(check_validation_group(ctx(modern, target="9.3"))) == 1


def test_path_verdict_for_a_version_seen_only_after_the_first_node() -> None:
    from clusterlib.upgrade.preflight import path_verdict

    assert path_verdict(3, 4)[0] and "cc737035" in path_verdict(3, 4)[1]
    ok, text = path_verdict(4, 5)
    assert not ok and "Supported alternative: build a new cluster" in text and "KB 935197" in text
    with pytest.raises(ValueError, match="unknown cluster-service major"):
        path_verdict(3, 42)
