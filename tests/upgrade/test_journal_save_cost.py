"""A journal save encodes what changed since the last one, and still writes the whole, canonical file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SPEED, four_node, installer

import clusterlib
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.upgrade import Journal, RollingUpgrade, UpgradeStopped, default_action
from clusterlib.upgrade import journal as journal_mod
from clusterlib.upgrade import state as state_mod
from clusterlib.upgrade.state import MoveRecord, RunState, StepRecord

STEPS = 240


class Encoded:
    """Counts what goes through the journal's encoder (``state.canonical``): calls and bytes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.chars = 0
        real = state_mod.canonical

        def counting(value: Any) -> str:
            text = real(value)
            self.calls += 1
            self.chars += len(text)
            return text

        monkeypatch.setattr(state_mod, "canonical", counting)

    def take(self) -> tuple[int, int]:
        out = (self.calls, self.chars)
        self.calls = self.chars = 0
        return out


def _long_run(tmp_path: Path, steps: int = STEPS, groups: int = 160) -> Journal:
    """A journal with ``steps`` pending steps and ``groups`` groups, as a run writes it at its
    start (the plan's steps are all there from the start)."""
    state = RunState(
        run_id="r1", cluster="CL", created="t0", updated="t0", owner="me",
        options={"order": None}, action={"kind": "cmd", "line": "setup.exe"},
        original_placement={f"G{i}": f"N{i % 16}" for i in range(groups)},
        original_states={f"G{i}": "Online" for i in range(groups)},
        nodes_before={}, nodes_after={}, plan={"steps": [], "order": []},
        steps=[StepRecord(id=f"N{i // 6}:{i % 6}", kind="drain", node=f"N{i // 6}",
                          status="pending", attempts=0, started=None, finished=None,
                          seconds=None, message="") for i in range(steps)],
        moves=[], retries=[], warnings=[], audit=[], failed_nodes=[], outcome=None,
        message="", stopped_at=None, validation_in_flight=None,
        functional_level={"before": 9, "after": None, "final": None}, final_placement={})
    return Journal.create(tmp_path / f"j{steps}.json", state)


def _advance(journal: Journal, k: int) -> None:
    """What a step does to the state: the step before ends, this one runs, a group moves."""
    steps = journal.state.steps
    if k:
        steps[k - 1].status, steps[k - 1].finished, steps[k - 1].seconds = "done", "t2", 1.5
    steps[k].status, steps[k].attempts, steps[k].started = "running", 1, "t1"
    journal.state.moves.append(MoveRecord(group=f"G{k % 160}", source="N1", target="N2",
                                          state="Online", attempts=1, seconds=2.0,
                                          purpose="drain", node="N1", phase="drain", at="t1"))


