"""Wire faults during a rolling upgrade (see the chaos tests below)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos_helpers import sim_installer

import clusterlib
from clusterlib import NodeState
from clusterlib.sim import SimCluster
from clusterlib.upgrade import RollingUpgrade


def test_reboot_seen_down_by_the_first_read_counts(tmp_path: Path) -> None:
    """Regression (found by the wire faults above): the reboot phase's first read saw the node
    Down but threw that away, so a node back before the next poll (slow round trips, fast reboot)
    was reported "never seen going down" and the run stopped after the reboot timeout."""
    sim = SimCluster.build(2, 2, os="2012R2", upgrade_to="2016", speed=5000.0)
    cluster = clusterlib.connect(sim)
    d = cluster.commands
    read_node = d.read_node

    def slow_read(name: str) -> Any:
        info = read_node(name)
        if info.state is NodeState.Down:
            sim.settle()  # the node is back before the next read can happen
        return info

    d.read_node = slow_read  # type: ignore[method-assign]
    report = RollingUpgrade(cluster, sim_installer(sim), journal=tmp_path / "j.json",
                            target=sim.upgrade_to).run()
    assert report.outcome == "completed"
    assert all(n.release.key == "2016" for n in sim.nodes.values())
