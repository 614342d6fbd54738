"""A rolling upgrade reports only what happened: availability, stops, proofs of upgrade, hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SPEED, all_upgraded, classic_ps, connect, installer, online_at_start

from clusterlib import GroupState, NodeState
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.upgrade import (
    Report,
    RollingUpgrade,
    UpgradeStopped,
    WmiCommand,
    default_action,
)

WINNT32 = r"D:\i386\winnt32.exe /unattend"


def _starts(sim: SimCluster, node: str) -> int:
    return sum(1 for e in sim.events if e.kind == "upgrade-start" and e.subject == node)


# ---- availability ----------------------------------------------------------------------------


def test_group_failing_on_the_drain_target_is_never_a_clean_completion(
        tmp_path: Path, connect_sim: Any) -> None:
    """The seed's two-node layout: File Group 4 cannot come online on NODE1, the drain target of
    NODE2. The upgrade action must not start on NODE2 while File Group 4 is down; the group is
    put back where it was Online and the run stops naming it."""
    os_to = "2003"
    sim = SimCluster.classic(os="2000", upgrade_to=os_to, speed=SPEED)
    sim.inject(GroupFailsOnline("File Group 4", "NODE1"))
    online = online_at_start(sim)
    cluster = connect_sim(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:
        # Windows 2000 has no WinRM: the installer starts through WMI from the management host.
        action = default_action(WINNT32, cluster.snapshot())
        assert isinstance(action, WmiCommand)
        RollingUpgrade(cluster, action=action, journal=path,
                       order=["NODE2", "NODE1"]).run()
    stop = err.value
    assert stop.group == "File Group 4"
    assert stop.phase == "drain" and stop.node == "NODE2"
    assert "File Group 4" in str(stop) and "NODE1" in str(stop) and "down" in str(stop)
    assert _starts(sim, "NODE2") == 0 and _starts(sim, "NODE1") == 0  # no installer started
    snap = sim.snapshot()
    assert {g.name for g in snap.groups if g.state is GroupState.Online} == online
    assert all(n.state is NodeState.Up for n in snap.nodes)
    report = stop.report
    assert report.outcome == "stopped" and not report.ok
    avail = report.availability
    assert avail["File Group 4"]["seconds"] > 0
    assert avail["File Group 4"]["by_phase"], avail
    assert "NODE2 drain" in avail["File Group 4"]["by_phase"]
    assert avail["File Group 4"]["excess"] > 0
    assert "File Group 4" in report.to_text() and "Availability" in report.to_text()
    assert report.to_dict()["availability"]["File Group 4"]["excess"] > 0
    assert Report.from_journal(path).availability == avail
    # The fault cleared, the resume finishes every step, but the run as a whole had an outage:
    # "degraded", never a clean "completed".
    sim.clear_faults()
    done = RollingUpgrade.resume(cluster, journal=path)
    assert done.outcome == "degraded" and not done.ok, done.to_text()
    assert "OUTAGE" in done.to_text() and "File Group 4" in done.message
    assert all_upgraded(sim, os_to)
    assert sim.snapshot().placement() == done.original_placement


def test_clean_run_reports_move_downtime_only(tmp_path: Path) -> None:
    sim = classic_ps()
    report = RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json").run()
    assert report.outcome == "completed"
    avail = report.availability
    assert set(avail) == online_at_start(sim)
    for name, rec in avail.items():
        assert rec["excess"] == 0, (name, rec)
        assert rec["seconds"] == pytest.approx(rec["moves"], abs=1e-6)
    # The cluster's own drain moves are not timed by the engine; its validation moves are.
    assert any(rec["moves"] > 0 for rec in avail.values())
    assert "Availability" in report.to_text() and "OUTAGE" not in report.to_text()


def test_group_failing_on_the_drain_target_with_the_clusters_drain(tmp_path: Path) -> None:
    """2012 R2 drains with the cluster's own drain, which leaves the group Online where it was:
    a clean stop, no outage."""
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 4", "NODE1"))
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json",
                       order=["NODE2", "NODE1"]).run()
    assert err.value.phase == "drain" and "File Group 4" in str(err.value)
    assert _starts(sim, "NODE2") == 0
    assert sim.snapshot().group("File Group 4").state is GroupState.Online
    assert err.value.report.availability["File Group 4"]["excess"] == 0
