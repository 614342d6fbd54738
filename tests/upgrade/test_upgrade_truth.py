"""A rolling upgrade reports only what happened: availability, stops, proofs of upgrade, hooks."""

from __future__ import annotations

import errno
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SPEED, all_upgraded, classic_ps, connect, installer, online_at_start

import clusterlib
from clusterlib import GroupState, NodeState
from clusterlib.sim import (
    GroupFailsOnline,
    InstallerAnswerLost,
    InstallerFails,
    InstallerHangs,
    NodeReturnsIncompatible,
    SimCluster,
    release,
)
from clusterlib.upgrade import (
    CallableAction,
    Journal,
    JournalRejected,
    PowerShellAction,
    RemoteCommand,
    Report,
    RollingUpgrade,
    TargetVersion,
    UpgradeOptions,
    UpgradeStopped,
    WmiCommand,
    default_action,
)
from clusterlib.upgrade.actions import action_from_dict
from clusterlib.upgrade.context import RunContext

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
    from clusterlib.upgrade.report_html import report_document

    page = report_document(report)
    assert "Availability" in page and "outage" in page and "File Group 4" in page
    # Resumed with the fault still there: the drain is repeated, fails the same way, and the
    # group is put back again; still no installer, nothing left Failed.
    with pytest.raises(UpgradeStopped) as again:
        RollingUpgrade.resume(cluster, journal=path).run()
    assert again.value.group == "File Group 4"
    assert _starts(sim, "NODE2") == 0
    assert {g.name for g in sim.snapshot().groups if g.state is GroupState.Online} == online
    # The fault cleared, the resume finishes every step, but the run as a whole had an outage:
    # "degraded", never a clean "completed".
    sim.clear_faults()
    done = RollingUpgrade.resume(cluster, journal=path).run()
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


# ---- the installer: never re-sent, done only when proven done ---------------------------------


def _window_sim(**kw: Any) -> SimCluster:
    kw.setdefault("speed", SPEED)
    return SimCluster.classic(os="2012R2", upgrade_to="2016", install_window=600.0, **kw)


def test_lost_answer_is_never_resent_and_the_node_is_waited_for(
        tmp_path: Path, connect_sim: Any) -> None:
    """The installer starts, its answer is lost, the host stays Up for its install window: the
    engine waits for the restart (evidence), never sends the installer again, and completes."""
    sim = _window_sim()
    sim.inject(InstallerAnswerLost("NODE1"))
    report = RollingUpgrade(connect_sim(sim), action=installer(), journal=tmp_path / "j.json",
                            target="9.3", validation_group=None).run()
    assert report.outcome == "completed", report.to_text()
    assert _starts(sim, "NODE1") == 1 and _starts(sim, "NODE2") == 1
    assert not [e for e in sim.events if e.kind == "installer-refused"]
    assert all_upgraded(sim)


def test_hung_installer_stops_for_an_operator_without_resending(tmp_path: Path) -> None:
    sim = _window_sim()
    sim.inject(InstallerHangs("NODE1", answer_after=30.0))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path, target="9.3",
                       reboot_timeout=2000.0).run()
    stop = err.value
    assert (stop.node, stop.phase) == ("NODE1", "action")
    assert "NOT sent again" in str(stop) and "resend_action" in str(stop)
    assert _starts(sim, "NODE1") == 1
    snap = sim.snapshot()
    assert snap.node("NODE1").state is NodeState.Paused and not snap.groups_on("NODE1")
    assert sim.nodes["NODE2"].release.key == "2012R2"  # the next node was not touched
    # A plain resume still does not send it again: it waits for evidence and stops again.
    with pytest.raises(UpgradeStopped):
        RollingUpgrade.resume(cluster, journal=path).run()
    assert _starts(sim, "NODE1") == 1
    # The operator ended the hung installer and says so: only then is it sent again.
    sim.clear_faults()
    sim.nodes["NODE1"].install = None
    report = RollingUpgrade.resume(cluster, journal=path, resend_action=["NODE1"]).run()
    assert report.outcome == "completed" and all_upgraded(sim)
    assert _starts(sim, "NODE1") == 2
    assert any("resend_action" in a["text"] for a in report.audit)


