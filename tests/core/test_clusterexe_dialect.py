"""The cluster.exe dialect against the simulator, over each transport: detection, snapshots,
actions, error mapping, round trips, hostile names, and parser round trips of simulator layouts."""

from __future__ import annotations

import json
import string

import pytest
from conftest import ConnectSim
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import clusterlib
from clusterlib.cluster import Group
from clusterlib.dialects.clusterexe_dialect import ClusterExeDialect
from clusterlib.errors import (
    ClusterError,
    ClusterRefused,
    GroupNotFound,
    NodeNotFound,
    NotSupported,
    ParseError,
    PreconditionFailed,
    UnsafeName,
)
from clusterlib.model import ClusterSnapshot, GroupState, NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim.transport import InProcessTransport
from clusterlib.wire import CmdLine, CmdResult
from clusterlib.wire import cluster_text as cx


def essentials(snap: ClusterSnapshot) -> tuple[object, ...]:
    """What cluster.exe can say: names, ids, states, owners, versions."""
    return (
        snap.name,
        tuple((n.name, n.id, n.state, n.os_version, n.highest_version, n.lowest_version)
              for n in snap.nodes),
        tuple((g.name, g.owner, g.state, g.is_core) for g in snap.groups),
    )


def cmd_lines(sim: SimCluster) -> int:
    return len(sim.calls("cmd"))


# ---- detection ----------------------------------------------------------------------------------


def test_classic_cluster_is_detected_as_clusterexe(connect_sim: ConnectSim) -> None:
    cluster = connect_sim(SimCluster.classic())
    assert cluster.dialect_name == "clusterexe"
    assert cluster.capabilities.drain is False and cluster.capabilities.failback is False
    assert isinstance(cluster.dialect, ClusterExeDialect)


def test_override_on_a_cluster_with_both(connect_sim: ConnectSim) -> None:
    # The FailoverClusters module of 2008 R2 over PowerShell needs ConvertTo-Json (3.0 on):
    # WMF installed (a stock 2008 R2 runs 2.0 and is driven with cluster.exe).
    sim = SimCluster.classic(os="2008R2", wmf51=True)
    assert connect_sim(sim).dialect_name == "powershell-nodrain"
    assert connect_sim(sim, dialect="clusterexe").dialect_name == "clusterexe"
    assert connect_sim(sim, dialect="cluster.exe").dialect_name == "clusterexe"


