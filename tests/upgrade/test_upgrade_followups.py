"""Resume of a finished journal, the simulated-endpoint mark, force drain, unsafe names, resume's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from upgrade_helpers import all_upgraded, classic_ps, connect, installer

from clusterlib import NodeState, NotSupported
from clusterlib.sim import GroupFailsOnline, SimCluster, release
from clusterlib.upgrade import (
    JournalRejected,
    PowerShellAction,
    RemoteCommand,
    Report,
    RollingUpgrade,
    UpgradeOptions,
    UpgradeStopped,
    WmiCommand,
    read_lock,
)

WINNT32 = r"D:\i386\winnt32.exe /unattend"

#: Sim event kinds that change a node or a group (the lock's own parameter writes excepted).
CHANGES = {"paused", "resumed", "move-start", "moved", "upgrade-start", "reboot", "restart",
           "wmic-started", "functional-level"}


def _changes(sim: SimCluster) -> list[str]:
    return [f"{e.kind} {e.subject}" for e in sim.events if e.kind in CHANGES]


def _completed_run(tmp_path: Path) -> tuple[SimCluster, Path]:
    sim = classic_ps()
    path = tmp_path / "j.json"
    report = RollingUpgrade(connect(sim), action=installer(), journal=path).run()
    assert report.outcome == "completed", report.to_text()
    return sim, path


# ---- 1. a finished journal is checked against the live cluster -----------------------------------


def test_resume_of_a_completed_journal_against_the_same_cluster_sends_nothing(
        tmp_path: Path) -> None:
    sim, path = _completed_run(tmp_path)
    before = len(_changes(sim))
    report = RollingUpgrade.from_journal(connect(sim), journal=path).run()
    assert report.outcome == "completed", report.to_text()
    assert _changes(sim)[before:] == []


def test_resume_of_a_completed_journal_against_a_fresh_cluster_is_never_completed_unproven(
        tmp_path: Path) -> None:
    """A fresh, never-upgraded cluster with the same names: the journal's "completed" is
    contradicted. The resume reopens every node (each installer really runs on the fresh
    cluster) and says completed only when the fresh cluster is proven upgraded."""
    _, path = _completed_run(tmp_path)
    fresh = classic_ps()
    report = RollingUpgrade.from_journal(connect(fresh), journal=path).run()
    starts = [c for c in _changes(fresh) if c.startswith("upgrade-start")]
    assert sorted(starts) == ["upgrade-start NODE1", "upgrade-start NODE2"]
    assert all_upgraded(fresh)
    assert report.outcome == "completed"
    assert any("reimaged" in w for w in report.warnings)


def test_resume_of_a_completed_journal_that_cannot_redo_stops_not_completed(
        tmp_path: Path) -> None:
    """A fresh cluster whose installer installs nothing new (no upgrade there): never completed."""
    _, path = _completed_run(tmp_path)
    fresh = classic_ps()
    fresh.upgrade_to = release("2012R2")
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade.from_journal(connect(fresh), journal=path).run()
    assert err.value.report.outcome == "stopped"
    assert Report.from_journal(path).outcome == "stopped"


def test_resume_of_a_completed_journal_after_a_node_rolled_back(tmp_path: Path) -> None:
    sim, path = _completed_run(tmp_path)
    sim.nodes["NODE2"].release = release("2012R2")
    before = len(_changes(sim))
    report = RollingUpgrade.from_journal(connect(sim), journal=path).run()
    assert [c for c in _changes(sim)[before:] if c.startswith("upgrade-start")] == ["upgrade-start NODE2"]
    assert report.outcome == "completed" and all_upgraded(sim)


# ---- 5. a name cluster.exe cannot carry stops the drain before the pause ---------------------------


def test_unsafe_group_name_on_a_cluster_exe_cluster_is_refused_by_preflight() -> None:
    sim = SimCluster.classic(speed=5000)
    sim.add_group("R&D Share", owner="NODE2")
    cluster = connect(sim)
    plan = RollingUpgrade(cluster, action=WmiCommand(WINNT32), target=sim.upgrade_to).plan()
    check = next(c for c in plan.checks if c.name == "names")
    assert not check.ok and not plan.ok and "R&D Share" in check.message


def test_unsafe_group_name_on_a_cluster_exe_cluster_stops_at_drain_unpaused(
        tmp_path: Path) -> None:
    """A group named so cluster.exe cannot carry it appears mid-run (after preflight): the drain
    of its node stops before the pause, naming it."""
    sim = SimCluster.classic(speed=5000)
    cluster = connect(sim)
    assert cluster.dialect_name == "clusterexe"

    def add(event: object) -> None:
        if type(event).__name__ == "PhaseFinished" and getattr(event, "step", "") \
                == "NODE1:validate" and "R&D Share" not in sim.groups:
            sim.add_group("R&D Share", owner="NODE2")

    upgrade = RollingUpgrade(cluster, action=WmiCommand(WINNT32), journal=tmp_path / "j.json",
                             target=sim.upgrade_to, on_event=add)
    with pytest.raises(UpgradeStopped) as err:
        upgrade.run()
    stop = err.value
    assert stop.phase == "drain" and stop.node == "NODE2" and stop.group == "R&D Share"
    assert "R&D Share" in str(stop) and "nothing was sent" in str(stop).lower()
    assert all(n.state is NodeState.Up for n in sim.snapshot().nodes)
    assert "paused NODE2" not in _changes(sim)  # NODE1 went first and is back Up
    assert stop.report.outcome == "stopped"


# ---- 2. the journal says whether the cluster was simulated ---------------------------------------


def test_journal_and_report_of_a_simulated_run_say_simulated(tmp_path: Path) -> None:
    _, path = _completed_run(tmp_path)
    body = json.loads(path.read_text(encoding="utf-8"))["journal"]
    assert body["endpoint"] == {"kind": "sim", "target": "sim:CLUSTER1"}
    report = Report.from_journal(path)
    assert report.simulated is True
    assert report.to_text().splitlines()[1].startswith("SIMULATED")
    doc = report.to_dict()
    assert doc["simulated"] is True and doc["endpoint"]["kind"] == "sim"
    assert "SIMULATED" in report._repr_html_()


def test_endpoint_of_a_winrm_transport_is_winrm() -> None:
    from clusterlib.upgrade.engine import endpoint_of

    class FakeWinRM:
        endpoint = "node1.example:5986"

    class FakeCluster:
        transport = FakeWinRM()

    assert endpoint_of(FakeCluster()) == {"kind": "winrm",  # type: ignore[arg-type]
                                          "target": "node1.example:5986"}


def test_report_without_endpoint_is_not_called_simulated(tmp_path: Path) -> None:
    """Journals written before the endpoint was recorded: unknown, never SIMULATED."""
    _, path = _completed_run(tmp_path)
    report = Report.from_journal(path)
    import attrs

    old = attrs.evolve(report, endpoint=None)
    assert old.simulated is False and "SIMULATED" not in old.to_text()
    assert old.to_dict()["simulated"] is False


# ---- 7. resume has the constructor's shape ----------------------------------------------------------


def test_resume_returns_the_run_ready_to_subscribe_and_run(tmp_path: Path) -> None:
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))  # the validation move on NODE2 fails
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    sim.clear_faults()
    before = len(_changes(sim))
    upgrade = RollingUpgrade.resume(cluster, journal=path)
    assert isinstance(upgrade, RollingUpgrade)
    assert len(_changes(sim)) == before  # nothing ran yet
    seen: list[str] = []
    upgrade.subscribe(lambda e: seen.append(type(e).__name__))
    report = upgrade.run()
    assert report.outcome in ("completed", "degraded"), report.to_text()
    assert "RunFinished" in seen and all_upgraded(sim)


def test_resume_run_true_is_deprecated_but_still_runs(tmp_path: Path) -> None:
    sim, path = _completed_run(tmp_path)
    with pytest.warns(DeprecationWarning, match=r"resume\(\.\.\.\)\.run\(\)"):
        report = RollingUpgrade.resume(connect(sim), journal=path, run=True)
    assert isinstance(report, Report) and report.outcome == "completed"


# ---- 4. RemoteCommand.problem finds what will fail before anything changes --------------------------


def test_remote_command_refused_where_no_winrm_listener_exists() -> None:
    sim = SimCluster.classic(speed=5000)  # Windows 2000: no WinRM listener
    cluster = connect(sim)
    before = len(_changes(sim))
    plan = RollingUpgrade(cluster, action=RemoteCommand(r"D:\i386\winnt32.exe /unattend")).plan()
    check = next(c for c in plan.checks if c.name == "action")
    assert not check.ok and not plan.ok
    assert "NODE1" in check.message and "NODE2" in check.message
    assert "WmiCommand" in check.message and "WinRM" in check.message
    assert len(_changes(sim)) == before
    # WmiCommand passes the same check.
    wmi = RollingUpgrade(cluster, action=WmiCommand(WINNT32)).plan()
    assert next(c for c in wmi.checks if c.name == "action").ok


def test_remote_command_fine_where_winrm_exists() -> None:
    cluster = connect(classic_ps())
    assert RemoteCommand(r"D:\setup.exe").problem(cluster, snapshot=cluster.snapshot()) is None


def test_remote_command_refused_when_the_node_connection_would_be_insecure() -> None:
    """Basic over plain HTTP is allowed to the loopback management endpoint, but the installer
    runs on each node's own host: for_node() refuses that, and preflight says so."""
    from clusterlib.transports.winrm import WinRMTransport

    transport = WinRMTransport("127.0.0.1", auth="basic", ssl=False, username="u",
                               password="s3cret-pw")

    class Cluster:
        pass

    fake = Cluster()
    fake.transport = transport  # type: ignore[attr-defined]
    snap = classic_ps().snapshot()
    for action in (RemoteCommand(r"D:\setup.exe"),
                   PowerShellAction("Install-WindowsFeature", {"Name": "Failover-Clustering"})):
        problem = action.problem(fake, snapshot=snap)  # type: ignore[arg-type]
        assert problem is not None
        assert "NODE1" in problem and "cleartext" in problem and "s3cret-pw" not in problem


