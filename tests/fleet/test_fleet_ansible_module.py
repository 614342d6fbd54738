"""The Ansible module in-process (a stand-in AnsibleModule, simulated clusters): plan, run, refusals."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from upgrade_helpers import SETUP, SPEED

import clusterlib
from clusterlib.sim.layouts import build

MODULE = (Path(__file__).resolve().parents[2] / "ansible_collections" / "clusterlib" / "failover"
          / "plugins" / "modules" / "rolling_upgrade.py")


class Exited(Exception):
    def __init__(self, how: str, result: dict[str, Any]) -> None:
        super().__init__(how)
        self.how, self.result = how, result


def _load() -> ModuleType:
    pytest.importorskip("ansible")
    spec = importlib.util.spec_from_file_location("clusterlib_ansible_rolling_upgrade", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _task(monkeypatch: pytest.MonkeyPatch, check_mode: bool = False, **params: Any) -> Exited:
    """Run the module's main() with these task parameters; what it exited with."""
    mod = _load()

    class FakeModule:
        def __init__(self, argument_spec: dict[str, Any], **_kw: Any) -> None:
            self.params = {k: spec.get("default") for k, spec in argument_spec.items()}
            unknown = set(params) - set(self.params)
            assert not unknown, unknown
            self.params.update(params)
            self.check_mode = check_mode

        def exit_json(self, **kw: Any) -> None:
            raise Exited("exit", kw)

        def fail_json(self, **kw: Any) -> None:
            raise Exited("fail", kw)

    def fast(entry: Any, password: str | None = None) -> clusterlib.Cluster:
        assert entry.sim is not None
        return clusterlib.connect(build(entry.sim, speed=SPEED))

    monkeypatch.setattr(mod, "AnsibleModule", FakeModule)
    monkeypatch.setattr(mod, "connect_entry", fast)
    with pytest.raises(Exited) as info:
        mod.main()
    return info.value


def test_check_mode_is_the_plan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = _task(monkeypatch, check_mode=True, sim="classic-2012r2", installer=SETUP,
                journal=str(tmp_path / "j.json"))
    assert out.how == "exit", out.result
    assert (out.result["changed"], out.result["outcome"], out.result["simulated"]) == (
        True, "planned", True)
    assert [s["kind"] for s in out.result["report"]["steps"]][:2] == ["drain", "action"]
    assert not (tmp_path / "j.json").exists()


def test_a_run_writes_journal_and_html_and_a_fresh_simulator_is_not_resumed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    journal, page = tmp_path / "runs" / "j.json", tmp_path / "report.html"
    out = _task(monkeypatch, sim="classic-2012r2", installer=SETUP, journal=str(journal),
                report_html=str(page))
    assert out.how == "exit", out.result
    assert (out.result["changed"], out.result["outcome"]) == (True, "completed")
    assert out.result["ansible_facts"]["clusterlib_upgrade"]["outcome"] == "completed"
    assert journal.exists() and page.read_text(encoding="utf-8").lstrip().startswith("<!DOCTYPE")
    # The next task's simulator is a fresh, unchanged cluster: the finished journal is refused.
    again = _task(monkeypatch, sim="classic-2012r2", installer=SETUP, journal=str(journal))
    assert again.how == "fail" and "records a finished run (completed)" in again.result["msg"]
    assert again.result["changed"] is False


def test_bad_parameters_are_refused_before_any_connection(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = _task(monkeypatch, sim="classic-1995", installer=SETUP, journal=str(tmp_path / "j"))
    assert out.how == "fail" and "unknown Windows release '1995'" in out.result["msg"]
    monkeypatch.delenv("CLUSTERLIB_PASSWORD", raising=False)
    out = _task(monkeypatch, host="n1.example", user="CORP\\admin", installer=SETUP,
                journal=str(tmp_path / "j"))
    assert out.how == "fail" and out.result["msg"].startswith("no password for CORP\\admin")