def test_failing_installer_stops_with_the_node_not_upgraded(tmp_path: Path) -> None:
    sim = _window_sim()
    sim.inject(InstallerFails("NODE1", exit_code=1603))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path, target="9.3").run()
    assert err.value.phase == "action" and "1603" in str(err.value)
    assert all(n.release.key == "2012R2" for n in sim.nodes.values())
    snap = sim.snapshot()
    assert snap.node("NODE1").state is NodeState.Paused and not snap.groups_on("NODE1")
    assert err.value.report.outcome == "stopped"
    sim.clear_faults()
    assert RollingUpgrade.resume(cluster, journal=path).run().outcome == "completed"
    assert all_upgraded(sim)


def test_interrupt_in_the_install_window_then_resume_waits_for_the_restart(
        tmp_path: Path) -> None:
    """Ctrl-C while the host is still in its install window. The journal records the real end;
    the resume does not count the node as back until it restarted onto the new version, so no
    group moves onto it and the next node is not drained before that."""
    sim = _window_sim()
    cluster = connect(sim)
    path = tmp_path / "j.json"

    def interrupt(event: Any) -> None:
        if type(event).__name__ == "PhaseStarted" and event.phase == "reboot":
            raise KeyboardInterrupt

    # A subscriber's KeyboardInterrupt propagates (the bus only swallows Exception): Ctrl-C
    # arriving while the reboot step starts.
    upgrade = RollingUpgrade(cluster, action=installer(), journal=path, on_event=interrupt)
    with pytest.raises(KeyboardInterrupt):
        upgrade.run()
    on_disk = Report.from_journal(path)
    assert on_disk.outcome == "stopped" and on_disk.stopped_at is not None
    assert on_disk.stopped_at["phase"] == "reboot"
    statuses = {s["id"]: s["status"] for s in on_disk.steps}
    assert statuses["NODE1:action"] == "done" and statuses["NODE1:reboot"] == "failed"
    assert "running" not in statuses.values()
    text = on_disk.to_text()
    assert "STOPPED" in text and "not on their original owner" in text  # NODE1 was drained
    assert sim.nodes["NODE1"].release.key == "2012R2"  # still copying files
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.outcome == "completed" and all_upgraded(sim)
    kinds = [(e.kind, e.subject) for e in sim.events]
    joined = kinds.index(("joined", "NODE1"))
    assert ("paused", "NODE2") not in kinds[:joined]  # NODE2 drained only after NODE1 is back
    assert _starts(sim, "NODE1") == 1
    results = {s["id"]: report.step_result(s) for s in report.steps}
    assert results["NODE1:action"] == "ran" and results["NODE1:reboot"] == "ran"
    assert results["NODE1:drain"] == "ran"
    assert "Steps: " in report.to_text() and "interrupted" not in report.to_text()
    from clusterlib.upgrade.report_html import report_document

    page = report_document(report)
    assert "skipped" not in page.split("<h4>Steps</h4>")[1].split("</table>")[0]


def test_resume_redoes_a_node_the_live_cluster_contradicts(tmp_path: Path) -> None:
    """Stopped after NODE1 was upgraded; NODE1 is then reimaged to the old release. The resume
    re-verifies it, upgrades it again, and the final check proves every node."""
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))  # the validation move on NODE2 fails
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    assert sim.nodes["NODE1"].release.key == "2016"
    sim.clear_faults()
    sim.nodes["NODE1"].release = release("2012R2")  # rolled back behind the run's back
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.outcome in ("completed", "degraded"), report.to_text()
    assert all_upgraded(sim)
    assert _starts(sim, "NODE1") == 2
    assert any("reimaged" in w for w in report.warnings)
    assert sim.snapshot().placement() == report.original_placement


