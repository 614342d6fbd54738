"""Simulator fidelity checks: run against the simulator by default, against a real cluster when
CLUSTERLIB_TEST_HOST, CLUSTERLIB_TEST_USERNAME and CLUSTERLIB_TEST_PASSWORD are set (compare moto's
``aws_verified``). Only read-only and reversible actions: snapshot, pause/resume of one node, and
moving one named non-critical group (CLUSTERLIB_TEST_GROUP) away and back."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import clusterlib
from clusterlib import GroupState, NodeState
from clusterlib.sim import SimCluster

pytestmark = pytest.mark.verified

REAL = bool(os.environ.get("CLUSTERLIB_TEST_HOST"))


@pytest.fixture
def target() -> Iterator[tuple[clusterlib.Cluster, str]]:
    """(cluster, test group name): a real cluster when configured, else the simulator."""
    if REAL:
        cluster = clusterlib.connect(
            os.environ["CLUSTERLIB_TEST_HOST"],
            username=os.environ.get("CLUSTERLIB_TEST_USERNAME"),
            password=os.environ.get("CLUSTERLIB_TEST_PASSWORD"),
            auth=os.environ.get("CLUSTERLIB_TEST_AUTH", "negotiate"),
            cluster=os.environ.get("CLUSTERLIB_TEST_CLUSTER") or None,
        )
        group = os.environ.get("CLUSTERLIB_TEST_GROUP")
        if not group:
            pytest.skip("set CLUSTERLIB_TEST_GROUP to a non-critical group to run against a real cluster")
    else:
        cluster = clusterlib.connect(SimCluster.build(nodes=3, groups=6, os="2016"))
        group = "Group 0006"
    try:
        yield cluster, group
    finally:
        cluster.close()


def test_snapshot_shape(target: tuple[clusterlib.Cluster, str]) -> None:
    cluster, group = target
    snap = cluster.snapshot(owners=True)
    assert snap.nodes and snap.groups
    assert any(g.is_core for g in snap.groups)
    assert all(n.highest_version is not None for n in snap.nodes)
    assert snap.group(group).owner in {n.name for n in snap.nodes}
    assert cluster.dialect_name in ("powershell", "powershell-nodrain", "clusterexe")


def test_move_test_group_away_and_back(target: tuple[clusterlib.Cluster, str]) -> None:
    cluster, group = target
    before = cluster.snapshot(owners=True)
    g = before.group(group)
    if g.state is not GroupState.Online:
        pytest.skip(f"{group} is {g.state.name}; the test needs it Online")
    home = g.owner
    assert home is not None
    others = [n.name for n in before.up_nodes if n.name != home and g.can_be_owned_by(n.name)]
    if not others:
        pytest.skip("no other Up node may own the test group")
    try:
        moved = cluster.group(group).move(others[0])
        assert moved.group(group).owner == others[0]
        assert moved.group(group).state is GroupState.Online
    finally:
        back = cluster.group(group).move(home)
    assert back.group(group).owner == home and back.group(group).state is GroupState.Online


def test_pause_and_resume_one_node(target: tuple[clusterlib.Cluster, str]) -> None:
    cluster, _group = target
    snap = cluster.snapshot()
    if len(snap.up_nodes) < 2 or not snap.health().ok:
        pytest.skip("needs a healthy cluster with two Up nodes")
    # The node that owns the fewest groups: the smallest disturbance.
    node = min(snap.up_nodes, key=lambda n: len(snap.groups_on(n.name))).name
    placement = snap.placement()
    try:
        paused = cluster.node(node).pause(drain=False)
        assert paused.node(node).state is NodeState.Paused
    finally:
        resumed = cluster.node(node).resume()
    assert resumed.node(node).state is NodeState.Up
    assert resumed.placement() == placement  # a plain pause moves nothing
