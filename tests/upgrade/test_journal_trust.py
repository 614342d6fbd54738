"""Journal trust: only your own unshared, unlinked journal is acted on; resume runs the caller's action."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest
from upgrade_helpers import SETUP, classic_ps, connect, installer

import clusterlib
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.upgrade import JournalRejected, RemoteCommand, RollingUpgrade, UpgradeStopped
from clusterlib.upgrade import journal as journal_mod
from clusterlib.upgrade.errors import JournalTakenOver, JournalWriteFailed
from clusterlib.upgrade.journal import Journal, checksum_of, recorded_action

POSIX = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="ownership checks are POSIX only")
ROOT = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                          reason="a second user needs root (setuid in a forked child)")
NOBODY = 65534


def _stopped_run(directory: Path) -> tuple[SimCluster, clusterlib.Cluster, Path]:
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))
    cluster = connect(sim)
    path = directory / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    sim.clear_faults()
    return sim, cluster, path


def _mutations(sim: SimCluster, since: int) -> list[str]:
    return [e.subject for e in sim.calls()[since:]
            if e.subject in ("Suspend-ClusterNode", "Move-ClusterGroup", "Resume-ClusterNode",
                             "cmd")]


def _refused(sim: SimCluster, cluster: clusterlib.Cluster, path: Path, match: str) -> str:
    calls = len(sim.calls())
    with pytest.raises(JournalRejected, match=match) as err:
        RollingUpgrade.resume(cluster, journal=path).run()
    assert not _mutations(sim, calls)
    assert str(path) in str(err.value)
    return str(err.value)


def _reseal(path: Path, line: str) -> None:
    """What an attacker with write access does: change the action and recompute the checksum."""
    outer = json.loads(path.read_text())
    outer["journal"]["action"]["line"] = line
    canon = journal_mod._canonical
    outer["checksum"] = checksum_of(canon(outer["plan"]), canon(outer["journal"]))
    path.write_text(json.dumps(outer))


@POSIX
@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666], ids=oct)
def test_group_or_other_writable_journal_is_refused(tmp_path: Path, mode: int) -> None:
    sim, cluster, path = _stopped_run(tmp_path)
    os.chmod(path, mode)
    message = _refused(sim, cluster, path, "writable by")
    assert f"chmod go-w {path}" in message
    os.chmod(path, 0o600)
    assert RollingUpgrade.resume(cluster, journal=path).run().ok


@POSIX
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_journal_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    sim, cluster, path = _stopped_run(tmp_path)
    os.chown(path, NOBODY, -1)
    message = _refused(sim, cluster, path, "belongs to")
    assert f"chown {os.geteuid()} {path}" in message and str(NOBODY) in message


@POSIX
def test_journal_in_a_world_writable_directory_without_sticky_bit(tmp_path: Path) -> None:
    shared = tmp_path / "team-dir"
    shared.mkdir(mode=0o700)
    sim, cluster, path = _stopped_run(shared)
    os.chmod(shared, 0o777)  # noqa: S103 - opened up after the run stopped
    message = _refused(sim, cluster, path, "without the sticky bit")
    assert f"chmod o-w {shared}" in message
    # A new run there is refused before anything happens, too.
    fresh = classic_ps()
    with pytest.raises(JournalRejected, match="sticky"):
        RollingUpgrade(connect(fresh), action=installer(), journal=shared / "new.json").run()
    assert not _mutations(fresh, 0) and not (shared / "new.json").exists()
    os.chmod(shared, 0o1777)  # noqa: S103 - /tmp's mode: others cannot replace your files
    assert RollingUpgrade.resume(cluster, journal=path).run().ok


@POSIX
def test_symlinked_journal_is_refused_and_never_replaced(tmp_path: Path) -> None:
    sim, cluster, real = _stopped_run(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    message = _refused(sim, cluster, link, "symbolic link")
    assert str(real) in message
    # A new run pointed at a link: refused, the link stays a link, its target untouched.
    before = real.read_bytes()
    other = tmp_path / "other.json"
    other.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(JournalRejected, match="symbolic link"):
        RollingUpgrade(connect(classic_ps()), action=installer(), journal=other).run()
    assert other.is_symlink() and not (tmp_path / "elsewhere.json").exists()
    # A link swapped in under a live journal is not written through or over.
    journal = Journal.load(real)
    real.rename(tmp_path / "moved.json")
    real.symlink_to(tmp_path / "moved.json")
    with pytest.raises(JournalRejected, match="symbolic link"):
        journal.save()
    assert real.is_symlink() and (tmp_path / "moved.json").read_bytes() == before


@ROOT
def test_second_user_cannot_plant_a_resealed_journal() -> None:
    """The issue's attack: another local user replaces the journal in a shared directory with
    a re-sealed copy whose action is theirs. Without the sticky bit the replacement succeeds and
    the resume refuses it (not yours, directory shared); with it the replacement fails."""
    # Under /tmp itself: pytest's own directories are 0700, which the second user cannot enter.
    tmp_path = Path(tempfile.mkdtemp(prefix="clusterlib-trust-"))
    os.chmod(tmp_path, 0o755)  # noqa: S103 - the second user must reach the directory
    try:
        _plant(tmp_path)
    finally:
        shutil.rmtree(tmp_path)


def _plant(tmp_path: Path) -> None:
    for sticky in (False, True):
        shared = tmp_path / ("sticky" if sticky else "open")
        shared.mkdir(mode=0o700)
        sim, cluster, path = _stopped_run(shared)
        os.chmod(shared, 0o1777 if sticky else 0o777)
        forged = shared / "forged.json"
        forged.write_bytes(path.read_bytes())
        _reseal(forged, r"C:\evil.exe /everything")
        os.chown(forged, NOBODY, -1)
        pid = os.fork()
        if pid == 0:  # the second user
            code = 1
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                os.replace(forged, path)
                code = 0
            except OSError:
                code = 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        replaced = os.waitstatus_to_exitcode(status) == 0
        assert replaced is (not sticky)
        calls = len(sim.calls())
        if replaced:
            with pytest.raises(JournalRejected, match="belongs to") as err:
                RollingUpgrade.resume(cluster, journal=path).run()
            assert str(path) in str(err.value)
            assert not _mutations(sim, calls)
            assert not any("evil" in str(e.detail) for e in sim.calls())
        else:
            os.chmod(shared, 0o700)
            report = RollingUpgrade.resume(cluster, journal=path).run()
            assert report.ok
            assert all(e.detail.get("line") == SETUP for e in sim.calls("cmd"))


def test_resume_refuses_an_action_other_than_the_recorded_one(tmp_path: Path) -> None:
    sim, cluster, path = _stopped_run(tmp_path)
    recorded = recorded_action(path)
    assert recorded["kind"] == "remote-command" and recorded["line"] == SETUP
    assert SETUP in journal_mod.describe_action(recorded)
    calls = len(sim.calls())
    with pytest.raises(JournalRejected, match="records the action") as err:
        RollingUpgrade.resume(cluster, journal=path, action=RemoteCommand(r"C:\other.exe /q")).run()
    assert SETUP in str(err.value) and "other.exe" in str(err.value)
    assert not _mutations(sim, calls)
    # A secret action does not match a plain one with the same line (nor the other way round).
    with pytest.raises(JournalRejected):
        RollingUpgrade.from_journal(cluster, journal=path,
                                    action=RemoteCommand(SETUP, secret=True))
    assert RollingUpgrade.resume(cluster, journal=path, action=RemoteCommand(SETUP)).run().ok


def test_secret_recorded_action_matches_the_secret_given_again(tmp_path: Path) -> None:
    sim = classic_ps()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=RemoteCommand(SETUP, secret=True), journal=path).run()
    sim.clear_faults()
    assert "secret" in journal_mod.describe_action(recorded_action(path))
    assert RollingUpgrade.resume(cluster, journal=path,
                                 action=RemoteCommand(SETUP, secret=True)).run().ok


def test_a_failed_journal_write_names_the_file(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _sim, _cluster, path = _stopped_run(tmp_path)
    journal = Journal.load(path)
    before = path.read_bytes()

    def disk_full(p: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(p))

    monkeypatch.setattr(journal_mod, "atomic_write", disk_full)
    with pytest.raises(JournalWriteFailed) as err:
        journal.save()
    assert err.value.path == path and err.value.errno == errno.ENOSPC
    assert str(path) in str(err.value) and "No space left" in str(err.value)
    assert isinstance(err.value, clusterlib.ClusterError)
    assert path.read_bytes() == before


def test_real_enospc_through_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real write path: the temporary file's write fails; the old journal stays whole."""
    _sim, _cluster, path = _stopped_run(tmp_path)
    journal = Journal.load(path)
    before = path.read_bytes()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(JournalWriteFailed, match="No space left"):
        journal.save()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]  # no temporary file left


def test_a_journal_changed_on_disk_is_not_overwritten(tmp_path: Path) -> None:
    """Two holders of one run's journal: the later writer's file is never clobbered."""
    _sim, _cluster, path = _stopped_run(tmp_path)
    first, second = Journal.load(path), Journal.load(path)
    second.state.warnings.append("written by the second holder")
    second.save()
    first.state.warnings.append("stale")
    with pytest.raises(JournalTakenOver) as err:
        first.save()
    assert err.value.path == path and isinstance(err.value, JournalWriteFailed)
    assert "written by the second holder" in path.read_text()
    assert "stale" not in path.read_text()
    second.state.warnings.append("again")
    second.save()  # the current writer goes on


def test_report_of_a_journal_needs_no_trust(tmp_path: Path) -> None:
    """Reading a report (an auditor's job) is not acting on it: only acting needs trust."""
    _sim, _cluster, path = _stopped_run(tmp_path)
    os.chmod(path, 0o644 | (stat.S_IWOTH if sys.platform != "win32" else 0))
    from clusterlib.upgrade import Report

    assert Report.from_journal(path).outcome == "stopped"