def test_modern_cluster_without_cluster_exe(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic(os="2016")
    assert connect_sim(sim).dialect_name == "powershell"
    with pytest.raises(NotSupported, match=r"cluster\.exe"):
        connect_sim(sim, dialect="clusterexe")


def test_powershell_forced_on_legacy_says_use_clusterexe(connect_sim: ConnectSim) -> None:
    with pytest.raises(NotSupported, match="dialect='clusterexe'"):
        connect_sim(SimCluster.classic(), dialect="powershell")


def test_wrong_cluster_name_is_refused_at_connect() -> None:
    with pytest.raises(ClusterRefused) as err:
        clusterlib.connect(SimCluster.classic(), cluster="OTHER")
    assert err.value.win32_code == 1722


def test_unsafe_cluster_name_is_refused_before_sending() -> None:
    sim = SimCluster.classic()
    with pytest.raises(UnsafeName):
        ClusterExeDialect(InProcessTransport(sim), cluster='C" & del x')
    assert not sim.calls("cluster.exe")


# ---- snapshots ----------------------------------------------------------------------------------


def test_snapshot_equals_ground_truth_in_one_round_trip(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    before = cmd_lines(sim)
    snap = cluster.snapshot()
    assert cmd_lines(sim) - before == 1
    assert essentials(snap) == essentials(sim.snapshot())
    assert snap.dialect == "clusterexe"
    assert snap.quorum_type == "DiskOnly" and snap.keeps_quorum_without("NODE1")
    node = snap.node("NODE1")
    assert str(node.os_version) .startswith("5.0.2195") and str(node.highest_version) == "3.2195"


def test_snapshot_with_owners_in_two_round_trips(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    sim.add_group("Pinned", owner="NODE2", possible_owners=["NODE2"],
                  preferred_owners=["NODE2"])
    cluster = connect_sim(sim)
    before = cmd_lines(sim)
    snap = cluster.snapshot(owners=True)
    assert cmd_lines(sim) - before == 2
    truth = sim.snapshot()
    assert essentials(snap) == essentials(truth)
    for g in truth.groups:
        mine = snap.group(g.name)
        assert mine.preferred_owners == g.preferred_owners
        assert [p.lower() for p in mine.possible_owners] == [p.lower() for p in g.possible_owners]
    assert [(r.name, r.group, r.owner) for r in snap.resources] == [
        (r.name, r.group, r.owner) for r in truth.resources]


def test_snapshot_of_a_large_cluster_stays_few_round_trips() -> None:
    sim = SimCluster.build(8, 300, os="2003")
    cluster = clusterlib.connect(sim)
    before = cmd_lines(sim)
    snap = cluster.snapshot()
    assert cmd_lines(sim) - before == 1
    assert essentials(snap) == essentials(sim.snapshot())
    before = cmd_lines(sim)
    cluster.snapshot(owners=True)
    # 300 group + 300 resource /listowners lines of ~60 characters: a handful of lines.
    assert 2 < cmd_lines(sim) - before <= 8


def test_states_other_than_up_and_online(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"NODE1": ["A long group name that overflows", "Part"], "NODE2": ["Off"],
                      "NODE-THREE": []}, os="2003", quorum="DiskOnly")
    sim.groups["Part"].state = GroupState.PartialOnline
    sim.groups["Off"].state = GroupState.Offline
    sim.pause_node("NODE2")
    sim.nodes["NODE-THREE"].state = NodeState.Down
    cluster = connect_sim(sim)
    assert essentials(cluster.snapshot()) == essentials(sim.snapshot())
    sim.move_group("Part", "NODE1")  # a no-op move keeps PartialOnline
    sim.groups["Part"].state = GroupState.Failed
    assert essentials(cluster.snapshot()) == essentials(sim.snapshot())


def test_read_node_and_group(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    d = connect_sim(sim).dialect
    before = cmd_lines(sim)
    node = d.read_node("node2")
    assert cmd_lines(sim) - before == 1
    assert node.name == "NODE2" and node.os_version is not None and node.os_version.build == 2195
    group = d.read_group("SQL Group 1")
    assert (group.owner, group.state) == ("NODE1", GroupState.Online)
    with pytest.raises(GroupNotFound) as gerr:
        d.read_group("Nope")
    assert "SQL Group 1" in gerr.value.valid
    with pytest.raises(NodeNotFound):
        d.read_node("NODE9")


def test_unreadable_output_raises_parse_error_with_the_text() -> None:
    class Garbled(InProcessTransport):
        def run_cmd(self, line: CmdLine) -> CmdResult:
            real = super().run_cmd(line)
            return type(real)(real.stdout.replace("Online", "Onlnie"), real.stderr,
                              real.exit_code)

    d = ClusterExeDialect(Garbled(SimCluster.classic()))
    with pytest.raises(ParseError) as err:
        d.snapshot()
    assert "Onlnie" in err.value.text


# ---- actions and errors -------------------------------------------------------------------------


def test_pause_drains_by_moves_and_resume(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    snap = cluster.node("NODE1").pause()
    assert snap.node("NODE1").state is NodeState.Paused
    assert not snap.groups_on("NODE1")  # core group too: clusterlib moved everything
    assert [c.detail["argv"] for c in sim.calls("cluster.exe")
            if "/pause" in c.detail["argv"]] == [["node", "NODE1", "/pause"]]
    moves = [c.detail["argv"] for c in sim.calls("cluster.exe")
             if any(a.startswith("/moveto") for a in c.detail["argv"])]
    assert len(moves) == 3
    snap = cluster.node("NODE1").resume()
    assert snap.node("NODE1").state is NodeState.Up
    assert essentials(snap) == essentials(sim.snapshot())


def test_resume_with_failback_moves_preferred_groups_back(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    cluster.node("NODE1").pause()
    snap = cluster.node("NODE1").resume(failback="Immediate")
    assert {g.name for g in snap.groups_on("NODE1")} == {"SQL Group 1", "SQL Group 2"}


def test_move_and_back(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    snap = cluster.group("SQL Group 1").move("NODE2")
    assert snap.group("SQL Group 1").owner == "NODE2"
    assert sim.group("SQL Group 1").owner == "NODE2"
    snap = Group(cluster, "SQL Group 1").move()
    assert snap.group("SQL Group 1").owner == "NODE1"


def test_resume_of_a_running_node_maps_5058(connect_sim: ConnectSim) -> None:
    cluster = connect_sim(SimCluster.classic())
    d = cluster.dialect
    command = d.resume_command("NODE1", failback=None)
    assert isinstance(command, CmdLine) and command.idempotent is False
    with pytest.raises(ClusterRefused) as err:
        d.execute(command)
    assert err.value.win32_code == 5058
    assert err.value.symbol == "ERROR_CLUSTER_NODE_NOT_PAUSED"
    assert "node \"NODE1\" /resume" in str(err.value)
    with pytest.raises(PreconditionFailed):
        cluster.node("NODE1").resume()


def test_move_to_paused_node_refused_before_sending(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    sim.pause_node("NODE2")
    sent = len(sim.calls("cluster.exe"))
    with pytest.raises(PreconditionFailed, match="paused"):
        cluster.group("SQL Group 1").move("NODE2")
    assert not any(any(a.startswith("/move") for a in c.detail["argv"])
                   for c in sim.calls("cluster.exe")[sent:])
    # Sent anyway (bypassing the handle), the cluster refuses with 5070.
    with pytest.raises(ClusterRefused) as err:
        cluster.dialect.execute(cluster.dialect.move_command("SQL Group 1", "NODE2", wait=5))
    assert err.value.win32_code == 5070


def test_actions_are_not_idempotent_and_describe_themselves() -> None:
    d = ClusterExeDialect(InProcessTransport(SimCluster.classic()))
    pause = d.pause_command("NODE 1", drain=True)
    move = d.move_command("SQL Group 1", "NODE2", wait=30)
    anywhere = d.move_command("SQL Group 1", None, wait=None)
    assert pause.describe() == 'cluster.exe node "NODE 1" /pause'
    assert move.describe() == 'cluster.exe group "SQL Group 1" /moveto:"NODE2" /wait:30'
    assert anywhere.describe() == 'cluster.exe group "SQL Group 1" /move'
    assert not any(c.idempotent for c in (pause, move, anywhere))
    with pytest.raises(NotSupported):
        d.functional_level_command(what_if=True)


def test_cluster_option_is_carried() -> None:
    sim = SimCluster.classic()
    cluster = clusterlib.connect(sim, cluster="CLUSTER1")
    cluster.snapshot()
    assert all(c.detail["argv"][0] == "/cluster:CLUSTER1" for c in sim.calls("cluster.exe"))


# ---- private properties (the upgrade lock) ------------------------------------------------------


def test_private_properties_round_trip(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    d = connect_sim(sim).dialect
    assert d.get_private("ClusterlibLock") is None
    d.set_private("ClusterlibLock", "host-1 pid 42")
    assert sim.private_props["ClusterlibLock"] == "host-1 pid 42"
    assert d.get_private("ClusterlibLock") == "host-1 pid 42"
    hostile = json.dumps({"owner": "a&b", "note": '100% "done" | <x>'})
    d.set_private("ClusterlibLock", hostile)
    assert d.get_private("ClusterlibLock") == hostile
    d.delete_private("ClusterlibLock")
    assert d.get_private("ClusterlibLock") is None and "ClusterlibLock" not in sim.private_props
    with pytest.raises(UnsafeName):
        d.set_private("bad key", "x")


# ---- hostile names ------------------------------------------------------------------------------

HOSTILE = st.text(
    alphabet=st.sampled_from([*string.ascii_letters, *string.digits, *" $()`;|&%\"'!^<>,:=/\\",
                              "\n", "\r", "\t", "é", "ß", "漢", "\u00a0", "-", "."]),
    min_size=1, max_size=24)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=HOSTILE)
def test_hostile_group_names_refused_or_carried_byte_for_byte(connect_sim: ConnectSim,
                                                              name: str) -> None:
    assume(name.lower() not in {"cluster group"})
    sim = SimCluster({"NODE1": [], "NODE2": []}, os="2003")
    sim.add_group(name, owner="NODE1")
    cluster = connect_sim(sim)
    sent = len(sim.calls("cluster.exe"))
    try:
        cluster.dialect.execute(cluster.dialect.move_command(name, "NODE2", wait=30))
    except UnsafeName:
        assert len(sim.calls("cluster.exe")) == sent  # nothing was sent
        return
    call = sim.calls("cluster.exe")[-1]
    assert call.detail["argv"][1] == name  # received byte for byte
    assert sim.group(name).owner == "NODE2"  # and acted on that exact group, nothing else
    try:
        info = cluster.dialect.read_group(name)
    except ParseError:
        return  # a name the listing cannot show unambiguously is refused, never half-read
    assert info.name == name.strip() or info.name == name


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=HOSTILE)
def test_hostile_node_names_refused_or_carried_byte_for_byte(connect_sim: ConnectSim,
                                                             name: str) -> None:
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    sent = len(sim.calls("cluster.exe"))
    try:
        cluster.dialect.execute(cluster.dialect.pause_command(name, drain=False))
    except UnsafeName:
        assert len(sim.calls("cluster.exe")) == sent
        return
    except ClusterRefused as exc:
        assert exc.win32_code == 5042  # no such node: refused by the cluster, not executed
    call = sim.calls("cluster.exe")[-1]
    assert call.detail["argv"] == ["node", name, "/pause"]
    assert all(n.state is NodeState.Up for n in sim.nodes.values())


def test_known_hostile_names() -> None:
    sim = SimCluster.classic()
    d = ClusterExeDialect(InProcessTransport(sim))
    for bad in ('a"b', "50%", "x & del y", "a|b", "a\nb", "a^b", "a<b", "a>b", "!x!"):
        with pytest.raises(UnsafeName):
            d.move_command(bad, "NODE2", wait=5)
        with pytest.raises(UnsafeName):
            d.read_group(bad)
    assert not sim.calls("cluster.exe")
    for fine in ("$(rm -rf /)", "`id`", "a;b", "Grüße 漢字", "it's", "(x)", "-y", "/evict"):
        sim.add_group(fine, owner="NODE1")
        d.execute(d.move_command(fine, "NODE2", wait=30))
        assert sim.calls("cluster.exe")[-1].detail["argv"][1] == fine
        assert sim.group(fine).owner == "NODE2"


# ---- parser round trips of simulator layouts ----------------------------------------------------

# Computer names: up to 15 characters, starting with a letter (a name of dashes alone would read
# as a table rule; Windows does not allow one).
NODE_NAME = st.builds(lambda a, b: a + b, st.sampled_from(string.ascii_uppercase),
                      st.text(alphabet=string.ascii_uppercase + string.digits + "-", max_size=14))
GROUP_WORD = st.text(alphabet=string.ascii_letters + string.digits + "()-_.é", min_size=1,
                     max_size=12)
GROUP_NAME = st.lists(GROUP_WORD, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(nodes=st.lists(NODE_NAME, min_size=1, max_size=5, unique_by=str.lower),
       groups=st.lists(GROUP_NAME, min_size=0, max_size=8, unique_by=str.lower),
       data=st.data())
def test_round_trip_random_layouts(nodes: list[str], groups: list[str],
                                   data: st.DataObject) -> None:
    assume("cluster group" not in {g.lower() for g in groups})
    layout: dict[str, list[str]] = {n: [] for n in nodes}
    for g in groups:
        layout[data.draw(st.sampled_from(nodes))].append(g)
    # Windows 2000 Advanced Server clusters have at most 2 nodes (KB 288778).
    releases = ["2000", "2003", "2008"] if len(nodes) <= 2 else ["2003", "2008"]
    sim = SimCluster(layout, os=data.draw(st.sampled_from(releases)))
    for sg in sim.groups.values():
        sg.state = data.draw(st.sampled_from([GroupState.Online, GroupState.Offline,
                                             GroupState.PartialOnline, GroupState.Failed]))
    for n in sim.nodes.values():
        n.state = data.draw(st.sampled_from([NodeState.Up, NodeState.Paused, NodeState.Down,
                                             NodeState.Joining]))
    d = ClusterExeDialect(InProcessTransport(sim))
    try:
        snap = d.snapshot(owners=True)
    except ParseError as exc:
        # The only excusable refusal: a row the layout itself makes ambiguous.
        assert "ambiguous" in str(exc)
        return
    assert essentials(snap) == essentials(sim.snapshot())


def test_parse_error_never_half_parses() -> None:
    text = cx.format_nodes(SimCluster.classic().snapshot().nodes) + "trailing junk\r\n"
    with pytest.raises(ParseError):
        cx.parse_nodes(text)


def test_errors_are_cluster_errors() -> None:
    assert issubclass(UnsafeName, ClusterError)


def test_read_group_with_owners_in_two_round_trips(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()
    sim.add_group("Pinned", owner="NODE2", possible_owners=["NODE2"], preferred_owners=["NODE2"])
    d = connect_sim(sim).dialect
    before = cmd_lines(sim)
    g = d.read_group("pinned", owners=True)
    assert cmd_lines(sim) - before == 2
    assert (g.name, g.preferred_owners) == ("Pinned", ("NODE2",))
    assert [p.lower() for p in g.possible_owners] == ["node2"]
    assert not g.can_be_owned_by("NODE1")
    d.snapshot()  # the core group is found from the quorum resource; its name is localized
    core = d.read_group(next(g.name for g in sim.groups.values() if g.is_core), owners=True)
    assert core.is_core and core.can_be_owned_by("NODE2")
