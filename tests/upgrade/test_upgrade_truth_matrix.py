"""Every simulated fault in both dialects: what a run reports always matches the cluster (opt-in: -m chaos).

For each fault x dialect, a run, then a resume once the fault is cleared. Checked every time: an
installer is never started twice on a node (unless the operator asked with ``resend_action``);
a "completed" run has every node on the target and every group home and Online; a run in which a
group was down beyond its moves is never "completed"; a stopped run leaves every group that was
Online at the start Online or on its way (Pending); and the report's placement is the cluster's.
A bounded subset (one fault per dialect) runs by default.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import skip_unless_chaos
from upgrade_helpers import SPEED

import clusterlib
from clusterlib import GroupState
from clusterlib.sim import (
    GroupFailsOnline,
    GroupLocked,
    GroupSlow,
    InstallerAnswerLost,
    InstallerFails,
    InstallerHangs,
    NodeCrashesDuringDrain,
    NodeNeverReturns,
    NodeReturnsIncompatible,
    SimCluster,
)
from clusterlib.upgrade import Report, RollingUpgrade, UpgradeStopped, default_action

DIALECTS = {"clusterexe": ("2000", "2003"), "powershell": ("2012R2", "2016")}
SETUP = r"D:\setup.exe /unattend"

# name -> (faults, run keywords, resend NODE1 on resume)
Case = tuple[Callable[[], list[Any]], dict[str, Any], bool]
CASES: dict[str, Case] = {
    "none": (lambda: [], {}, False),
    "fails-online-on-drain-target": (
        lambda: [GroupFailsOnline("File Group 4", "NODE1")], {"order": ["NODE2", "NODE1"]},
        False),
    "fails-online-in-validation": (
        lambda: [GroupFailsOnline("File Group 3", "NODE1")], {}, False),
    "fails-online-in-redistribution": (
        lambda: [GroupFailsOnline("SQL Group 1", "NODE1")],
        {"order": ["NODE2", "NODE1"], "validation_group": None}, False),
    "slow-group": (lambda: [GroupSlow("File Group 3", extra=700.0)], {}, False),
    "locked-group": (lambda: [GroupLocked("File Group 3", times=3)], {}, False),
    "node-never-returns": (lambda: [NodeNeverReturns("NODE1")], {}, False),
    "node-returns-incompatible": (lambda: [NodeReturnsIncompatible("NODE1", "2019")], {},
                                  False),
    "node-crashes-during-drain": (lambda: [NodeCrashesDuringDrain("NODE1")], {}, False),
    "installer-fails": (lambda: [InstallerFails("NODE1", exit_code=1603)], {}, True),
    "installer-hangs": (lambda: [InstallerHangs("NODE1", answer_after=30.0)], {}, True),
    "installer-answer-lost": (lambda: [InstallerAnswerLost("NODE1")], {}, False),
    "verify-hook-fails": (lambda: [], {"verify": "cmd /c exit 3"}, False),
    "pre-update-hook-fails": (lambda: [], {"pre_update": "cmd /c exit 5"}, False),
}


def _starts(sim: SimCluster) -> dict[str, int]:
    return {n: sum(1 for e in sim.events if e.kind == "upgrade-start" and e.subject == n)
            for n in sim.nodes}


def _check(sim: SimCluster, report: Report, online: set[str], target: str) -> None:
    snap = sim.snapshot()
    if report.final_placement:
        assert report.final_placement == snap.placement() or any(
            g.state is GroupState.Pending for g in snap.groups), "report placement is not real"
    if report.outcome == "completed":
        assert all(n.release.key == target for n in sim.nodes.values()), report.to_text()
        assert snap.placement() == report.original_placement
        assert not any(a["excess"] > 0 for a in report.availability.values())
    if any(a["excess"] > 0 for a in report.availability.values()):
        assert report.outcome != "completed"
    down = [g.name for g in snap.groups if g.name in online
            and g.state not in (GroupState.Online, GroupState.Pending)]
    assert not down, f"left down: {down}"


def _run_case(dialect: str, name: str) -> dict[str, Any]:
    faults, kw, resend = CASES[name]
    os_from, os_to = DIALECTS[dialect]
    sim = SimCluster.classic(os=os_from, upgrade_to=os_to, speed=SPEED, install_window=600.0)
    online = {g.name for g in sim.snapshot().groups if g.state is GroupState.Online}
    sim.inject(*faults())
    cluster = clusterlib.connect(sim)
    path = Path(tempfile.mkdtemp()) / "j.json"
    action = default_action(SETUP, cluster.snapshot())
    kw = {"order": ["NODE1", "NODE2"], **kw}
    try:
        report = RollingUpgrade(cluster, action=action, journal=path, **kw).run()
        where = None
    except UpgradeStopped as stop:
        report, where = stop.report, (stop.phase, stop.node, stop.group)
    _check(sim, report, online, os_to)
    first = _starts(sim)
    assert all(v <= 1 for v in first.values()), first
    outcome2 = None
    if report.outcome == "stopped":
        sim.clear_faults()
        for node in sim.nodes.values():
            if node.install is not None and node.install.state == "hung":
                node.install = None  # the operator ended the hung installer
        if sim.snapshot().node("NODE1").state.name == "Down":
            sim.boot_node("NODE1", into=os_to)  # the operator reinstalled it
        hooks = {k: (lambda n, c: None) for k in ("verify", "pre_update") if k in kw}
        done = RollingUpgrade.resume(cluster, journal=path,
                                     resend_action=["NODE1"] if resend else (), **hooks).run()
        _check(sim, done, online, os_to)
        outcome2 = done.outcome
        assert outcome2 in ("completed", "degraded"), done.to_text()
        assert all(n.release.key == os_to for n in sim.nodes.values())
    final = _starts(sim)
    assert final["NODE2"] <= 1 and final["NODE1"] <= (2 if resend else 1), final
    return {"outcome": report.outcome, "where": where, "resumed": outcome2,
            "excess": max([a["excess"] for a in report.availability.values()] or [0.0])}


@pytest.mark.chaos
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_fault_matrix_chaos(dialect: str, name: str, record_property: Any,
                            request: pytest.FixtureRequest) -> None:
    skip_unless_chaos(request)
    result = _run_case(dialect, name)
    record_property("outcome", result["outcome"])
    record_property("resumed", result["resumed"])
    record_property("excess_downtime", result["excess"])


@pytest.mark.chaos
@pytest.mark.parametrize(("dialect", "name"), [("clusterexe", "installer-fails"),
                                                ("powershell", "installer-answer-lost")])
def test_fault_matrix_bounded(dialect: str, name: str) -> None:
    result = _run_case(dialect, name)
    assert result["outcome"] in ("completed", "stopped")
