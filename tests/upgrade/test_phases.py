"""Each upgrade phase called directly (phases.PHASES) on a small simulator: what it changes, how it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from upgrade_helpers import classic_ps, connect, installer, iter_events

from clusterlib import GroupState, NodeState
from clusterlib.model import ServiceVersion
from clusterlib.sim import GroupFailsOnline, NodeNeverReturns, SimCluster
from clusterlib.upgrade import RollingUpgrade, availability, nodewatch
from clusterlib.upgrade.context import NodeFailed, RunContext, Stop
from clusterlib.upgrade.phases import (
    PHASES,
    action,
    drain,
    failback,
    functional_level,
    reboot,
    redistribute,
    resume,
    validate,
    verify,
)
from clusterlib.upgrade.plan import Step
from clusterlib.upgrade.state import MoveRecord, RunState


class Started:
    """A run started on a simulator (preflight passed, journal written, lock taken), so a test
    can call one phase at a time as the engine's loop would."""

    def __init__(self, sim: SimCluster, tmp_path: Path, **options: Any) -> None:
        self.sim = sim
        self.events: list[Any] = []
        options.setdefault("target", sim.upgrade_to)
        self.upgrade = RollingUpgrade(connect(sim), action=installer(),
                                      journal=tmp_path / "run.json",
                                      on_event=self.events.append, **options)
        self.upgrade._start()
        self.run: RunContext = self.upgrade._ctx

    @property
    def state(self) -> RunState:
        return self.run.state

    def step(self, kind: str, node: str | None = "NODE1") -> Step:
        """The plan's step of ``kind`` on ``node`` (or a bare one when the plan has none)."""
        for raw in self.state.plan["steps"]:
            if raw["kind"] == kind and raw["node"] == node:
                return Step.from_dict(raw)
        return Step(id=f"{node}:{kind}", kind=kind, node=node, description="")

    def moves(self, purpose: str) -> list[MoveRecord]:
        return [m for m in self.state.moves if m.purpose == purpose]

    def placement(self) -> dict[str, str | None]:
        return self.sim.snapshot().placement()

    def node_state(self, name: str) -> NodeState:
        return self.sim.snapshot().node(name).state

    def upgrade_node1(self) -> None:
        """NODE1 through drain, action, reboot and verify, as the loop runs them."""
        for kind in ("drain", "action", "reboot", "verify"):
            result = PHASES[kind](self.run, self.step(kind), False)
            assert result.status == "done", (kind, result)


@pytest.fixture
def started(tmp_path: Path) -> Started:
    return Started(classic_ps(), tmp_path)


def test_the_table_names_every_kind_a_plan_has(started: Started) -> None:
    kinds = {raw["kind"] for raw in started.state.plan["steps"]}
    assert kinds <= set(PHASES), kinds - set(PHASES)
    assert PHASES["drain"] is drain and PHASES["functional-level"] is functional_level
    assert {"failback", "functional-level"} <= set(PHASES)  # the optional kinds too


def test_drain_pauses_and_empties_the_node(started: Started) -> None:
    result = drain(started.run, started.step("drain"), False)
    assert result.status == "done" and "paused and empty" in result.message
    assert started.node_state("NODE1") is NodeState.Paused
    assert "NODE1" not in started.placement().values()
    # What the cluster's drain left (the core group) clusterlib moved, journaled and announced.
    drained = started.moves("drain")
    assert [m.group for m in drained] == ["Cluster Group"]
    assert [e.group for e in iter_events(started.events, "GroupMoved")] == ["Cluster Group"]
    # Run again on the live cluster: the work is there, nothing is sent.
    again = drain(started.run, started.step("drain"), False)
    assert again.status == "already"
    assert len(started.sim.calls("Suspend-ClusterNode")) == 1


def test_drain_refuses_while_another_node_is_out(started: Started) -> None:
    started.sim.pause_node("NODE2")
    before = started.placement()
    with pytest.raises(Stop, match="will not pause NODE1 while another node is not Up"):
        drain(started.run, started.step("drain"), False)
    assert started.node_state("NODE1") is NodeState.Up
    assert started.placement() == before
    assert not started.sim.calls("Suspend-ClusterNode")


