"""Bad journals are refused before anything is sent: truncated, random bytes, empty, hand-edited
(with or without a recomputed checksum: a node added, a step marked done out of order, the schema
version changed, a field of the wrong type), untrusted (group-writable, a symbolic link, another
user's), and another cluster's journal.

Each is given to ``RollingUpgrade.resume`` and to ``clusterlib upgrade resume`` / ``upgrade
report``: the refusal names the journal's path and what is wrong (exit 1 in the CLI), and the
simulator's event log shows no action (no Suspend/Resume/Move, no installer) after it. A pristine
copy of the same journal then resumes to completion, so each refusal is the damage's doing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import action_calls

import clusterlib
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.upgrade import JournalRejected, RemoteCommand, RollingUpgrade, UpgradeStopped
from clusterlib.upgrade import journal as journal_mod

cli_main = pytest.importorskip("clusterlib_cli.main")
from typer.testing import CliRunner  # noqa: E402

from clusterlib_cli import options, render  # noqa: E402

SETUP = r"D:\setup.exe /unattend"


@pytest.fixture(autouse=True)
def _fresh_render_state() -> Iterator[None]:
    yield
    render._SECRETS.clear()
    render.set_debug(False)


def _sim(name: str = "CLUSTER1") -> SimCluster:
    return SimCluster.classic(os="2012R2", upgrade_to="2016", speed=20_000.0, name=name)


def _stopped_journal(sim: SimCluster, path: Path) -> Path:
    """A real, unfinished journal: the run stops on a group that fails online; fault cleared."""
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(clusterlib.connect(sim), RemoteCommand(SETUP), journal=path,
                       target=sim.upgrade_to).run()
    sim.clear_faults()
    return path


# --- the damage ------------------------------------------------------------------------------------

def _raw(edit: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return apply


def _outer(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Edit the parsed file and write it back without touching the checksum (a hand edit)."""
    def apply(path: Path) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        edit(doc)
        path.write_text(json.dumps(doc), encoding="utf-8")
    return apply