# ---- 6. force drain ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("os", "switch"), [("2012R2", "ForceDrain"), ("2016", "ForceDrain"),
                                            ("2012", "ForceEvacuation")])
def test_force_drain_switch_by_release(os: str, switch: str) -> None:
    sim = SimCluster.classic(os=os, speed=5000)
    cluster = connect(sim)
    assert cluster.capabilities.force_drain == switch
    text = cluster.dialect.pause_command("NODE1", drain=True, force=True).describe()
    assert f"-{switch}" in text and "-Drain" in text
    assert "-Force" not in cluster.dialect.pause_command("NODE1", drain=True).describe()
    cluster.node("NODE1").pause(force=True)
    assert sim.snapshot().node("NODE1").state is NodeState.Paused
    assert not sim.snapshot().groups_on("NODE1")


@pytest.mark.parametrize("os", ["2008R2", "2003"])
def test_force_drain_refused_where_the_release_has_none(os: str) -> None:
    sim = SimCluster.classic(os=os, speed=5000)
    cluster = connect(sim)
    assert cluster.capabilities.force_drain is None
    before = len(_changes(sim))
    with pytest.raises(NotSupported, match="force"):
        cluster.node("NODE1").pause(force=True)
    assert len(_changes(sim)) == before
    plan = RollingUpgrade(cluster, action=WmiCommand(WINNT32) if os == "2003"
                          else installer(), force_drain=True).plan()
    check = next(c for c in plan.checks if c.name == "force-drain")
    assert not check.ok and "force" in check.message.lower() and not plan.ok


