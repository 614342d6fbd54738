"""Round trips per handle operation (group.move, node.pause with drain, node.resume), pinned."""

from __future__ import annotations

from collections import Counter

import pytest

import clusterlib
from clusterlib import Cluster, GroupState, NodeState
from clusterlib.cluster import Group
from clusterlib.sim import GroupLocked, SimCluster
from clusterlib.sim.transport import InProcessTransport
from clusterlib.transports.base import Transport
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult


class CountingTransport:
    """The in-process transport, counting every pipeline and command line it carries."""

    def __init__(self, inner: InProcessTransport) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint
        self.time_scale = inner.time_scale
        self.sent: list[str] = []

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self.sent.append(pipeline.statements[0].commands[0].name)
        return self.inner.run_pipeline(pipeline)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        self.sent.append("cmd:" + line.line)
        return self.inner.run_cmd(line)

    def close(self) -> None:
        self.inner.close()

    def count(self) -> int:
        return len(self.sent)


# (os, dialect): the PowerShell dialect on Windows PowerShell 4.0 (2012 R2) and 5.1 (2016), and
# cluster.exe on 2008 R2.
DIALECTS = [("2012R2", "powershell"), ("2016", "powershell"), ("2008R2", "clusterexe")]
# Windows PowerShell 4.0 (a stock 2012 R2 node) drops Select-Object's notes from a single expanded
# object, so the dialect's first snapshot with owners is sent twice: compact, then in the full
# form, which it keeps from then on (clusterlib.dialects.powershell_dialect.owner_statements).
FIRST_OWNER_READ = {"2012R2": 1}


def _connect(os: str, dialect: str) -> tuple[SimCluster, Cluster, CountingTransport]:
    sim = SimCluster.classic(os=os)
    counter = CountingTransport(InProcessTransport(sim))
    assert isinstance(counter, Transport)
    cluster = clusterlib.connect(counter, dialect=dialect)
    counter.sent.clear()
    return sim, cluster, counter


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_group_move_to_is_read_move_confirm(os: str, dialect: str) -> None:
    sim, cluster, counter = _connect(os, dialect)
    info = Group(cluster, "SQL Group 1").move_to("NODE2")
    assert info.owner == "NODE2" and info.state is GroupState.Online
    assert sim.snapshot().group("SQL Group 1").owner == "NODE2"
    # One read (the group, its owners, the target's state), the move (which waits), one
    # confirming read.
    assert counter.count() == MOVE_TO[dialect], counter.sent


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_group_move_adds_one_snapshot(os: str, dialect: str) -> None:
    _sim, cluster, counter = _connect(os, dialect)
    snap = Group(cluster, "SQL Group 1").move("NODE2")
    assert snap.group("SQL Group 1").owner == "NODE2"
    assert counter.count() == MOVE_TO[dialect] + 1, counter.sent


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_move_prechecked_with_known_group_is_two_round_trips(os: str, dialect: str) -> None:
    sim, cluster, counter = _connect(os, dialect)
    known = cluster.dialect.read_group("SQL Group 1")
    counter.sent.clear()
    attempts = Group(cluster, "SQL Group 1").move_prechecked("NODE2", GroupState.Online,
                                                             known=known)
    assert attempts == 1
    assert sim.snapshot().group("SQL Group 1").owner == "NODE2"
    assert counter.count() == 2, counter.sent  # the move and one confirming read


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_retry_rereads_before_resending(os: str, dialect: str) -> None:
    sim, cluster, counter = _connect(os, dialect)
    sim.inject(GroupLocked("SQL Group 1", times=1))
    Group(cluster, "SQL Group 1").move_to("NODE2")
    assert sim.snapshot().group("SQL Group 1").owner == "NODE2"
    # A locked first attempt, then a re-read of the group before the second send.
    sent = counter.sent
    first_move = next(i for i, s in enumerate(sent) if _is_move(s))
    second_move = next(i for i, s in enumerate(sent) if i > first_move and _is_move(s))
    assert any(_is_group_read(s) for s in sent[first_move + 1:second_move]), sent


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_move_to_best_node_reads_one_snapshot(os: str, dialect: str) -> None:
    sim, cluster, counter = _connect(os, dialect)
    info = Group(cluster, "SQL Group 1").move_to()
    assert info.owner == "NODE2" and sim.snapshot().group("SQL Group 1").owner == "NODE2"
    # The snapshot with owners (it names the best node and holds the group), the move, one
    # confirming read; cluster.exe's snapshot with owners is two command lines.
    assert (counter.count() == {"powershell": 3, "clusterexe": 4}[dialect]
            + FIRST_OWNER_READ.get(os, 0)), counter.sent


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_move_read_names_what_is_missing(os: str, dialect: str) -> None:
    _sim, cluster, counter = _connect(os, dialect)
    with pytest.raises(clusterlib.GroupNotFound, match="SQL Group 1"):
        Group(cluster, "No Such Group").move_to("NODE2")
    with pytest.raises(clusterlib.NodeNotFound, match="NODE2"):
        Group(cluster, "SQL Group 1").move_to("NODE9")
    assert not [s for s in counter.sent if _is_move(s)], counter.sent