def _in_a_bounded_wait() -> bool:
    """Whether the caller runs inside clusterlib.retry.wait_for (a bounded wait's read)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "wait_for" and frame.f_globals.get("__name__") == "clusterlib.retry":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def test_a_stall_after_a_read_never_ends_the_wait_on_that_stale_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The management host stalls (a paused VM, a long garbage collection, a loaded machine)
    right after a read that shows the node still Paused with its installer copying files; while
    it stalls, the node restarts and joins on the new release, and the reboot timeout passes.
    The wait must read once more before it gives up: a timeout decided on a read taken before
    the deadline stopped a run whose node was fine ("never seen going down", seen once under
    load in CI on the resume test above)."""
    timeout = 300.0
    sim = classic_ps(install_window=1e6)  # the restart comes only with the stall's jump
    cluster = connect(sim)
    real = RunContext.node
    stalls: list[str] = []

    def read_then_stall(self: RunContext, name: str) -> Any:
        info = real(self, name)
        run = sim.nodes[name].install
        if (run is not None and run.state == "running" and info.state is NodeState.Paused
                and _in_a_bounded_wait()):
            stalls.append(name)
            sim.jump(2e6)  # the cluster goes on: the installer restarts, the node joins
            time.sleep(1.5 * timeout / SPEED)  # the client is stalled past the wait's deadline
        return info

    monkeypatch.setattr(RunContext, "node", read_then_stall)
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                            options=UpgradeOptions(reboot_timeout=timeout)).run()
    assert stalls == ["NODE1", "NODE2"]  # each stall followed a read inside the reboot wait
    assert report.outcome == "completed", report.to_text()
    assert all_upgraded(sim) and _starts(sim, "NODE1") == 1 and _starts(sim, "NODE2") == 1