def test_action_sends_the_installer_once_and_journals_it_first(started: Started) -> None:
    drain(started.run, started.step("drain"), False)
    result = action(started.run, started.step("action"), False)
    assert result.status == "done"
    runs = [e for e in started.sim.calls("cmd") if e.detail["line"] == installer().line]
    assert [e.detail["node"] for e in runs] == ["NODE1"]
    assert "NODE1" in started.state.action_sent
    assert started.upgrade._journal is not None and started.upgrade._journal.saves >= 2


def test_action_refuses_a_node_that_owns_a_group(started: Started) -> None:
    started.sim.pause_node("NODE1")  # paused without a drain: it still owns its groups
    with pytest.raises(Stop, match="refusing to start the upgrade action on NODE1: it still owns"):
        action(started.run, started.step("action"), False)
    assert not [e for e in started.sim.calls("cmd") if e.detail["line"] == installer().line]
    assert "NODE1" not in started.state.action_sent


def test_reboot_waits_for_the_node_to_go_down_and_come_back(started: Started) -> None:
    drain(started.run, started.step("drain"), False)
    action(started.run, started.step("action"), False)
    result = reboot(started.run, started.step("reboot"), False)
    assert result.status == "done" and result.message == "NODE1 is back (Paused)"
    node = started.sim.snapshot().node("NODE1")
    assert node.state is NodeState.Paused
    assert str(node.highest_version) != started.state.nodes_before["NODE1"].highest


def test_reboot_stops_when_the_node_never_returns(tmp_path: Path) -> None:
    started = Started(classic_ps(), tmp_path, reboot_timeout=600.0)
    started.sim.inject(NodeNeverReturns("NODE1"))
    drain(started.run, started.step("drain"), False)
    action(started.run, started.step("action"), False)
    with pytest.raises(Stop, match="NODE1 did not come back within 600s") as info:
        reboot(started.run, started.step("reboot"), False)
    assert info.value.node == "NODE1" and info.value.phase == "reboot"
    assert started.node_state("NODE1") is NodeState.Down
    assert "NODE1" not in started.placement().values()  # it owns no group, as the stop says


def test_verify_records_the_new_version(started: Started) -> None:
    for kind in ("drain", "action", "reboot"):
        PHASES[kind](started.run, started.step(kind), False)
    result = verify(started.run, started.step("verify"), False)
    assert result.status == "done"
    after = started.state.nodes_after["NODE1"]
    assert after.highest != started.state.nodes_before["NODE1"].highest
    assert f"-> {after.highest}" in result.message


def test_verify_fails_a_node_that_is_not_on_the_target(started: Started) -> None:
    drain(started.run, started.step("drain"), False)  # paused, but never upgraded
    with pytest.raises(NodeFailed, match="expected"):
        verify(started.run, started.step("verify"), False)
    assert started.node_state("NODE1") is NodeState.Paused  # left paused, not resumed


def test_resume_brings_the_upgraded_node_up(started: Started) -> None:
    started.upgrade_node1()
    result = resume(started.run, started.step("resume"), False)
    assert result.status == "done" and started.node_state("NODE1") is NodeState.Up
    # No failback: the node comes back empty; the groups move at the redistribution.
    assert "NODE1" not in started.placement().values()
    assert resume(started.run, started.step("resume"), False).status == "already"


def test_resume_refuses_a_node_that_is_down(started: Started) -> None:
    started.sim.inject(NodeNeverReturns("NODE2"))
    started.sim.reboot_node("NODE2")
    started.sim.settle()
    with pytest.raises(Stop, match="NODE2 is Down; cannot resume it"):
        resume(started.run, started.step("resume", "NODE2"), False)
    assert not started.sim.calls("Resume-ClusterNode")