def _is_move(name: str) -> bool:
    return name == "Move-ClusterGroup" or (name.startswith("cmd:") and "/moveto:" in name)


def _is_group_read(name: str) -> bool:
    return name == "Get-ClusterGroup" or (name.startswith("cmd:") and "/status" in name
                                          and " group " in name)


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_node_pause_with_drain_and_resume_counts(os: str, dialect: str) -> None:
    _sim, cluster, counter = _connect(os, dialect)
    snap = cluster.node("NODE1").pause(drain=True)
    assert snap.node("NODE1").state is NodeState.Paused
    assert not [g for g in snap.groups_on("NODE1")]
    paused = Counter(counter.sent)
    counter.sent.clear()
    snap = cluster.node("NODE1").resume()
    assert snap.node("NODE1").state is NodeState.Up
    resumed = counter.count()
    assert (sum(paused.values()) == PAUSE[dialect] + FIRST_OWNER_READ.get(os, 0)), \
        [s[:60] for s in paused.elements()]
    assert resumed == RESUME[dialect], counter.sent


# One read of the group with its owners and the target node's state, the move (which waits), one
# confirming read; cluster.exe reads the resources' owners in a second command line.
MOVE_TO = {"powershell": 3, "clusterexe": 4}
# node(): one snapshot. pause(drain): a snapshot with owners, the suspend, the drain's state, a
# snapshot with owners for what the cluster left (the core group), its move and confirming read,
# a closing snapshot. cluster.exe has no drain: after the pause clusterlib moves each of NODE1's
# three groups itself from that one snapshot (a move and a confirming read each).
PAUSE = {"powershell": 8, "clusterexe": 14}
# node(), a snapshot, the resume, the node's state, a closing snapshot.
RESUME = {"powershell": 5, "clusterexe": 5}


@pytest.mark.parametrize(("os", "dialect"), DIALECTS)
def test_snapshot_and_private_is_one_snapshots_round_trips(os: str, dialect: str) -> None:
    """The upgrade's step boundary: the snapshot and the private property listing together
    cost what the snapshot alone costs, and read the same as the two reads apart."""
    _sim, cluster, counter = _connect(os, dialect)
    cluster.dialect.set_private("ClusterlibTestKey", 'a "value" & more')
    counter.sent.clear()
    plain = cluster.dialect.snapshot()
    alone = counter.count()
    listing = cluster.dialect.list_private()
    counter.sent.clear()
    snap, props = cluster.dialect.snapshot_and_private()
    assert counter.count() == alone
    assert props == listing and props["ClusterlibTestKey"] == 'a "value" & more'
    assert snap == plain
