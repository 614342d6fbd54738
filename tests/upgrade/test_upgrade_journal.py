"""The journal (atomic, 0600, no secrets, written before and after each phase, refused when damaged), resume,
and the cluster-side lock with its audited break."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SETUP, all_upgraded, classic_ps, connect, installer

import clusterlib
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.upgrade import (
    CallableAction,
    JournalRejected,
    LockHeld,
    PreflightFailed,
    RemoteCommand,
    Report,
    RollingUpgrade,
    UpgradeStopped,
    break_lock,
    read_lock,
)
from clusterlib.upgrade import journal as journal_mod
from clusterlib.upgrade import state as state_mod
from clusterlib.upgrade.journal import Journal, read_body
from clusterlib.upgrade.lock import AUDIT_KEY, CLAIM_PREFIX, LOCK_KEY


def _stopped_run(tmp_path: Path) -> tuple[SimCluster, clusterlib.Cluster, Path]:
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    sim.clear_faults()
    return sim, cluster, path


def test_journal_is_0600_valid_json_with_checksum(tmp_path: Path) -> None:
    sim = classic_ps()
    path = tmp_path / "j.json"
    RollingUpgrade(connect(sim), action=installer(), journal=path).run()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    outer = json.loads(path.read_text())
    assert outer["schema"] == "clusterlib.upgrade.journal" and outer["version"] == 2
    assert outer["checksum"].startswith("sha256:")
    body = outer["journal"]
    assert body["cluster"] == "CLUSTER1" and body["outcome"] == "completed"
    assert body["original_placement"]["SQL Group 1"] == "NODE1"
    assert all(s["status"] in ("done", "skipped") for s in body["steps"])
    assert body["nodes_after"]["NODE1"]["highest"] == "9.3"
    assert not [p for p in tmp_path.iterdir() if p.name != "j.json"]  # no temp files left


def test_written_before_and_after_every_phase(tmp_path: Path) -> None:
    sim = classic_ps()
    path = tmp_path / "j.json"
    seen: list[tuple[str, str, str]] = []

    def look(event: Any) -> None:
        name = type(event).__name__
        # The upgrade action's "running" (and the drain's end) are written right before the
        # installer is sent, with the record that it is (test_boundary_reads checks that); the
        # drain's (and the validation's end) right before the pause, the version check's with
        # the resume's (test_critical_path checks those).
        if name in ("PhaseStarted", "PhaseFinished") and event.phase in ("action", "drain",
                                                                          "verify"):
            seen.append((name, event.step, "written before the send"))
        elif name in ("PhaseStarted", "PhaseFinished"):
            journal = Journal.load(path)
            seen.append((name, event.step, journal.state.step(event.step).status))
            if name == "PhaseStarted":
                ids = [s.id for s in journal.state.steps]
                earlier = journal.state.steps[: ids.index(event.step)]
                assert all(s.status in ("done", "skipped") for s in earlier), earlier

    RollingUpgrade(connect(sim), action=installer(), journal=path, on_event=look).run()
    steps = [s["id"] for s in read_body(path)["steps"]]
    started = [(step, status) for name, step, status in seen if name == "PhaseStarted"]
    # Before a step acts, the file says it is running and the step before it is done: one
    # write carries both.
    assert [s for s, _ in started] == steps
    assert all(status == "running" for s, status in started
               if not s.endswith((":action", ":drain", ":verify")))
    for name, step, _status in seen:
        if name == "PhaseStarted" and steps.index(step) > 0:
            prev = steps[steps.index(step) - 1]
            assert [st for n, s, st in seen if n == "PhaseFinished" and s == prev]
    final = {s["id"]: s["status"] for s in read_body(path)["steps"]}
    assert set(final.values()) <= {"done", "skipped"}


def test_atomic_write_keeps_the_old_journal_on_failure(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j.json"
    journal_mod.atomic_write(path, '{"old": true}')

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        journal_mod.atomic_write(path, '{"new": true}')
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]


def test_no_secrets_in_journal_plan_or_events(tmp_path: Path) -> None:
    sim = classic_ps()
    path = tmp_path / "j.json"
    secret = "P@ssw0rd-Hunter2"
    events: list[str] = []
    action = RemoteCommand(f"D:\\setup.exe /unattend /pkey:{secret}", secret=True)
    upgrade = RollingUpgrade(connect(sim), action=action, journal=path,
                             on_event=lambda e: events.append(json.dumps(e.to_dict())))
    plan_text = upgrade.plan().to_text() + upgrade.plan().to_json()
    report = upgrade.run()
    assert secret in sim.calls("cmd")[0].detail["line"]  # it did reach the node
    for text in (path.read_text(), plan_text, report.to_json(), report.to_text(), *events):
        assert secret not in text
        assert "password" not in text.lower()
    assert "<redacted>" in path.read_text()


def test_secret_action_must_be_given_again_to_resume(tmp_path: Path) -> None:
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    action = RemoteCommand(SETUP + " /pkey:XYZ", secret=True)
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=action, journal=path).run()
    sim.clear_faults()
    with pytest.raises(JournalRejected, match="pass action="):
        RollingUpgrade.resume(cluster, journal=path).run()
    assert RollingUpgrade.resume(cluster, journal=path, action=action).run().ok


@pytest.mark.parametrize("damage", ["truncate", "garbage", "edit", "version", "not-a-journal",
                                    "missing-field"])
def test_damaged_journal_is_refused_and_nothing_happens(tmp_path: Path, damage: str) -> None:
    sim, cluster, path = _stopped_run(tmp_path)
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 20)
    elif damage == "edit":
        assert '"status":"failed"' in text
        path.write_text(text.replace('"status":"failed"', '"status":"done"', 1))
    elif damage == "version":
        path.write_text(text.replace('"version":2', '"version":3', 1))
    elif damage == "not-a-journal":
        path.write_text(json.dumps({"hello": "world"}))
    else:
        outer = json.loads(text)
        del outer["journal"]["original_placement"]
        outer["checksum"] = journal_mod.checksum_of(journal_mod._canonical(outer["plan"]),
                                                    journal_mod._canonical(outer["journal"]))
        path.write_text(json.dumps(outer))
    before = len(sim.events)
    with pytest.raises(JournalRejected) as refused:
        RollingUpgrade.resume(cluster, journal=path).run()
    if damage == "version":  # names the version found and the newest this clusterlib reads
        assert "version 3 is not supported" in str(refused.value)
        assert "the newest is 2" in str(refused.value) and "newer clusterlib" in str(refused.value)
    assert not [e for e in sim.events[before:] if e.kind == "call"
                and e.subject not in ("Get-Cluster", "Get-ClusterQuorum", "Get-ClusterNode",
                                      "Get-ClusterGroup", "Get-ClusterParameter",
                                      "Get-ClusterResource", "Get-ClusterOwnerNode")]
    with pytest.raises(JournalRejected):
        Report.from_journal(path)


def test_journal_from_another_cluster_is_refused(tmp_path: Path) -> None:
    _sim, _cluster, path = _stopped_run(tmp_path)
    other = SimCluster.classic(os="2012R2", upgrade_to="2016", name="OTHER", speed=5000)
    with pytest.raises(JournalRejected, match=r"for cluster CLUSTER1.*cluster OTHER"):
        RollingUpgrade.resume(connect(other), journal=path).run()
    assert not other.calls("Suspend-ClusterNode")


def test_a_new_run_never_overwrites_an_unfinished_journal(tmp_path: Path) -> None:
    _sim, cluster, path = _stopped_run(tmp_path)
    break_lock(cluster, reason="test: starting over")
    with pytest.raises(JournalRejected, match="already exists"):
        RollingUpgrade(cluster, action=installer(), journal=path).run()


def test_resume_after_the_process_died_mid_action(tmp_path: Path) -> None:
    sim = classic_ps()
    original = sim.snapshot().placement()
    cluster = connect(sim)
    path = tmp_path / "j.json"

    def install_then_die(node: str, c: clusterlib.Cluster) -> None:
        sim.upgrade_node(node)
        if node == "NODE1":
            raise KeyboardInterrupt  # the process is gone right after launching the installer

    with pytest.raises(KeyboardInterrupt):
        RollingUpgrade(cluster, action=CallableAction(install_then_die), journal=path).run()
    # the journal records the step as not finished (running, or failed with the interrupt)
    assert Journal.load(path).state.step("NODE1:action").status in ("running", "failed")
    report = RollingUpgrade.resume(cluster, journal=path,
                                   action=CallableAction(install_then_die)).run()
    assert report.ok and all_upgraded(sim)
    assert sorted(e.subject for e in sim.events if e.kind == "upgrade-start") == ["NODE1", "NODE2"]
    assert sim.snapshot().placement() == original


def test_resume_resumes_a_node_left_paused(tmp_path: Path) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    upgrade = RollingUpgrade(cluster, action=installer(), journal=path)

    def stop(event: Any) -> None:
        if type(event).__name__ == "PhaseFinished" and event.step == "NODE2:verify":
            upgrade.request_stop()

    upgrade.subscribe(stop)
    with pytest.raises(UpgradeStopped):
        upgrade.run()
    assert sim.nodes["NODE2"].state.name == "Paused"
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.ok and all(n.state.name == "Up" for n in sim.nodes.values())
    assert len(sim.calls("cmd")) == 2  # each node's installer ran exactly once


def test_resume_of_a_completed_run_does_nothing(tmp_path: Path) -> None:
    sim = classic_ps()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    RollingUpgrade(cluster, action=installer(), journal=path).run()
    calls = len(sim.calls())
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.ok
    assert not [e for e in sim.calls()[calls:] if e.subject in ("Suspend-ClusterNode",
                                                                 "Move-ClusterGroup", "cmd")]


# ---- lock ----------------------------------------------------------------------------------------


def test_lock_contention_and_audited_break(tmp_path: Path) -> None:
    sim, cluster, path = _stopped_run(tmp_path)
    held = read_lock(cluster)
    assert held is not None and held.pid == os.getpid() and "@" in held.owner
    other = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "other.json")
    with pytest.raises(PreflightFailed) as err:
        other.run()
    assert any(c.name == "lock" and held.run_id in c.message for c in err.value.failed)
    # The lock never expires by itself; breaking it needs a reason and is recorded everywhere.
    with pytest.raises(ValueError, match="reason"):
        break_lock(cluster, reason=" ")
    events: list[Any] = []
    previous = break_lock(cluster, reason="ticket 42: operator host died", journal=path,
                          on_event=events.append)
    assert previous is not None and previous.run_id == held.run_id
    assert LOCK_KEY not in sim.private_props
    audit = json.loads(sim.private_props[AUDIT_KEY])
    assert audit["reason"] == "ticket 42: operator host died"
    assert audit["previous"]["run_id"] == held.run_id
    assert [e.subject for e in sim.events if e.kind == "private-prop-deleted"
            and not e.subject.startswith(CLAIM_PREFIX)] == [LOCK_KEY]
    assert type(events[0]).__name__ == "LockBroken" and "ticket 42" in events[0].text
    assert "ticket 42" in json.dumps(read_body(path)["audit"])
    assert Report.from_journal(path).audit


def test_resume_by_the_same_run_takes_the_lock_back(tmp_path: Path) -> None:
    _sim, cluster, path = _stopped_run(tmp_path)
    run_id = read_body(path)["run_id"]
    assert read_lock(cluster).run_id == run_id  # type: ignore[union-attr]
    assert RollingUpgrade.resume(cluster, journal=path).run().ok
    assert read_lock(cluster) is None


def test_resume_refused_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    _sim, cluster, path = _stopped_run(tmp_path)
    break_lock(cluster, reason="test")
    from clusterlib.upgrade.lock import acquire

    acquire(cluster, "intruder", "CLUSTER1")
    with pytest.raises(LockHeld, match="intruder"):
        RollingUpgrade.resume(cluster, journal=path).run()


def test_unreadable_lock_value_is_still_a_lock() -> None:
    sim = classic_ps()
    sim.private_props[LOCK_KEY] = "garbage"
    lock = read_lock(connect(sim))
    assert lock is not None and "unreadable" in lock.owner


# ---- versions: a version-1 journal (tests/fixtures/journal_v1.json, see its .source) ----------

V1 = Path(__file__).resolve().parent.parent / "fixtures" / "journal_v1.json"


def _v1_cluster() -> SimCluster:
    """The cluster as the version-1 run left it: NODE1 upgraded to 2016 and Up, NODE2 still on
    2012 R2, every group Online on NODE2."""
    sim = classic_ps()
    for g in list(sim.groups):
        if sim.group(g).owner == "NODE1":
            sim.move_group(g, "NODE2")
    sim.upgrade_node("NODE1")
    sim.settle()
    assert sim.nodes["NODE1"].state.name == "Up" and sim.nodes["NODE1"].release.key == "2016"
    return sim


def test_a_version_1_journal_resumes_to_completion_and_is_rewritten_as_version_2(
        tmp_path: Path) -> None:
    path = tmp_path / "journal_v1.json"
    path.write_bytes(V1.read_bytes())
    path.chmod(0o600)
    assert json.loads(path.read_text())["version"] == 1
    sim = _v1_cluster()
    setup = len(sim.events)
    before = Report.from_journal(path)  # read through the migration, nothing written
    assert before.outcome == "stopped" and before.node_result("NODE1") == "upgraded"
    assert json.loads(path.read_text())["version"] == 1
    report = RollingUpgrade.resume(connect(sim), journal=path).run()
    assert report.ok and all_upgraded(sim), report.to_text()
    # only NODE2 was upgraded in this session: NODE1's steps were done in the version-1 run
    assert [e.subject for e in sim.events[setup:] if e.kind == "upgrade-start"] == ["NODE2"]
    outer = json.loads(path.read_text())
    assert outer["version"] == journal_mod.VERSION == 2
    state = journal_mod.read_state(path)
    assert state.run_id == "2f760426804e" and state.outcome == "completed"
    assert state.moves[0].group == "Cluster Group" and state.moves[0].purpose == "drain"
    assert state.adopted_target is not None and state.adopted_target.from_ == "NODE1"
    assert "resumed by" in state.audit[0].text


def test_migrate_v1_fills_what_version_1_wrote_only_when_needed() -> None:
    outer = json.loads(V1.read_text())
    body = {**outer["journal"], "plan": outer["plan"]}
    for key in ("availability", "adopted_target", "extra_steps", "hooks", "endpoint", "pid",
                "action_sent", "action_unconfirmed", "clusterlib_version"):
        body.pop(key, None)  # what a version-1 file of a run that needed none of them lacks
    for step in body["steps"]:
        step.pop("group")
    with pytest.raises(JournalRejected, match="v1: field 'pid' is missing"):
        state_mod.RunState.from_dict(body, "v1")  # version 2 requires what version 1 left out
    with pytest.raises(JournalRejected, match=r"v1: steps\[0\] field 'group' is missing"):
        state_mod.RunState.from_dict(state_mod.migrate_v1(body) | {"steps": body["steps"]}, "v1")
    state = state_mod.RunState.from_dict(state_mod.migrate_v1(body), "v1")
    assert state.availability == {} and state.adopted_target is None and state.endpoint is None
    assert state.hooks.pre_update is None and state.steps[0].group is None
    assert state.steps[0].result == "ran" and state.steps[-1].result is None
    again = state.to_dict()
    assert "result" not in again["steps"][-1]  # an unset result is left out, as version 1 did
    assert state_mod.RunState.from_dict(again, "v2").to_dict() == again


def test_a_version_2_body_round_trips_and_unknown_or_mistyped_fields_are_refused() -> None:
    outer = json.loads(V1.read_text())
    body = state_mod.migrate_v1({**outer["journal"], "plan": outer["plan"]})
    assert state_mod.RunState.from_dict(body, "j").to_dict() == body
    with pytest.raises(JournalRejected, match=r"j: field 'surprise' is not a journal field"):
        state_mod.RunState.from_dict({**body, "surprise": 1}, "j")
    broken = json.loads(json.dumps(body))
    broken["moves"][1]["seconds"] = "35"
    with pytest.raises(JournalRejected, match=r"j: moves\[1\] field 'seconds' has the wrong type"):
        state_mod.RunState.from_dict(broken, "j")
    broken = json.loads(json.dumps(body))
    broken["nodes_after"]["NODE1"] = "9.3"
    with pytest.raises(JournalRejected, match=r"nodes_after\['NODE1'\] is not an object"):
        state_mod.RunState.from_dict(broken, "j")


def test_a_state_a_load_would_refuse_is_never_written(tmp_path: Path) -> None:
    outer = json.loads(V1.read_text())
    state = state_mod.RunState.from_dict(state_mod.migrate_v1({**outer["journal"],
                                                               "plan": outer["plan"]}))
    state.steps[0].status = "half-done"
    path = tmp_path / "j.json"
    with pytest.raises(JournalRejected, match="unknown status 'half-done'"):
        Journal.create(path, state)
    assert not path.exists()


def test_the_saved_text_is_the_canonical_form_with_written_records_kept(tmp_path: Path) -> None:
    """A save writes ``_canonical(state.to_dict())`` (what the checksum of a load recomputes),
    composed from each written record's kept text: a record's text is worked out once."""
    sim = classic_ps()
    path = tmp_path / "j.json"
    RollingUpgrade(connect(sim), action=installer(), journal=path).run()
    state = Journal.load(path).state
    assert state.json_text() == journal_mod._canonical(state.to_dict())
    assert state.json_text(plan=False) == journal_mod._canonical(state.to_dict(plan=False))
    move = state.moves[0]
    assert move.json_text() is move.json_text()  # kept, not rebuilt
    assert json.loads(path.read_text())["journal"] == state.to_dict(plan=False)
