"""The Ansible collection: ansible-playbook runs clusterlib.failover.rolling_upgrade on loopback clusters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_fleet_wire import PASSWORD, _upgraded, served  # noqa: F401 (the fixture)
from upgrade_helpers import SETUP

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- name: rolling upgrade of the loopback clusters
  hosts: clusters
  gather_facts: false
  tasks:
    - name: upgrade
      clusterlib.failover.rolling_upgrade:
        host: 127.0.0.1
        port: "{{ cl_port }}"
        user: clusterlib
        password: "{{ cl_password }}"
        auth: basic
        ssl: false
        time_scale: "{{ cl_time_scale }}"
        node_path: "wsman/node/{node}"
        installer: 'INSTALLER'
        journal: "{{ cl_journal }}"
        upgrade:
          target: "{{ cl_target }}"
      delegate_to: localhost
      register: up
    - name: keep the result for the test
      ansible.builtin.copy:
        content: "{{ up | to_json }}"
        dest: "{{ cl_result }}"
        mode: "0600"
      check_mode: false
      delegate_to: localhost
""".replace("INSTALLER", SETUP.replace("'", "''"))


def _playbook(tmp_path: Path, endpoints: list[dict[str, Any]], *extra: str) -> dict[str, Any]:
    hosts = {f"wire{i}": {"cl_port": ep["port"], "cl_time_scale": ep["time_scale"],
                          "cl_target": ep["target"], "cl_password": PASSWORD,
                          "cl_journal": str(tmp_path / f"wire{i}.json"),
                          "cl_result": str(tmp_path / f"wire{i}.result")}
             for i, ep in enumerate(endpoints)}
    (tmp_path / "inventory.json").write_text(json.dumps(
        {"clusters": {"hosts": hosts}, "all": {"vars": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}))
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    # No network, nothing written outside tmp_path: the collection from the repository itself.
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO),
           "ANSIBLE_HOME": str(tmp_path / "ah"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    env.pop("CLUSTERLIB_PASSWORD", None)
    playbook = Path(sys.executable).parent / "ansible-playbook"
    run = subprocess.run([str(playbook), "-i", str(tmp_path / "inventory.json"),
                          str(tmp_path / "site.yml"), *extra], env=env, capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert PASSWORD not in run.stdout  # no_log
    return {f"wire{i}": json.loads((tmp_path / f"wire{i}.result").read_text())
            for i in range(len(endpoints))}


def test_playbook_check_mode_run_and_idempotent_rerun(tmp_path: Path, served: Any) -> None:  # noqa: F811
    pytest.importorskip("ansible")
    endpoints = served(2000.0, "classic-2012r2", "classic")
    # Check mode is the plan: changed=true (it would change), nothing changed.
    check = _playbook(tmp_path, endpoints, "--check")
    for res in check.values():
        assert res["changed"] is True and res["outcome"] == "planned", res
        assert [s["kind"] for s in res["report"]["steps"]][:2] == ["drain", "action"]
    assert not any(_upgraded(ep) for ep in endpoints)
    assert not list(tmp_path.glob("wire*.json"))
    # The run upgrades every cluster and returns the report as a fact.
    first = _playbook(tmp_path, endpoints)
    for res in first.values():
        assert res["changed"] is True and res["outcome"] == "completed", res.get("msg")
        assert res["ansible_facts"]["clusterlib_upgrade"]["outcome"] == "completed"
    assert all(_upgraded(ep) for ep in endpoints)
    # A second run changes nothing and says so.
    second = _playbook(tmp_path, endpoints)
    for res in second.values():
        assert res["changed"] is False and res["outcome"] == "already-upgraded", res