def test_force_drain_run_sends_the_switch_and_journals_the_option(tmp_path: Path) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    upgrade = RollingUpgrade(cluster, action=installer(), journal=path, force_drain=True)
    assert "-ForceDrain" in upgrade.plan().to_text()
    report = upgrade.run()
    assert report.outcome == "completed", report.to_text()
    assert report.options["force_drain"] is True
    assert UpgradeOptions.from_dict(report.options).force_drain is True
    assert RollingUpgrade(cluster, action=installer()).options.force_drain is False


def test_resume_that_must_redo_a_node_needs_an_action_it_cannot_rebuild(tmp_path: Path) -> None:
    """A secret installer line is not in the journal: a finished run whose node was rolled back
    asks for action= before anything changes, and then redoes it."""
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    secret = RemoteCommand(r"D:\setup.exe /unattend /key:XYZZY-1234", secret=True)
    assert RollingUpgrade(cluster, action=secret, journal=path).run().outcome == "completed"
    sim.nodes["NODE2"].release = release("2012R2")
    before = len(_changes(sim))
    refused = RollingUpgrade.from_journal(cluster, journal=path)
    with pytest.raises(JournalRejected, match="action="):
        refused.run()
    assert len(_changes(sim)) == before
    assert Report.from_journal(path).outcome == "stopped"  # no longer "completed"
    with pytest.raises(JournalRejected, match="action="):  # refused at once now
        RollingUpgrade.from_journal(cluster, journal=path)
    assert read_lock(cluster) is None  # the refused resume left no lock behind
    report = RollingUpgrade.from_journal(cluster, journal=path, action=secret).run()
    assert report.outcome == "completed" and all_upgraded(sim)


def test_a_second_run_on_an_upgraded_cluster_drains_nothing_and_sends_nothing(tmp_path: Path) -> None:
    """Nodes already on the target are left alone (a re-run, or a cluster finished by hand):
    draining them and sending the installer again would take workloads away for nothing."""
    from clusterlib.upgrade import RemoteCommand, RollingUpgrade

    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=5000)
    cluster = connect(sim)
    first = RollingUpgrade(cluster, RemoteCommand(r"D:\setup.exe /unattend"),
                           journal=tmp_path / "a.json", target="9.3").run()
    assert first.outcome == "completed"
    before = len(sim.calls())
    again = RollingUpgrade(cluster, RemoteCommand(r"D:\setup.exe /unattend"),
                           journal=tmp_path / "b.json", target="9.3")
    plan = again.plan()
    assert plan.order == () and plan.steps == ()
    skipped = {c.name: c for c in plan.checks}["already-on-target"]
    assert "NODE1, NODE2 already run the target 9.3" in skipped.message
    report = again.run()
    assert report.outcome == "completed" and "nothing to upgrade" in report.message
    acted = [e for e in sim.calls()[before:]
             if e.subject in ("Suspend-ClusterNode", "Move-ClusterGroup", "Resume-ClusterNode", "cmd")]
    assert acted == []