def test_a_stall_after_a_read_of_a_joining_node_is_no_overlong_join(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The management host stalls right after its second read of a node still Joining, for
    longer than rejoin_timeout, while the node finishes its join. The node was seen Joining
    only for moments; the join timer must measure between reads, not up to after the stall."""
    # rejoin_timeout 2,000 s is 0.4 s of wall time: far more than two reads of a Joining node
    # are apart, even on a loaded machine, and the stall below outlasts it.
    rejoin = 2000.0
    sim = classic_ps()
    sim.nodes["NODE1"].join_time = 1e6  # its join ends only with the stall's jump
    cluster = connect(sim)
    real = RunContext.node
    joining: list[str] = []

    def read_then_stall(self: RunContext, name: str) -> Any:
        info = real(self, name)
        if name == "NODE1" and info.state is NodeState.Joining and _in_a_bounded_wait():
            joining.append(name)
            if len(joining) == 2:  # the first read started the join timer
                sim.jump(2e6)  # the cluster goes on: the join finishes
                time.sleep(1.2 * rejoin / SPEED)  # stalled past rejoin_timeout
        return info

    monkeypatch.setattr(RunContext, "node", read_then_stall)
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                            options=UpgradeOptions(rejoin_timeout=rejoin)).run()
    assert len(joining) >= 2
    assert report.outcome == "completed", report.to_text()
    assert all_upgraded(sim)


def test_without_a_target_the_first_node_sets_it(tmp_path: Path) -> None:
    sim = classic_ps()
    sim.inject(NodeReturnsIncompatible("NODE2", "2019"))
    cluster = connect(sim)
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json").run()
    report = err.value.report
    assert report.adopted_target is not None and report.adopted_target["from"] == "NODE1"
    assert "NODE2" in str(err.value)


def test_final_check_refuses_completed_with_a_node_on_the_old_version(tmp_path: Path) -> None:
    """An action that reports success but changes nothing never counts as an upgrade."""
    sim = classic_ps()
    cluster = connect(sim)
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=CallableAction(lambda node, c: None, reboots=False),
                       journal=tmp_path / "j.json").run()
    assert err.value.phase == "verify" and "not upgraded" in str(err.value)
    assert sim.snapshot().node("NODE1").state is NodeState.Paused


# ---- stops that leave the truth ----------------------------------------------------------------


def test_journal_write_failure_is_a_safe_stop_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    real = Journal.save
    calls = {"n": 0}

    def flaky(self: Journal) -> None:
        calls["n"] += 1
        if calls["n"] >= 3:  # the write before the installer is sent (the action step's)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self)

    monkeypatch.setattr(Journal, "save", flaky)
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    assert str(path) in str(err.value) and "No space left" in str(err.value)
    cause = err.value.__cause__
    assert cause is not None and "No space left" in str(cause)  # the OS error stays visible
    report = err.value.report
    assert report.outcome == "stopped"
    assert not [s for s in report.steps if s["status"] == "running"]
    assert sim.snapshot().node("NODE1").state in (NodeState.Up, NodeState.Paused)
    monkeypatch.setattr(Journal, "save", real)
    assert RollingUpgrade.resume(cluster, journal=path).run().outcome == "completed"
    assert all_upgraded(sim)


def test_a_stop_right_after_the_installer_was_sent_never_sends_it_again_on_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal records the send before it happens; a run that stops after the send, before
    the step's end is written, leaves a step "running" whose installer may be running: the
    resume waits for evidence (the node restarting, its version changing) and never sends the
    installer a second time."""
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    real = Journal.save
    sent: list[int] = []

    def flaky(self: Journal) -> None:
        started = [e for e in sim.events if e.kind == "upgrade-start"]
        if started:  # from the first write after the installer started on NODE1: the disk is
            sent.append(len(started))  # full (as good as a crash: nothing more is written)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self)

    monkeypatch.setattr(Journal, "save", flaky)
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    assert set(sent) == {1}
    on_disk = json.loads(path.read_text())["journal"]
    action = next(s for s in on_disk["steps"] if s["id"] == "NODE1:action")
    assert action["status"] == "running" and "NODE1" in on_disk["action_sent"]
    monkeypatch.setattr(Journal, "save", real)
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.outcome == "completed", report.message
    assert all_upgraded(sim)
    starts = [e.subject for e in sim.events if e.kind == "upgrade-start"]
    assert starts.count("NODE1") == 1, starts


# ---- verification hooks ------------------------------------------------------------------------


def test_verify_hook_failure_stops_with_the_node_paused_and_empty(
        tmp_path: Path, connect_sim: Any) -> None:
    sim = classic_ps()
    cluster = connect_sim(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path, verify="cmd /c exit 3").run()
    assert err.value.phase == "verify" and "exited with 3" in str(err.value)
    snap = sim.snapshot()
    assert snap.node("NODE1").state is NodeState.Paused and not snap.groups_on("NODE1")
    assert sim.nodes["NODE1"].release.key == "2016" and sim.nodes["NODE2"].release.key == "2012R2"
    if "winrm" in type(cluster.transport).__name__.lower():
        return  # the hook's failure over the wire is the point; the resume is the same in-process
    seen: list[str] = []
    report = RollingUpgrade.resume(cluster, journal=path,
                                   verify=lambda node, c: seen.append(node)).run()
    assert report.outcome == "completed" and seen == ["NODE1", "NODE2"]


def test_pre_update_runs_before_the_action_and_can_stop_it(tmp_path: Path) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    order: list[tuple[str, int]] = []

    def pre(node: str, c: object) -> None:
        order.append((node, _starts(sim, node)))
        if node == "NODE2":
            raise RuntimeError("backup not finished")

    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                       pre_update=pre).run()
    assert order == [("NODE1", 0), ("NODE2", 0)]
    assert err.value.phase == "action" and "backup not finished" in str(err.value)
    assert _starts(sim, "NODE2") == 0


# ---- WMI ---------------------------------------------------------------------------------------


def test_wmi_command_path_not_found_is_an_action_failure(tmp_path: Path) -> None:
    sim = SimCluster.classic(speed=SPEED)
    cluster = connect(sim)
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=WmiCommand(r"D:\i386\nosuch.exe"),
                       journal=tmp_path / "j.json", retries_per_node=0).run()
    assert "returned 9" in str(err.value) and "Path not found" in str(err.value)
    assert all(n.release.key == "2000" for n in sim.nodes.values())


def test_default_action_picks_wmi_before_2008() -> None:
    old = connect(SimCluster.classic(speed=SPEED)).snapshot()
    new = connect(classic_ps()).snapshot()
    assert isinstance(default_action(WINNT32, old), WmiCommand)
    assert isinstance(default_action(WINNT32, new), RemoteCommand)
    wmi = WmiCommand("x.exe /key:SECRET", secret=True)
    assert "SECRET" not in repr(wmi) + wmi.describe("N1") + json.dumps(wmi.to_dict())
    assert action_from_dict(WmiCommand(WINNT32).to_dict()).describe("N") == \
        WmiCommand(WINNT32).describe("N")  # type: ignore[union-attr]


