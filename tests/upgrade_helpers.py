"""Shared pieces of the rolling-upgrade tests: fast simulators, the installer action, safety assertions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clusterlib
from clusterlib import GroupState, NodeState
from clusterlib.sim import SimCluster
from clusterlib.upgrade import RemoteCommand

SPEED = 5000.0
SETUP = r"D:\setup.exe /unattend"


def installer() -> RemoteCommand:
    return RemoteCommand(SETUP)


def connect(sim: SimCluster) -> clusterlib.Cluster:
    return clusterlib.connect(sim)


def classic_ps(**kw: Any) -> SimCluster:
    """The classic two-node layout on 2012 R2, upgrading to 2016 (PowerShell with drain)."""
    kw.setdefault("speed", SPEED)
    return SimCluster.classic(os="2012R2", upgrade_to="2016", **kw)


def four_node(**kw: Any) -> SimCluster:
    kw.setdefault("speed", SPEED)
    return SimCluster.build(4, 12, os="2012R2", upgrade_to="2016", **kw)


def online_at_start(sim: SimCluster) -> set[str]:
    return {g.name for g in sim.snapshot().groups if g.state is GroupState.Online}


def assert_safe(sim: SimCluster, online: set[str]) -> None:
    """No group that was Online at the start is Offline now (Failed only if the cluster failed it
    on a node, which the tests name explicitly); never more than one node out."""
    snap = sim.snapshot()
    offline = [g.name for g in snap.groups if g.name in online and g.state is GroupState.Offline]
    assert not offline, f"left Offline: {offline}"
    out = [n.name for n in snap.nodes if n.state is not NodeState.Up]
    assert len(out) <= 1, f"more than one node out: {out}"


def all_upgraded(sim: SimCluster, key: str = "2016") -> bool:
    return all(n.release.key == key for n in sim.nodes.values())


def journal_path(tmp_path: Path, name: str = "upgrade.json") -> Path:
    return tmp_path / name


def iter_events(events: list[Any], kind: str) -> Iterator[Any]:
    return (e for e in events if type(e).__name__ == kind)