def _drained_and_back(started: Started) -> None:
    """NODE1 drained, then resumed by hand: its groups wait on NODE2."""
    drain(started.run, started.step("drain"), False)
    started.sim.resume_node("NODE1")
    started.sim.settle()


def test_failback_moves_the_nodes_groups_home(started: Started) -> None:
    original = dict(started.state.original_placement)
    _drained_and_back(started)
    result = failback(started.run, started.step("failback"), False)
    home = sorted(g for g, n in original.items() if n == "NODE1")
    assert result.message == f"{len(home)} group(s) back on NODE1"
    assert started.placement() == original
    assert sorted(m.group for m in started.moves("failback")) == home


def test_failback_stops_naming_a_group_that_fails_on_the_node(started: Started) -> None:
    _drained_and_back(started)
    started.sim.inject(GroupFailsOnline("SQL Group 1", "NODE1"))
    with pytest.raises(Stop, match="failback to NODE1") as info:
        failback(started.run, started.step("failback"), False)
    assert info.value.group == "SQL Group 1"
    group = started.sim.snapshot().group("SQL Group 1")
    assert group.owner == "NODE2" and group.state is GroupState.Online  # returned where it was


def test_validate_moves_the_group_to_the_node_and_back(started: Started) -> None:
    started.upgrade_node1()
    resume(started.run, started.step("resume"), False)
    step = started.step("validate")
    assert step.group is not None
    home = started.sim.snapshot().group(step.group).owner
    result = validate(started.run, step, False)
    assert result.status == "done"
    assert [m.target for m in started.moves("validation")] == ["NODE1", home]
    assert started.sim.snapshot().group(step.group).owner == home
    assert started.state.validation_in_flight is None


def test_validate_stops_when_the_group_fails_on_the_node(started: Started) -> None:
    started.upgrade_node1()
    resume(started.run, started.step("resume"), False)
    step = started.step("validate")
    assert step.group is not None
    home = started.sim.snapshot().group(step.group).owner
    started.sim.inject(GroupFailsOnline(step.group, "NODE1"))
    with pytest.raises(Stop, match=f"validation move of {step.group} to NODE1 failed"):
        validate(started.run, step, False)
    group = started.sim.snapshot().group(step.group)
    assert (group.owner, group.state) == (home, GroupState.Online)
    assert started.state.validation_in_flight is None


def test_redistribute_puts_every_group_back(started: Started) -> None:
    original = dict(started.state.original_placement)
    _drained_and_back(started)
    assert started.placement() != original
    result = redistribute(started.run, started.step("redistribute", None), False)
    assert result.status == "done"
    assert started.placement() == original
    moved = started.moves("redistribute")
    assert moved and moved[-1].group == "Cluster Group"  # the core group last


def test_redistribute_stops_when_an_owner_is_not_up(started: Started) -> None:
    original = dict(started.state.original_placement)
    drain(started.run, started.step("drain"), False)  # NODE1 stays Paused
    with pytest.raises(Stop, match="its original owner NODE1 is Paused"):
        redistribute(started.run, started.step("redistribute", None), False)
    assert "NODE1" not in started.placement().values()
    assert not started.moves("redistribute")
    assert set(started.placement()) == set(original)


def _level_sim() -> SimCluster:
    return SimCluster.build(2, 4, os="2016", upgrade_to="2019", speed=5000.0)


def test_functional_level_is_raised_when_every_node_runs_the_target(tmp_path: Path) -> None:
    started = Started(_level_sim(), tmp_path, raise_functional_level=True)
    before = started.sim.functional_level
    assert before is not None
    for name in ("NODE01", "NODE02"):
        started.sim.upgrade_node(name)
    started.sim.settle()
    result = functional_level(started.run, started.step("functional-level", None), False)
    assert result.status == "done"
    assert started.sim.functional_level is not None and started.sim.functional_level > before
    assert started.state.functional_level["after"] == started.sim.functional_level