def test_hooks_in_options_round_trip_and_bad_hooks_are_refused(tmp_path: Path) -> None:
    opts = UpgradeOptions(verify="cmd /c exit 0",
                          pre_update=PowerShellAction("Get-Service", {"Name": "ClusSvc"}))
    data = json.loads(json.dumps(opts.to_dict()))
    assert data["verify"]["line"] == "cmd /c exit 0" and data["verify"]["reboots"] is False
    back = UpgradeOptions.from_dict(data)
    assert back.verify.describe("N") == "on N: cmd /c exit 0"
    assert back.pre_update.cmdlet.name == "Get-Service"
    with pytest.raises(TypeError, match="verify must be a command line"):
        UpgradeOptions(verify=42)
    # A callable hook is not in the journal: a resume asks for it.
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=installer(), journal=path, retries_per_node=0,
                       options=UpgradeOptions(verify=_fail_once())).run()
    with pytest.raises(JournalRejected, match="verify"):
        RollingUpgrade.resume(cluster, journal=path).run()
    assert RollingUpgrade.resume(cluster, journal=path,
                                 verify=lambda n, c: None).run().outcome == "completed"


def _fail_once() -> Any:
    def check(node: str, cluster: object) -> None:
        raise RuntimeError(f"{node}: service check failed")
    return check


@pytest.mark.parametrize("with_target", [True, False], ids=["target", "adopted"])
def test_service_pack_roll_is_proven_by_the_os_build_and_service_pack(
        tmp_path: Path, with_target: bool) -> None:
    """A service-pack roll keeps the cluster-service version: only the OS build and CSDVersion
    prove a node upgraded (with an explicit target, or the one the first node sets)."""
    import attrs

    from clusterlib.model import OSVersion

    sim = SimCluster.classic(os="2003", speed=SPEED)
    sp2 = sim.nodes["NODE1"].release
    sp1 = attrs.evolve(sp2, os=OSVersion(5, 2, 3790, "Service Pack 1"))
    for node in sim.nodes.values():
        node.release = sp1

    def install_sp2(node: str, cluster: object) -> None:
        sim.reboot_node(node, into=sp2)

    target = TargetVersion("4.3790", os="5.2.3790 Service Pack 2") if with_target else None
    report = RollingUpgrade(connect(sim), action=CallableAction(install_sp2),
                            journal=tmp_path / "j.json", target=target).run()
    assert report.outcome == "completed", report.to_text()
    assert all(n.release.os.csd == "Service Pack 2" for n in sim.nodes.values())
    if not with_target:
        assert report.adopted_target is not None
        assert report.adopted_target["os"] == "5.2.3790 Service Pack 2"
    assert TargetVersion.from_dict(json.loads(json.dumps(
        TargetVersion("4.3790", os="5.2.3790 Service Pack 2").to_dict()))).os \
        == "5.2.3790 Service Pack 2"


def test_wmi_started_installer_that_fails_is_resent_only_at_the_operators_word(
        tmp_path: Path) -> None:
    """Through WMI the installer's exit code is unreadable: a failing installer shows only as a
    node that never restarts. The run stops at reboot; a plain resume does not send it again;
    resend_action does, once."""
    sim = SimCluster.classic(speed=SPEED, install_window=300.0)
    sim.inject(InstallerFails("NODE1", exit_code=1603))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    action = WmiCommand(WINNT32)
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=action, journal=path, order=["NODE1", "NODE2"]).run()
    assert err.value.phase == "reboot" and "resend_action=['NODE1']" in str(err.value)
    sim.clear_faults()
    with pytest.raises(UpgradeStopped):
        RollingUpgrade.resume(cluster, journal=path).run()
    assert _starts(sim, "NODE1") == 0
    report = RollingUpgrade.resume(cluster, journal=path, resend_action=["NODE1"]).run()
    assert report.outcome == "completed" and all_upgraded(sim, "2003")
    assert _starts(sim, "NODE1") == 1 and _starts(sim, "NODE2") == 1