def test_a_save_encodes_what_changed_not_the_whole_run(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder's work per save is the same at step 10 and at step 200, and in a plan of
    24 steps and 16 groups as in one of 240 and 160: the records that changed, not every step,
    move and group of the run, while the file holds the whole run."""
    small = _long_run(tmp_path, 24, 16)
    journal = _long_run(tmp_path)
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # 500 saves: durability is tested apart
    encoded = Encoded(monkeypatch)
    per_save: dict[int, tuple[int, int]] = {}
    for k in range(STEPS):
        _advance(journal, k)
        journal.save()
        per_save[k] = encoded.take()
        if k < 24:
            _advance(small, k)
            encoded.take()
            small.save()
            assert encoded.take() == per_save[k], k  # calls and characters
    early, late = per_save[10], per_save[200]
    assert late[0] == early[0], per_save  # encoder calls
    assert late[1] <= early[1] + 8, (early, late)  # characters: "N33:2" is 1 longer than "N1:4"
    # ... yet the file is the whole state, sealed as a load checks it.
    raw = journal.path.read_text(encoding="utf-8") if journal.path else ""
    state = journal_mod.parse_state(raw, "j")
    assert state.to_dict() == journal.state.to_dict()
    assert len(state.moves) == STEPS and state.steps[STEPS - 2].status == "done"
    assert raw == journal_mod.Journal(journal.path, journal.state).text()  # no kept text


def test_a_changed_step_is_encoded_again(tmp_path: Path) -> None:
    """A step's kept text is forgotten by any assignment to it; the moves' kept text is rebuilt
    when the list is changed other than by growing."""
    journal = _long_run(tmp_path)
    journal.save()
    step = journal.state.steps[3]
    before = step.json_text()
    assert step.json_text() is before  # kept
    step.message = "it's \"quoted\" \u00e9"
    assert "\u00e9" in step.json_text() and step.json_text() == state_mod.canonical(step.to_dict())
    _advance(journal, 0)
    _advance(journal, 1)
    journal.save()
    journal.state.moves[0] = MoveRecord(group="Other", source=None, target="N3", state="Failed",
                                        attempts=3, seconds=9.0, purpose="recovery")
    del journal.state.moves[1]
    journal.save()
    assert journal.path is not None
    loaded = Journal.load(journal.path).state
    assert [m.group for m in loaded.moves] == ["Other"]
    assert loaded.steps[3].message == step.message
    assert loaded.to_dict() == journal.state.to_dict()


@pytest.fixture
def every_save_checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Check every save of a run: the file is valid and says exactly what the state says,
    text for text as a journal with nothing kept writes it."""
    sizes: list[int] = []
    real = Journal.save

    def save(self: Journal) -> None:
        real(self)
        if self.path is None:
            return
        raw = self.path.read_text(encoding="utf-8")
        assert raw == Journal(self.path, self.state).text(), "a kept text is stale"
        assert json.loads(raw)["journal"] == self.state.to_dict(plan=False)
        journal_mod.parse_state(raw, str(self.path))
        sizes.append(len(raw))

    monkeypatch.setattr(Journal, "save", save)
    yield sizes


def test_every_save_of_a_run_is_the_whole_state(tmp_path: Path,
                                                every_save_checked: list[int]) -> None:
    sim = four_node(speed=SPEED)
    report = RollingUpgrade(clusterlib.connect(sim), action=installer(),
                            journal=tmp_path / "j.json").run()
    assert report.ok, report.message
    assert len(every_save_checked) > 20
    # No group went down: the journal holds no availability record (none to encode per save).
    assert Journal.load(tmp_path / "j.json").state.availability == {}


def test_every_save_of_a_run_with_an_outage_and_a_resume(tmp_path: Path,
                                                         every_save_checked: list[int]) -> None:
    """Availability records (a group down, moved back) and a resume's changes are saved too."""
    sim = SimCluster.classic(os="2000", upgrade_to="2003", speed=SPEED)
    sim.inject(GroupFailsOnline("File Group 4", "NODE1"))  # the drain target of NODE2
    cluster = clusterlib.connect(sim)
    path = tmp_path / "j.json"
    action = default_action(r"D:\i386\winnt32.exe /unattend", cluster.snapshot())
    with pytest.raises(UpgradeStopped):
        RollingUpgrade(cluster, action=action, journal=path, order=["NODE2", "NODE1"]).run()
    stopped = len(every_save_checked)
    state = Journal.load(path).state
    assert state.availability["File Group 4"].episodes
    sim.clear_faults()
    RollingUpgrade.resume(cluster, journal=path).run()
    assert len(every_save_checked) > stopped
    assert Journal.load(path).state.availability["File Group 4"].excess > 0


def test_a_step_is_found_by_its_id_after_the_steps_change(tmp_path: Path) -> None:
    state = _long_run(tmp_path, 12, 4).state
    assert state.step("N1:3") is state.steps[9]
    extra = StepRecord(id="N9:0", kind="drain", node="N9", status="pending", attempts=0,
                       started=None, finished=None, seconds=None, message="")
    state.steps.insert(0, extra)  # every place moves by one
    assert state.step("N1:3") is state.steps[10] and state.step("N9:0") is extra
    del state.steps[0]
    with pytest.raises(KeyError):
        state.step("N9:0")
    assert state.step("N0:0") is state.steps[0]
