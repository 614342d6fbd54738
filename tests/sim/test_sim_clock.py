"""The simulator's clock: a jump moves it ahead at once, and what fell due meanwhile happens at
its own due time, so a whole restart can fall between two reads, as on a real cluster."""

from __future__ import annotations

import math

import pytest

from clusterlib import NodeState
from clusterlib.sim import SimCluster


def test_a_restart_that_falls_inside_a_jump_happens_at_its_own_times() -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=1000.0, install_window=1e6)
    code, _out = sim.start_installer("NODE2", r"D:\setup.exe /unattend")
    assert code == 0
    started = next(e.t for e in sim.events if e.kind == "upgrade-start")
    assert sim.snapshot().node("NODE2").state is NodeState.Up  # copying files, still Up
    before = sim.now()
    sim.jump(1e6 + 1000)
    assert sim.now() - before >= 1e6 + 1000
    node = sim.snapshot().node("NODE2")  # one read after the whole restart: never seen Down
    assert node.state is NodeState.Up and sim.nodes["NODE2"].release.key == "2016"
    times = {e.kind: e.t for e in sim.events if e.subject == "NODE2"}
    node2 = sim.nodes["NODE2"]
    # Each step at its due time (physical time kept), not at the read that applied it.
    assert times["reboot"] == pytest.approx(started + 1e6, abs=0.1)
    assert times["joined"] == pytest.approx(started + 1e6 + node2.reboot_time + node2.join_time,
                                            abs=0.1)


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_the_clock_never_jumps_backwards(bad: float) -> None:
    sim = SimCluster.classic(os="2012R2")
    with pytest.raises(ValueError, match="jump needs simulated seconds >= 0"):
        sim.jump(bad)