def test_a_request_that_never_left_is_a_plain_failure() -> None:
    """A transport that knows the connection failed before the request was sent (``unsent``)
    rules the start out: ActionFailed, which the engine may retry; otherwise unconfirmed."""
    from clusterlib.upgrade.actions import ActionFailed, ActionUnconfirmed

    sim = classic_ps()
    inner = connect(sim).transport

    class Host:
        endpoint = "fake:1"
        time_scale = sim.speed

        def __init__(self, unsent: bool) -> None:
            self.unsent = unsent

        def run_pipeline(self, p: Any) -> Any:
            return inner.run_pipeline(p)

        def run_cmd(self, line: Any) -> Any:
            return inner.run_cmd(line)

        def for_node(self, node: str) -> Any:
            host = self

            class Node:
                endpoint = f"fake:{node}"

                def run_cmd(self, line: Any) -> Any:
                    exc = clusterlib.ConnectionFailed(f"{node}: connection refused")
                    exc.unsent = host.unsent  # type: ignore[attr-defined]
                    raise exc
            return Node()

        def close(self) -> None: ...

    class Ctx:
        def notify(self, message: str) -> None: ...

        def waiting(self, prompt: str, timeout: float) -> None: ...

    for unsent, expected in ((True, ActionFailed), (False, ActionUnconfirmed)):
        cluster = clusterlib.connect(Host(unsent))  # type: ignore[arg-type]
        with pytest.raises(ActionFailed) as err:
            installer().run("NODE1", cluster, Ctx())
        assert type(err.value) is expected


def test_group_failed_elsewhere_mid_run_is_moved_back_and_the_run_ends_degraded(
        tmp_path: Path) -> None:
    """Between two steps someone moves a group to a node where it cannot come online. At the
    next boundary the engine moves it back to the Up node where it was Online and goes on; the
    run finishes every step but is "degraded", never "completed", and the report says why."""
    sim = SimCluster.build(4, 8, os="2012R2", upgrade_to="2016", speed=SPEED)
    victim = next(g for g in sim.groups.values() if not g.is_core and g.owner == "NODE02")
    sim.inject(GroupFailsOnline(victim.name, "NODE03"))
    done: list[str] = []

    def sabotage(event: Any) -> None:
        if type(event).__name__ == "PhaseFinished" and event.step == "NODE01:verify" \
                and not done:
            done.append("moved")
            sim.move_group(victim.name, "NODE03")
            sim.settle()
            assert sim.groups[victim.name].state is GroupState.Failed
            sim.clear_faults()  # what failed it is gone; the group stays Failed until moved

    report = RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json",
                            order=["NODE01", "NODE02", "NODE03", "NODE04"],
                            validation_group=None, on_event=sabotage).run()
    assert done and report.outcome == "degraded" and not report.ok
    assert victim.name in report.message and "OUTAGE" in report.to_text()
    avail = report.availability[victim.name]
    assert avail["excess"] > 0 and any("NODE01" in k for k in avail["by_phase"])
    assert any(m["purpose"] == "recovery" and m["group"] == victim.name for m in report.moves)
    assert all_upgraded(sim)
    assert sim.snapshot().group(victim.name).state is GroupState.Online


def test_resume_against_a_fresh_cluster_never_claims_old_nodes(tmp_path: Path) -> None:
    """Stand-in for a cluster rolled back between a stop and a resume: the resume meets a fresh
    cluster of the same name. Every node the journal calls upgraded is redone; the run never
    says "completed" with a node on the old version."""
    first = classic_ps()
    first.inject(GroupFailsOnline("File Group 3", "NODE2"))
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(connect(first), action=installer(), journal=path).run()
    assert first.nodes["NODE1"].release.key == "2016"
    fresh = classic_ps()
    report = RollingUpgrade.resume(connect(fresh), journal=path).run()
    assert report.outcome in ("completed", "degraded")
    assert all_upgraded(fresh)
    assert _starts(fresh, "NODE1") == 1 and _starts(fresh, "NODE2") == 1
    assert fresh.snapshot().placement() == report.original_placement