def test_functional_level_waits_for_every_node(tmp_path: Path) -> None:
    started = Started(_level_sim(), tmp_path, raise_functional_level=True)
    before = started.sim.functional_level
    started.sim.upgrade_node("NODE01")
    started.sim.settle()
    with pytest.raises(Stop, match="nodes run different versions"):
        functional_level(started.run, started.step("functional-level", None), False)
    assert started.sim.functional_level == before
    assert not started.sim.calls("Update-ClusterFunctionalLevel")


class _Reads:
    """Counts the cluster reads a phase makes: snapshots (a step boundary's snapshot with its
    lock listing is one), single-node reads, and lock listings read on their own."""

    def __init__(self, run: RunContext) -> None:
        self.snapshots = 0
        self.nodes = 0
        self.listings = 0
        cluster, dialect = run.cluster, run.cluster.dialect
        snapshot, read_node = cluster.snapshot, dialect.read_node
        with_lock, listing = dialect.snapshot_and_private, dialect.list_private

        def counted_snapshot(*args: Any, **kwargs: Any) -> Any:
            self.snapshots += 1
            return snapshot(*args, **kwargs)

        def counted_with_lock() -> Any:
            self.snapshots += 1
            return with_lock()

        def counted_listing() -> Any:
            self.listings += 1
            return listing()

        dialect.snapshot_and_private = counted_with_lock  # type: ignore[method-assign]
        dialect.list_private = counted_listing  # type: ignore[method-assign]

        def counted_node(name: str) -> Any:
            self.nodes += 1
            return read_node(name)

        cluster.snapshot = counted_snapshot  # type: ignore[method-assign]
        dialect.read_node = counted_node  # type: ignore[method-assign]


def test_a_phase_starts_from_the_step_boundarys_read(started: Started) -> None:
    """The availability check's snapshot at the step boundary is the verify phase's first read;
    the action reads afresh (whether the node is upgraded, the interlock: one snapshot for both)
    right before it sends."""
    drain(started.run, started.step("drain"), False)
    reads = _Reads(started.run)
    availability.check(started.run, started.step("action"))
    action(started.run, started.step("action"), False)
    assert (reads.snapshots, reads.nodes) == (2, 0)
    reboot(started.run, started.step("reboot"), False)
    reads.snapshots = reads.nodes = 0
    availability.check(started.run, started.step("verify"))
    verify(started.run, started.step("verify"), False)
    assert (reads.snapshots, reads.nodes) == (1, 0)
    # Without a boundary read (nothing kept), the phase reads for itself.
    verify(started.run, started.step("verify"), False)
    assert reads.nodes == 1


def test_the_install_window_is_read_at_the_coarser_interval(started: Started) -> None:
    drain(started.run, started.step("drain"), False)
    action(started.run, started.step("action"), False)
    intervals: list[float | None] = []
    wait = started.run.wait

    def recorded(*args: Any, interval: float | None = None, **kwargs: Any) -> Any:
        intervals.append(interval)
        return wait(*args, interval=interval, **kwargs)

    started.run.wait = recorded  # type: ignore[method-assign]
    started.sim.nodes["NODE1"].join_time = 60.0  # Joining long enough to be seen
    reboot(started.run, started.step("reboot"), False)
    # Until NODE1 is seen going down: every INSTALL_POLL; then every poll_interval (None) until
    # it is seen Joining; then every JOIN_POLL until it is back.
    assert nodewatch.INSTALL_POLL > started.run.options.poll_interval > nodewatch.JOIN_POLL
    assert intervals == [nodewatch.INSTALL_POLL, None, nodewatch.JOIN_POLL]


def test_a_node_back_on_a_new_version_counts_as_having_gone_down(started: Started) -> None:
    """A restart shorter than one read is not missed: the new version is the evidence."""
    node = started.sim.snapshot().node("NODE1")
    watch = nodewatch._BackWatch(started.run, "NODE1", seen_down=False)
    assert not watch.done(node)  # Up on its old version: the installer has not restarted it
    upgraded = attrs.evolve(node, state=NodeState.Paused,
                            highest_version=ServiceVersion(10, 14393))
    assert watch.done(upgraded) and watch.down