def _resealed(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Edit the body and seal it again with a valid checksum: the careful hand-editor (or a
    buggy tool). Only the content checks can catch these."""
    def apply(path: Path) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        edit(doc["journal"])
        doc["checksum"] = journal_mod.checksum_of(journal_mod._canonical(doc["plan"]),
                                                  journal_mod._canonical(doc["journal"]))
        path.write_text(json.dumps(doc), encoding="utf-8")
    return apply


def _random_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(5)
    for _ in range(40):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path.write_bytes(bytes(data))


def _add_node(body: dict[str, Any]) -> None:
    body["nodes_before"]["NODE9"] = dict(body["nodes_before"]["NODE1"])


def _add_node_outer(doc: dict[str, Any]) -> None:
    _add_node(doc["journal"])


def _done_out_of_order(body: dict[str, Any]) -> None:
    """Mark done the last step still pending while earlier ones are pending too."""
    pending = [s for s in body["steps"] if s["status"] == "pending"]
    assert len(pending) >= 2
    pending[-1]["status"] = "done"


def _done_outer(doc: dict[str, Any]) -> None:
    _done_out_of_order(doc["journal"])


def _wrong_type(body: dict[str, Any]) -> None:
    body["steps"][0]["attempts"] = "1"


def _version(doc: dict[str, Any]) -> None:
    doc["version"] = 3  # a newer clusterlib's


def _not_utf8(path: Path) -> None:
    path.write_bytes(b"\xff\xfe" + path.read_bytes())


def _symlinked(path: Path) -> None:
    """The journal replaced by a link to a copy elsewhere (what a planted link looks like)."""
    real = path.with_name("elsewhere.json")
    path.rename(real)
    path.symlink_to(real)


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_raw(lambda t: t[: len(t) // 2]), "not valid JSON"),
    "empty": (_raw(lambda t: ""), "not valid JSON"),
    "random-bytes": (_random_bytes, ""),  # which check trips depends on where the bytes land
    "not-a-journal": (_raw(lambda t: json.dumps({"hello": "world"})), "not a clusterlib upgrade"),
    "node-added": (_outer(_add_node_outer), "checksum mismatch"),
    "step-marked-done": (_outer(_done_outer), "checksum mismatch"),
    "version-changed": (_outer(_version), "version 3 is not supported"),
    "resealed-node-added": (_resealed(_add_node), "NODE9"),
    "resealed-step-marked-done": (_resealed(_done_out_of_order), "steps out of order"),
    "not-utf8": (_not_utf8, "cannot read the journal"),
    "resealed-wrong-type": (_resealed(_wrong_type), "'attempts'"),
    "resealed-unknown-status": (_resealed(lambda b: b["steps"][0].update(status="half-done")),
                                "unknown status"),
    # Trust: sound content, but a file another user could have written (see journal.py).
    "group-writable": (lambda p: p.chmod(0o664), "chmod go-w"),
    "symlinked": (_symlinked, "symbolic link"),
}
if hasattr(os, "geteuid") and os.geteuid() == 0:
    DAMAGE["another-owner"] = (lambda p: os.chown(p, 65534, -1), "belongs to")
# Reading a report acts on nothing, so it needs no trust: only resume refuses these.
NOT_FILE_LEVEL = {"resealed-node-added", "group-writable", "symlinked", "another-owner"}


@pytest.fixture
def stopped(tmp_path: Path) -> tuple[SimCluster, Path, Path]:
    sim = _sim()
    journal = _stopped_journal(sim, tmp_path / "journal.json")
    pristine = tmp_path / "pristine.json"
    shutil.copy2(journal, pristine)
    return sim, journal, pristine


def _assert_refused_and_idle(sim: SimCluster, journal: Path, expect: str,
                             monkeypatch: pytest.MonkeyPatch, *, file_level: bool = True) -> None:
    """``file_level``: the file itself is bad, so ``upgrade report`` (which reads the journal
    without a cluster) must refuse it too; a sound journal of another cluster still reports."""
    before = len(sim.events)
    cluster = clusterlib.connect(sim)
    with pytest.raises(JournalRejected) as info:
        RollingUpgrade.resume(cluster, journal=journal, action=RemoteCommand(SETUP)).run()
    message = str(info.value)
    assert str(journal) in message
    assert expect in message, message
    # The CLI: the same refusal, one line, exit 1, for resume and for report.
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    env = {"NO_COLOR": "1", "COLUMNS": "400", "CLUSTERLIB_PASSWORD": "",
           "CLUSTERLIB_SIM": "classic"}  # the CLI needs --sim (or --host) to pick the simulator
    commands = [["upgrade", "resume", "--yes", str(journal)]]
    if file_level:
        commands.append(["upgrade", "report", str(journal)])
    for args in commands:
        result = CliRunner().invoke(cli_main.app, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert str(journal) in result.output and expect in result.output, result.output
    # Nothing that changes the cluster was sent (reads to compare cluster names are fine).
    after = SimCluster.__new__(SimCluster)
    after.events = sim.events[before:]  # type: ignore[assignment]  # a list is enough here
    assert action_calls(after) == [], action_calls(after)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_bad_journal_is_refused_and_nothing_is_sent(stopped: tuple[SimCluster, Path, Path],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     case: str) -> None:
    sim, journal, pristine = stopped
    damage, expect = DAMAGE[case]
    damage(journal)
    _assert_refused_and_idle(sim, journal, expect, monkeypatch,
                             file_level=case not in NOT_FILE_LEVEL)
    # The same journal undamaged resumes and finishes: the refusal was the damage's doing.
    report = RollingUpgrade.resume(clusterlib.connect(sim), journal=pristine,
                                   action=RemoteCommand(SETUP)).run()
    assert report.outcome == "completed"


def test_another_clusters_journal_is_refused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = _stopped_journal(_sim("OTHERCLUSTER"), tmp_path / "theirs.json")
    ours = _sim()
    _assert_refused_and_idle(ours, theirs, "OTHERCLUSTER", monkeypatch, file_level=False)
