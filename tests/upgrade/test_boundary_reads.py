"""A step boundary's reads: snapshot and lock fence in one round trip; the fence kept at every step start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SETUP, classic_ps, installer

import clusterlib
from clusterlib import Cluster, NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim.transport import InProcessTransport
from clusterlib.upgrade import CallableAction, RollingUpgrade, break_lock
from clusterlib.upgrade.errors import LockLost
from clusterlib.upgrade.lock import LOCK_KEY, read_lock
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult


class _Counting:
    """The in-process transport, naming each round trip by its commands."""

    def __init__(self, sim: SimCluster) -> None:
        self.inner = InProcessTransport(sim)
        self.endpoint = self.inner.endpoint
        self.time_scale = self.inner.time_scale
        self.sent: list[tuple[str, ...]] = []

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self.sent.append(tuple(c.name for s in pipeline.statements for c in s.commands))
        return self.inner.run_pipeline(pipeline)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        self.sent.append(("cmd", line.line))
        return self.inner.run_cmd(line)

    def close(self) -> None:
        self.inner.close()

    def for_node(self, name: str) -> Any:
        return self.inner.for_node(name)  # the installer's shell: not a cluster read

    def listings(self) -> int:
        """Lock listings read on their own (not riding in a snapshot)."""
        return sum(1 for s in self.sent
                   if "Get-ClusterParameter" in s and "Get-ClusterNode" not in s)

    def combined(self) -> int:
        return sum(1 for s in self.sent if "Get-ClusterParameter" in s and "Get-ClusterNode" in s)


def test_step_boundaries_read_snapshot_and_lock_in_one_round_trip(tmp_path: Path) -> None:
    sim = classic_ps()
    counting = _Counting(sim)
    cluster = clusterlib.connect(counting)
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                            target=sim.upgrade_to).run()
    assert report.outcome == "completed"
    nodes = len(sim.snapshot().nodes)
    steps = len(report.steps)
    # Every step start is fenced: by its boundary's combined read, or (after a read-only
    # step, whose read the next boundary reuses) by a listing of its own.
    assert counting.combined() + counting.listings() >= steps
    # Listings on their own: taking and releasing the lock, and one per resume (after the
    # version check, which only reads), nothing per step any more.
    assert counting.listings() <= nodes + 4, counting.listings()
    assert counting.combined() <= steps


def _break_when(upgrade: RollingUpgrade, cluster: Cluster, kind: str,
                node: str) -> list[str]:
    """Break the run's lock (as an operator would) when ``kind`` of ``node`` finishes."""
    broken: list[str] = []

    def on_event(event: Any) -> None:
        if (type(event).__name__ == "PhaseFinished" and event.phase == kind
                and event.node == node and not broken):
            break_lock(cluster, reason="test: the operator took over")
            broken.append(kind)

    upgrade.subscribe(on_event)
    return broken


@pytest.mark.parametrize(("finished", "then"), [("drain", "action"), ("verify", "resume"),
                                                ("resume", "validate")])
def test_a_lock_broken_during_a_step_stops_the_next_step_before_it_sends(
        tmp_path: Path, finished: str, then: str) -> None:
    """The fence at every step start still reads the lock after the step before: also when
    that step only read (verify), whose snapshot the next boundary reuses."""
    sim = classic_ps()
    cluster = clusterlib.connect(sim)
    upgrade = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                             target=sim.upgrade_to)
    broken = _break_when(upgrade, cluster, finished, "NODE1")
    with pytest.raises(LockLost):
        upgrade.run()
    assert broken == [finished]
    assert read_lock(cluster) is None  # the stopped run wrote nothing back
    node1 = sim.snapshot().node("NODE1")
    if then == "action":
        # Not sent: NODE1 still runs the old release, paused and drained.
        assert node1.state is NodeState.Paused
        assert str(node1.highest_version) == str(sim.snapshot().node("NODE2").highest_version)
    elif then == "resume":
        assert node1.state is NodeState.Paused  # upgraded, never resumed
    else:
        # The validation group never moved onto NODE1.
        assert not sim.snapshot().groups_on("NODE1")


def test_a_lock_listing_that_names_another_holder_stops_at_the_boundary(tmp_path: Path) -> None:
    """The combined read checks the lock at once: a lock taken over by another holder stops
    the run at the next boundary with LockLost naming that holder, before anything is sent."""
    sim = classic_ps()
    cluster = clusterlib.connect(sim)
    upgrade = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                             target=sim.upgrade_to)
    taken: list[bool] = []

    def on_event(event: Any) -> None:
        if type(event).__name__ == "PhaseFinished" and event.phase == "drain" and not taken:
            held = read_lock(cluster)
            assert held is not None
            cluster.dialect.set_private(LOCK_KEY, held.to_json().replace(held.token, "intruder"))
            taken.append(True)

    upgrade.subscribe(on_event)
    with pytest.raises(LockLost, match="intruder"):
        upgrade.run()
    assert sim.snapshot().node("NODE1").state is NodeState.Paused


def test_the_action_step_sends_after_one_read_and_one_journal_write(tmp_path: Path) -> None:
    """The upgrade action's step starts from its boundary's read (nothing, not even a journal
    write, comes between): the step's "running" is written once, with the record that the
    installer is sent, and that write is on disk before the installer starts."""
    sim = classic_ps()
    journal = tmp_path / "j.json"
    seen: list[tuple[str, bool]] = []

    def install(node: str, cluster: Cluster) -> None:
        state = json.loads(journal.read_text())["journal"]
        step = next(s for s in state["steps"] if s["id"] == f"{node}:action")
        seen.append((step["status"], node in state["action_sent"]))
        sim.start_installer(node, SETUP)

    counting = _Counting(sim)
    cluster = clusterlib.connect(counting)
    upgrade = RollingUpgrade(cluster, action=CallableAction(install), journal=journal,
                             target=sim.upgrade_to)
    reads: list[int] = []

    def on_event(event: Any) -> None:
        if type(event).__name__ == "PhaseStarted" and event.phase == "action":
            reads.append(len(counting.sent))
        elif type(event).__name__ == "PhaseFinished" and event.phase == "action":
            between = counting.sent[reads[-1]:]
            reads[-1] = sum(1 for s in between if "Get-ClusterNode" in s)

    upgrade.subscribe(on_event)
    report = upgrade.run()
    assert report.outcome == "completed"
    assert seen == [("running", True), ("running", True)]
    assert reads == [0, 0]  # no read of its own: the boundary's read served the step
