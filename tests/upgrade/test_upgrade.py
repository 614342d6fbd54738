"""Rolling upgrade end to end on the simulator: the classic two-node runs, four nodes with the functional
level, the plan, events, the report and the actions."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import (
    SETUP,
    all_upgraded,
    assert_safe,
    classic_ps,
    connect,
    four_node,
    installer,
    online_at_start,
)

import clusterlib
from clusterlib import NodeState, NotSupported
from clusterlib.sim import SimCluster
from clusterlib.upgrade import (
    CallableAction,
    ManualAction,
    PowerShellAction,
    RemoteCommand,
    Report,
    RollingUpgrade,
    TargetVersion,
    UpgradeOptions,
    UpgradeStopped,
    WmiCommand,
)
from clusterlib.upgrade.actions import ActionFailed, action_from_dict
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult


def test_classic_two_node_2012r2_to_2016(tmp_path: Path) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    original = sim.snapshot().placement()
    cluster = connect(sim)
    events: list[Any] = []
    upgrade = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                             target=sim.upgrade_to, on_event=events.append)
    report = upgrade.run()
    assert report.ok and report.outcome == "completed"
    assert all_upgraded(sim)
    assert sim.snapshot().placement() == original
    assert all(n.state is NodeState.Up for n in sim.snapshot().nodes)
    assert_safe(sim, online)
    # The installer ran once per node, on that node, only when it owned nothing.
    runs = [e for e in sim.calls("cmd") if e.detail["line"] == SETUP]
    assert [e.detail["node"] for e in runs] == ["NODE1", "NODE2"]  # node 1 first (node ID)
    for e in runs:
        assert not any(ev.kind == "moved" and ev.detail.get("node") == e.detail["node"]
                       and ev.t == e.t for ev in sim.events)
    # The lock is gone after a completed run.
    assert "ClusterlibUpgradeLock" not in sim.private_props
    kinds = {type(e).__name__ for e in events}
    assert {"RunStarted", "PhaseStarted", "PhaseFinished", "GroupMoved", "RunFinished"} <= kinds
    assert report.nodes["NODE1"]["before"]["highest"] == "8.9600"
    assert report.nodes["NODE1"]["after"]["highest"] == "9.3"


def test_no_group_owned_when_the_action_starts(tmp_path: Path) -> None:
    """The interlock, checked by the action itself at the instant it runs."""
    sim = classic_ps()
    cluster = connect(sim)
    seen: list[tuple[str, list[str]]] = []

    def upgrade_node(node: str, c: clusterlib.Cluster) -> None:
        seen.append((node, [g.name for g in sim.snapshot().groups_on(node)]))
        sim.upgrade_node(node)

    RollingUpgrade(cluster, action=CallableAction(upgrade_node), journal=tmp_path / "j.json",
                   target="9.3").run()
    assert seen == [("NODE1", []), ("NODE2", [])]


def test_classic_2000_to_2003_over_cluster_exe(tmp_path: Path) -> None:
    try:
        import clusterlib.dialects.clusterexe_dialect  # noqa: F401
    except ImportError:
        pytest.skip("the cluster.exe dialect (clusterlib.dialects.clusterexe_dialect) is not available")
    sim = SimCluster.classic(speed=5000)
    online = online_at_start(sim)
    original = sim.snapshot().placement()
    cluster = connect(sim)
    assert cluster.dialect_name == "clusterexe"
    # Windows 2000 nodes have no WinRM listener: the installer starts through WMI.
    upgrade = RollingUpgrade(cluster, action=WmiCommand(r"D:\i386\winnt32.exe /unattend"),
                             journal=tmp_path / "j.json", target=sim.upgrade_to)
    plan = upgrade.plan()
    assert 'cluster.exe node "NODE2" /pause' in plan.to_text()
    report = upgrade.run()
    assert report.ok
    assert all_upgraded(sim, "2003")
    assert sim.snapshot().placement() == original
    assert_safe(sim, online)
    assert any(c.name == "quorum" and c.ok for c in plan.checks)  # a quorum disk (DiskOnly)


def test_four_nodes_raise_functional_level(tmp_path: Path) -> None:
    sim = four_node()
    original = sim.snapshot().placement()
    online = online_at_start(sim)
    cluster = connect(sim)
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                            target=sim.upgrade_to, raise_functional_level=True).run()
    assert report.ok
    assert sim.functional_level == 9
    assert report.functional_level["after"] == 9
    assert all_upgraded(sim)
    assert sim.snapshot().placement() == original
    assert_safe(sim, online)
    assert len(sim.calls("Update-ClusterFunctionalLevel")) == 1


def test_functional_level_never_raised_without_the_flag(tmp_path: Path) -> None:
    sim = four_node()
    RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json").run()
    assert sim.functional_level == 8
    assert not sim.calls("Update-ClusterFunctionalLevel")


def test_failback_each_and_fewest_groups_first(tmp_path: Path) -> None:
    sim = SimCluster({"A": ["a1", "a2", "a3"], "B": ["b1"], "C": []}, os="2012R2",
                     upgrade_to="2016", speed=5000)
    original = sim.snapshot().placement()
    cluster = connect(sim)
    upgrade = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                             failback="each", order_policy="fewest-groups-first")
    plan = upgrade.plan()
    assert plan.order == ("C", "B", "A")  # A also holds the core group
    assert any(s.kind == "failback" for s in plan.steps)
    report = upgrade.run()
    assert report.ok
    assert sim.snapshot().placement() == original
    assert [m["purpose"] for m in report.moves].count("failback") >= 1


def test_plan_text_and_json_show_the_exact_commands() -> None:
    sim = classic_ps()
    cluster = connect(sim)
    upgrade = RollingUpgrade(cluster, action=installer(), target=sim.upgrade_to,
                             raise_functional_level=True, order=["NODE1", "NODE2"])
    plan = upgrade.plan()
    text = plan.to_text()
    for cmd in ("Suspend-ClusterNode -Name 'NODE1' -Drain -Wait",
                "Move-ClusterGroup -Name 'Cluster Group' -Node 'NODE2' -Wait 300",
                "Resume-ClusterNode -Name 'NODE1' -Failback 'NoFailback'",
                "Update-ClusterFunctionalLevel -Force",
                r"on NODE1: D:\setup.exe /unattend"):
        assert cmd in text, cmd
    data = json.loads(plan.to_json())
    assert data["order"] == ["NODE1", "NODE2"] and data["ok"] is True
    assert [s["kind"] for s in data["steps"][:6]] == ["drain", "action", "reboot", "verify",
                                                      "resume", "validate"]
    assert data["steps"][0]["commands"][0] == "Suspend-ClusterNode -Name 'NODE1' -Drain -Wait"
    assert data["steps"][0]["predicted_moves"]["SQL Group 1"] == "NODE2"
    assert {c["name"] for c in data["checks"]} >= {"nodes-up", "groups-healthy", "quorum",
                                                   "capacity", "version-join", "lock"}
    assert "<table>" in plan._repr_html_()
    # A dry run is only the plan: nothing was sent but reads.
    assert not sim.calls("Suspend-ClusterNode") and not sim.calls("Move-ClusterGroup")


def test_plan_html_escapes_names() -> None:
    sim = SimCluster({"N1": ["<b>x</b>"], "N2": []}, os="2012R2", upgrade_to="2016", speed=5000)
    html = RollingUpgrade(connect(sim), action=installer()).plan()._repr_html_()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_report_contents_and_round_trip(tmp_path: Path) -> None:
    sim = classic_ps()
    path = tmp_path / "j.json"
    report = RollingUpgrade(connect(sim), action=installer(), journal=path,
                            target=sim.upgrade_to).run()
    again = Report.from_journal(path)
    assert again.to_dict() == report.to_dict()
    data = json.loads(report.to_json())
    assert data["outcome"] == "completed"
    assert data["misplaced"] == {}
    assert set(data["phase_seconds"]) >= {"drain", "action", "reboot", "resume", "validate",
                                          "redistribute"}
    purposes = {m["purpose"] for m in data["moves"]}
    assert {"validation", "redistribute"} <= purposes
    assert data["final_placement"] == data["original_placement"]
    text = report.to_text()
    assert "COMPLETED" in text and "NODE1" in text and "9.3" in text
    assert "<table>" in report._repr_html_()


def test_events_are_json_serialisable(tmp_path: Path) -> None:
    sim = classic_ps()
    docs: list[dict[str, Any]] = []
    RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json",
                   on_event=lambda e: docs.append(e.to_dict())).run()
    text = json.dumps(docs)
    assert json.loads(text) == docs
    assert all(d["text"] and d["run_id"] and d["at"] for d in docs)
    started = [d for d in docs if d["type"] == "PhaseStarted"]
    assert started[0]["node"] == "NODE1" and started[0]["phase"] == "drain"
    assert started[0]["timeout"] == UpgradeOptions().drain_timeout


def test_broken_subscriber_never_breaks_the_run(tmp_path: Path) -> None:
    sim = classic_ps()

    def boom(event: Any) -> None:
        raise RuntimeError("display crashed")

    assert RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json",
                          on_event=boom).run().ok


def test_manual_action_confirmed_from_another_thread(tmp_path: Path) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    action = ManualAction("Upgrade {node}.")
    upgrade = RollingUpgrade(cluster, action=action, journal=tmp_path / "j.json", target="9.3")

    def operator(event: Any) -> None:
        if type(event).__name__ == "WaitingForOperator":
            def work() -> None:
                sim.upgrade_node(event.node)
                upgrade.confirm(event.node)
            threading.Thread(target=work).start()

    upgrade.subscribe(operator)
    assert upgrade.run().ok
    assert all_upgraded(sim)


def test_manual_action_with_ask_and_refusal(tmp_path: Path) -> None:
    sim = classic_ps()
    asked: list[str] = []

    def ask(node: str, prompt: str) -> bool:
        asked.append(prompt)
        return False

    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(connect(sim), action=ManualAction("Upgrade {node} now.", ask=ask),
                       journal=tmp_path / "j.json", retries_per_node=0).run()
    assert asked == ["Upgrade NODE1 now."]
    assert "operator declined" in str(err.value) and err.value.node == "NODE1"
    assert sim.nodes["NODE1"].state is NodeState.Paused  # left drained, safe, resumable
    assert not sim.snapshot().groups_on("NODE1")


def test_manual_action_times_out() -> None:
    action = ManualAction()
    action.timeout = 0.05

    class Ctx:
        def notify(self, message: str) -> None: ...

        def waiting(self, prompt: str, timeout: float) -> None: ...

    with pytest.raises(ActionFailed, match="no confirmation for N1"):
        action.run("N1", None, Ctx())  # type: ignore[arg-type]


def test_action_failure_is_retried_then_stops(tmp_path: Path) -> None:
    sim = classic_ps()
    calls: list[str] = []

    def flaky(node: str, cluster: clusterlib.Cluster) -> None:
        calls.append(node)
        if len(calls) == 1:
            raise OSError("installer share not reachable")
        sim.upgrade_node(node)

    report = RollingUpgrade(connect(sim), action=CallableAction(flaky),
                            journal=tmp_path / "j.json", retries_per_node=1).run()
    assert report.ok and calls == ["NODE1", "NODE1", "NODE2"]
    assert any(r["phase"] == "action" for r in report.retries)


def test_max_failed_nodes_lets_the_run_continue(tmp_path: Path) -> None:
    sim = four_node()

    def fail_on_node02(node: str, cluster: clusterlib.Cluster) -> None:
        if node == "NODE02":
            raise RuntimeError("disk full")
        sim.upgrade_node(node)

    report = RollingUpgrade(connect(sim), action=CallableAction(fail_on_node02),
                            journal=tmp_path / "j.json", retries_per_node=0,
                            max_failed_nodes=1).run()
    # Every step ran, but NODE02 is not upgraded: never a plain success.
    assert report.outcome == "incomplete" and not report.ok
    assert report.nodes["NODE02"]["failed"]
    assert sim.nodes["NODE02"].state is NodeState.Up  # resumed, carrying load again
    assert sim.nodes["NODE02"].release.key == "2012R2"
    assert sum(n.release.key == "2016" for n in sim.nodes.values()) == 3
    assert "FAILED" in report.message


def test_remote_command_exit_code_is_a_failure() -> None:
    sim = SimCluster.classic(os="2012R2", speed=5000)  # no upgrade_to: the line is "not simulated"
    cluster = connect(sim)

    class Ctx:
        def notify(self, message: str) -> None: ...

        def waiting(self, prompt: str, timeout: float) -> None: ...

    with pytest.raises(ActionFailed, match="exited with 1"):
        RemoteCommand("D:\\setup.exe").run("NODE1", cluster, Ctx())


def test_remote_command_needs_for_node() -> None:
    sim = classic_ps()
    inner = clusterlib.connect(sim).transport

    class NoNodes:
        endpoint = "fake:1"
        time_scale = sim.speed

        def run_pipeline(self, p: Pipeline) -> PSResult:
            return inner.run_pipeline(p)

        def run_cmd(self, line: CmdLine) -> CmdResult:
            return inner.run_cmd(line)

        def close(self) -> None: ...

    cluster = clusterlib.connect(NoNodes())  # type: ignore[arg-type]
    action = RemoteCommand(SETUP)
    assert "for_node" in (action.problem(cluster) or "")

    class Ctx:
        def notify(self, message: str) -> None: ...

        def waiting(self, prompt: str, timeout: float) -> None: ...

    with pytest.raises(NotSupported, match="for_node"):
        action.run("NODE1", cluster, Ctx())


def test_powershell_action_sends_typed_parameters() -> None:
    sent: list[Pipeline] = []

    class NodeTransport:
        endpoint = "fake:node"

        def run_pipeline(self, p: Pipeline) -> PSResult:
            sent.append(p)
            return PSResult(outputs=((),))

    class Host:  # a whole Transport (run_pipeline, run_cmd, close) with for_node: a NodeTransport
        endpoint = "fake:1"

        def run_pipeline(self, p: Pipeline) -> PSResult:
            raise AssertionError("the cmdlet must run on the node, not the host")

        def run_cmd(self, line: CmdLine) -> CmdResult:
            raise AssertionError("the cmdlet must run on the node, not the host")

        def close(self) -> None: ...

        def for_node(self, node: str) -> NodeTransport:
            return NodeTransport()

    class FakeCluster:
        transport = Host()

    evil = "x'; Remove-Item C:\\ -Recurse; '"
    action = PowerShellAction("Install-WindowsFeature", {"Name": evil})

    class Ctx:
        def notify(self, message: str) -> None: ...

        def waiting(self, prompt: str, timeout: float) -> None: ...

    action.run("N1", FakeCluster(), Ctx())  # type: ignore[arg-type]
    (cmd,) = sent[0].statements[0].commands
    assert cmd.name == "Install-WindowsFeature" and cmd.param("Name") == evil
    rebuilt = action_from_dict(action.to_dict())
    assert isinstance(rebuilt, PowerShellAction) and rebuilt.cmdlet == action.cmdlet
    hidden = PowerShellAction("Install-Thing", {"ProductKey": "ABCDE-12345"}, secret=True)
    assert "ABCDE" not in hidden.describe("N1") + json.dumps(hidden.to_dict()) + repr(hidden)
    assert action_from_dict(hidden.to_dict()) is None  # a resume needs it passed again


def test_target_version_parsing() -> None:
    assert TargetVersion.parse("9.3").highest.major == 9
    t = TargetVersion.parse("9.3/8.9600")
    assert str(t.lowest) == "8.9600"
    from clusterlib.sim import release

    r = TargetVersion.parse(release("2016"))
    assert r.label == "Windows Server 2016" and str(r.highest) == "9.3"
    with pytest.raises(ValueError):
        TargetVersion.parse("nine")
    with pytest.raises(ValueError):
        UpgradeOptions(failback="sometimes")


def test_request_stop_at_a_step_boundary(tmp_path: Path) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    upgrade = RollingUpgrade(cluster, action=installer(), journal=path)

    def stop_after_first_node(event: Any) -> None:
        if type(event).__name__ == "PhaseFinished" and event.step == "NODE1:validate":
            upgrade.request_stop()

    upgrade.subscribe(stop_after_first_node)
    with pytest.raises(UpgradeStopped, match="stopped on request before NODE2:drain"):
        upgrade.run()
    assert sim.nodes["NODE2"].state is NodeState.Up
    assert RollingUpgrade.resume(cluster, journal=path).run().ok
    assert all_upgraded(sim)


def test_plan_and_run_over_each_transport(connect_sim: Any, tmp_path: Path) -> None:
    """The same engine over the in-process transport and the real pypsrp client on the loopback
    WinRM endpoint. The installer is called directly (the endpoint serves the cluster as one
    host, so a node shell is out of its reach); every cluster command goes over the wire."""
    sim = classic_ps()
    cluster = connect_sim(sim)
    original = sim.snapshot().placement()
    action = CallableAction(lambda node, c: sim.upgrade_node(node), name="installer")
    upgrade = RollingUpgrade(cluster, action=action, journal=tmp_path / "j.json",
                             target=sim.upgrade_to)
    assert "Suspend-ClusterNode -Name 'NODE2' -Drain -Wait" in upgrade.plan().to_text()
    assert upgrade.run().ok
    assert all_upgraded(sim) and sim.snapshot().placement() == original


def test_unreachable_node_is_an_action_failure_not_a_reboot(tmp_path: Path) -> None:
    sim = classic_ps()
    inner = clusterlib.connect(sim).transport

    class Unreachable:
        endpoint = "fake:node"

        def run_cmd(self, line: CmdLine) -> CmdResult:
            raise clusterlib.ConnectionFailed("NODE2:5986: name or service not known")

    class Host:
        endpoint = "fake:1"
        time_scale = sim.speed

        def run_pipeline(self, p: Pipeline) -> PSResult:
            return inner.run_pipeline(p)

        def run_cmd(self, line: CmdLine) -> CmdResult:
            return inner.run_cmd(line)

        def for_node(self, node: str) -> Unreachable:
            return Unreachable()

        def close(self) -> None: ...

    cluster = clusterlib.connect(Host())  # type: ignore[arg-type]
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                       retries_per_node=0).run()
    assert err.value.phase == "action" and "did not restart" in str(err.value)
    assert "name or service not known" in str(err.value)


def test_exported_names() -> None:
    import clusterlib.upgrade as api

    assert set(api.__all__) == {
        "ActionUnconfirmed", "WmiCommand", "default_action", "LockLost", "JournalWriteFailed",
        "JournalTakenOver",
        "ActionFailed", "CallableAction", "CheckFinished", "CheckResult", "Estimates",
        "GroupMoved", "Journal", "JournalRejected", "LockBroken", "LockHeld", "LockInfo",
        "ManualAction", "PhaseFinished", "PhaseStarted", "Plan", "PowerShellAction",
        "PreflightFailed", "RemoteCommand", "Report", "Retry", "RollingUpgrade", "RunFinished",
        "RunStarted", "Step", "TargetVersion", "UpgradeAction", "UpgradeEvent", "UpgradeOptions",
        "UpgradeStopped", "UpgradeWarning", "WaitingForOperator", "break_lock", "events",
        "read_lock", "report_document"}
    assert all(hasattr(api, name) for name in api.__all__)
    assert issubclass(api.UpgradeStopped, clusterlib.ClusterError)
    assert issubclass(api.PreflightFailed, clusterlib.PreconditionFailed)
    assert api.events.Warning is api.UpgradeWarning
