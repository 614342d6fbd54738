"""Round trips on the upgrade's critical path (node k back -> next installer sent), pinned per dialect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SETUP, SPEED, classic_ps

import clusterlib
from clusterlib import GroupState, NodeState
from clusterlib.sim import GroupFailsOnline, NodeReturnsIncompatible, SimCluster
from clusterlib.sim.transport import InProcessTransport
from clusterlib.upgrade import (
    RemoteCommand,
    RollingUpgrade,
    UpgradeStopped,
    break_lock,
    default_action,
)
from clusterlib.upgrade.errors import LockLost
from clusterlib.upgrade.journal import Journal
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult

WINNT32 = r"D:\i386\winnt32.exe /unattend"


class _Counting:
    """The in-process transport, naming each round trip by its commands (the installer sent
    through a node's own shell too), and marking each phase's start and end."""

    def __init__(self, sim: SimCluster) -> None:
        self.inner = InProcessTransport(sim)
        self.endpoint = self.inner.endpoint
        self.time_scale = self.inner.time_scale
        self.log: list[tuple[str, ...]] = []

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self.log.append(tuple(c.name for s in pipeline.statements for c in s.commands))
        return self.inner.run_pipeline(pipeline)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        self.log.append(("install",) if "winnt32" in line.line else ("cmd", line.line))
        return self.inner.run_cmd(line)

    def close(self) -> None:
        self.inner.close()

    def for_node(self, name: str) -> Any:
        inner = self.inner.for_node(name)
        log = self.log

        class _Node:
            endpoint = inner.endpoint
            time_scale = inner.time_scale

            def run_cmd(self, line: CmdLine) -> CmdResult:
                log.append(("install",))
                return inner.run_cmd(line)

            def run_pipeline(self, pipeline: Pipeline) -> PSResult:
                return inner.run_pipeline(pipeline)

            def close(self) -> None:
                pass

        return _Node()

    def on_event(self, event: Any) -> None:
        if type(event).__name__ == "PhaseFinished" and event.phase == "reboot":
            self.log.append(("back", event.node))

    def windows(self) -> list[list[tuple[str, ...]]]:
        """The round trips between each node's return ("back") and the next installer."""
        out: list[list[tuple[str, ...]]] = []
        current: list[tuple[str, ...]] | None = None
        for entry in self.log:
            if entry[0] == "back":
                current = []
            elif entry == ("install",) and current is not None:
                out.append(current)
                current = None
            elif current is not None:
                current.append(entry)
        return out

    def before_first_install(self) -> list[tuple[str, ...]]:
        return self.log[:self.log.index(("install",))]

    def after_last_back(self) -> list[tuple[str, ...]]:
        last = max(i for i, e in enumerate(self.log) if e[0] == "back")
        return self.log[last + 1:]


def _run(sim: SimCluster, tmp_path: Path, dialect: str, action: Any = None) -> _Counting:
    counting = _Counting(sim)
    cluster = clusterlib.connect(counting, dialect=dialect)
    counting.log.clear()
    act = action(cluster) if action is not None else RemoteCommand(SETUP)
    report = RollingUpgrade(cluster, action=act, journal=tmp_path / "j.json",
                            target=sim.upgrade_to, on_event=counting.on_event).run()
    assert report.outcome == "completed"
    return counting


#: Round trips from "node k back" to "node k+1's installer sent", the installer excluded.
#: PowerShell: the resume's boundary (snapshot + lock listing; the version check before it
#: decides on the reboot wait's last read), Resume-ClusterNode with the node's read, the
#: validation's boundary, two validation moves each with its confirming read, the drain's
#: boundary (its decision read), Suspend-ClusterNode -Drain with the snapshot after it (the
#: action's interlock decides on it), the action's fence (the lock listing alone). Before: 15.
WINDOW_PS = 8
#: cluster.exe sends an action and the read after it as two command lines, and its drain is
#: clusterlib's own moves (two lines each).
WINDOW_CLUSTEREXE_BASE = 13


def test_powershell_window_is_eight_round_trips(tmp_path: Path) -> None:
    sim = SimCluster.build(4, 10, os="2012R2", upgrade_to="2016", speed=SPEED)
    counting = _run(sim, tmp_path, "powershell")
    windows = counting.windows()
    assert len(windows) == 3
    for window in windows:
        # The drain may also move what the cluster left on the node (the core group): a move
        # and its confirming read each.
        moves = sum(1 for w in window if w[0] == "Move-ClusterGroup" and "Suspend-ClusterNode"
                    not in w) - 2
        assert len(window) - 2 * moves == WINDOW_PS, window
    # Each action travels with the read that follows it.
    flat = [w for window in windows for w in window]
    assert all("Get-ClusterNode" in w for w in flat if w[0] == "Resume-ClusterNode")
    assert all("Get-ClusterGroup" in w for w in flat if w[0] == "Suspend-ClusterNode")
    # The action's boundary after a drain that moved nothing after its read: the lock alone
    # (the interlock decides on the drain's read, taken after its last send).
    for window in windows:
        if not any(w[0] == "Move-ClusterGroup" and len(w) == 1 for w in window):
            assert window[-1][0] == "Get-Cluster" and "Get-ClusterNode" not in window[-1]
    validation = [w for w in flat if w[0] == "Move-ClusterGroup" and len(w) > 1]
    assert len(validation) == 2 * len(windows)
    assert all("Get-ClusterGroup" in w for w in validation)


def test_powershell_before_the_first_installer_and_after_the_last_join(tmp_path: Path) -> None:
    sim = SimCluster.build(4, 10, os="2012R2", upgrade_to="2016", speed=SPEED)
    counting = _run(sim, tmp_path, "powershell")
    before = counting.before_first_install()
    # The owners' snapshot, taking the lock (5), the drain's boundary, the pause with its
    # snapshot, the core group's move and confirming read, the action's boundary. Before: 14.
    # Plus one: 2012 R2's Windows PowerShell 4.0 drops the compact owner read's notes, so the
    # owners' snapshot is sent again in the full form (11 where the nodes run 5.1).
    assert len(before) == 11 + 1, before
    after = counting.after_last_back()
    # To the redistribution's boundary: the resume's boundary, the resume with its read, the
    # validation's boundary, its two moves with their reads (before: 10).
    upto = next(i for i, e in enumerate(after)
                if "Get-ClusterParameter" in e and "Move-ClusterGroup" not in e
                and len(after) > i + 1 and after[i + 1][0] == "Move-ClusterGroup"
                and len(after[i + 1]) == 1)
    assert upto == 5, after[:upto + 1]


def test_clusterexe_window(tmp_path: Path) -> None:
    """cluster.exe keeps working, with its own (higher) counts: every action and its read
    are two command lines."""
    sim = SimCluster.classic(os="2000", upgrade_to="2003", speed=SPEED)
    counting = _run(sim, tmp_path, "clusterexe",
                    action=lambda c: default_action(WINNT32, c.snapshot()))
    windows = counting.windows()
    assert len(windows) == 1
    window = windows[0]
    drain_moves = sum(1 for w in window if w[0] == "cmd" and "/moveto:" in w[1]) - 2
    assert len(window) - 2 * drain_moves == WINDOW_CLUSTEREXE_BASE, window


def test_verify_hook_keeps_its_boundary_read(tmp_path: Path) -> None:
    """A verify hook sends something, so its step keeps its boundary's read, fence and journal
    write (one round trip more per window), and it runs on every node."""
    sim = SimCluster.build(3, 4, os="2012R2", upgrade_to="2016", speed=SPEED)
    counting = _Counting(sim)
    cluster = clusterlib.connect(counting)
    counting.log.clear()
    checked: list[str] = []
    report = RollingUpgrade(cluster, action=RemoteCommand(SETUP), journal=tmp_path / "j.json",
                            target=sim.upgrade_to, on_event=counting.on_event,
                            verify=lambda node, _c: checked.append(node)).run()
    assert report.outcome == "completed"
    assert checked == ["NODE01", "NODE02", "NODE03"]
    for window in counting.windows():
        moves = sum(1 for w in window if w[0] == "Move-ClusterGroup" and len(w) == 1)
        assert len(window) - 2 * moves == WINDOW_PS + 1, window


def test_a_validation_move_that_fails_is_rolled_back(tmp_path: Path) -> None:
    """The validation move and its confirming read in one round trip: a group that fails
    online on the upgraded node is returned where it was, and the run stops naming it."""
    sim = classic_ps()
    cluster = clusterlib.connect(sim)
    upgrade = RollingUpgrade(cluster, action=RemoteCommand(SETUP), journal=tmp_path / "j.json",
                             target=sim.upgrade_to)
    step = next(s for s in upgrade.plan().steps if s.kind == "validate" and s.node == "NODE1")
    assert step.group is not None
    home = sim.snapshot().group(step.group).owner
    sim.inject(GroupFailsOnline(step.group, "NODE1"))
    with pytest.raises(UpgradeStopped) as err:
        upgrade.run()
    assert err.value.phase == "validate" and err.value.group == step.group
    group = sim.snapshot().group(step.group)
    assert group.owner == home and group.state is GroupState.Online
    assert sim.snapshot().node("NODE1").state is NodeState.Up
    moves = [m for m in err.value.report.moves if m["group"] == step.group]
    assert any(str(m["state"]).startswith("failed") for m in moves), moves


def test_the_drain_is_journaled_running_before_the_pause(tmp_path: Path) -> None:
    """The drain decides on its boundary's read and writes its "running" (with the step
    before's end) right before the pause, never after: at every Suspend-ClusterNode the
    journal shows the drain running and every earlier step done; the version check's end is
    written with the resume's start, before the Resume-ClusterNode."""
    sim = SimCluster.build(3, 4, os="2012R2", upgrade_to="2016", speed=SPEED)
    path = tmp_path / "j.json"
    seen: list[tuple[str, str, bool]] = []

    class _Looking(_Counting):
        def run_pipeline(self, pipeline: Pipeline) -> PSResult:
            first = pipeline.statements[0].commands[0]
            if first.name in ("Suspend-ClusterNode", "Resume-ClusterNode"):
                state = Journal.load(path).state
                kind = "drain" if first.name == "Suspend-ClusterNode" else "resume"
                ids = [s.id for s in state.steps]
                me = f"{first.param('Name')}:{kind}"
                earlier = state.steps[:ids.index(me)]
                seen.append((me, state.step(me).status,
                             all(s.status in ("done", "skipped") for s in earlier)))
            return super().run_pipeline(pipeline)

    counting = _Looking(sim)
    cluster = clusterlib.connect(counting)
    report = RollingUpgrade(cluster, action=RemoteCommand(SETUP), journal=path,
                            target=sim.upgrade_to).run()
    assert report.outcome == "completed"
    assert len(seen) == 6
    assert all(status == "running" and done for _step, status, done in seen), seen


def test_a_quiet_version_check_that_fails_fences_before_it_writes(tmp_path: Path) -> None:
    """The version check right after the reboot wait reads nothing and is not fenced; when it
    fails, the stop it journals waits for a fence first: a lock broken meanwhile stops the
    run with LockLost, the journal untouched and the node left paused."""
    sim = classic_ps()
    sim.inject(NodeReturnsIncompatible("NODE1", "2012R2"))  # restarts on its old release
    cluster = clusterlib.connect(sim)
    path = tmp_path / "j.json"
    upgrade = RollingUpgrade(cluster, action=RemoteCommand(SETUP), journal=path,
                             target=sim.upgrade_to)
    at_break: list[bytes] = []

    def on_event(event: Any) -> None:
        if (type(event).__name__ == "PhaseFinished" and event.phase == "reboot"
                and not at_break):
            break_lock(cluster, reason="test: the operator took over")
            at_break.append(path.read_bytes())

    upgrade.subscribe(on_event)
    with pytest.raises(LockLost):
        upgrade.run()
    assert at_break and path.read_bytes() == at_break[0]
    assert sim.snapshot().node("NODE1").state is NodeState.Paused


def test_a_quiet_version_check_that_fails_stops_as_before(tmp_path: Path) -> None:
    sim = classic_ps()
    sim.inject(NodeReturnsIncompatible("NODE1", "2012R2"))
    with pytest.raises(UpgradeStopped, match="not upgraded") as err:
        RollingUpgrade(clusterlib.connect(sim), action=RemoteCommand(SETUP),
                       journal=tmp_path / "j.json").run()
    assert err.value.phase == "verify" and err.value.node == "NODE1"
    assert sim.snapshot().node("NODE1").state is NodeState.Paused
