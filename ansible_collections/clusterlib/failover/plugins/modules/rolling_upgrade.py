#!/usr/bin/python
"""Ansible module: a rolling upgrade of one failover cluster with clusterlib, run on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rolling_upgrade
short_description: Rolling upgrade of a Microsoft failover cluster with clusterlib
description:
  - Upgrades a failover cluster one node at a time (drain, upgrade action, reboot, verify,
    resume, validation move, groups back home) with clusterlib's engine, over WinRM.
  - Runs on the controller (C(delegate_to: localhost)); clusterlib must be installed for the
    Python that runs the module.
  - Idempotent. When every node is Up on O(upgrade.target) it changes nothing (C(changed=false)).
  - Check mode returns the plan (preflight and steps) and changes nothing.
  - A run that stopped (or a play that was killed) resumes from O(journal) when run again.
options:
  host: {description: A cluster node or management host reachable over WinRM., type: str}
  port: {description: WinRM port., type: int}
  user: {description: User name (DOMAIN\\user or user@domain)., type: str}
  password:
    description: The password (use Ansible Vault); else $CLUSTERLIB_PASSWORD on the controller.
    type: str
    no_log: true
  auth: {description: WinRM authentication., type: str, default: negotiate,
         choices: [negotiate, ntlm, kerberos, basic, credssp, certificate]}
  ssl: {description: WinRM over HTTPS., type: bool}
  ca_bundle: {description: PEM file of CAs to trust for the WinRM certificate., type: path}
  insecure: {description: Do not validate the certificate (labs only)., type: bool, default: false}
  cluster: {description: The cluster to address when it is not the host's own., type: str}
  dialect: {description: How to drive the cluster., type: str, default: auto,
            choices: [auto, powershell, clusterexe]}
  time_scale: {description: Speed of a C(clusterlib sim serve) endpoint (simulated clusters)., type: float}
  node_path: {description: Node shell path template of a C(clusterlib sim serve) endpoint., type: str}
  sim:
    description:
      - A simulator layout (e.g. C(classic-2012r2)) instead of O(host). SIMULATED - a fresh
        embedded simulator per task, so it can neither resume nor show idempotence.
    type: str
  installer: {description: The installer command line run on each drained node., type: str, required: true}
  journal: {description: The run's journal on the controller (resume point)., type: path, required: true}
  upgrade:
    description: clusterlib UpgradeOptions (target, max_failed_nodes, order_policy, failback, ...).
    type: dict
    default: {}
  report_html: {description: Also write the run's HTML report to this controller path., type: path}
author: [clusterlib maintainers]
"""

EXAMPLES = r"""
- name: Upgrade the cluster node by node
  clusterlib.failover.rolling_upgrade:
    host: sql-a-n1.corp.example
    user: 'CORP\admin'
    password: "{{ vault_cluster_password }}"
    installer: 'D:\setup.exe /unattend'
    journal: /var/lib/clusterlib/sql-a.json
    upgrade: {target: "10.0"}
  delegate_to: localhost
"""

RETURN = r"""
outcome:
  description: completed, already-upgraded, planned, degraded, incomplete or stopped.
  type: str
  returned: always
report:
  description: The run's report (Report.to_dict()); in check mode the plan.
  type: dict
  returned: always
simulated: {description: True for a sim= rehearsal., type: bool, returned: always}
ansible_facts:
  description: C(clusterlib_upgrade), the same report.
  type: dict
  returned: always
"""

import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, NoReturn, Protocol  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]  # noqa: E402

# Only clusterlib's public names (clusterlib, clusterlib.upgrade, clusterlib.fleet): the module
# must survive the package's internal moves. A missing clusterlib is reported by main().
try:
    from clusterlib import Cluster, ClusterError
    from clusterlib.fleet import (
        ClusterEntry,
        Inventory,
        InventoryError,
        already_upgraded,
        connect_entry,
        parse_inventory,
    )
    from clusterlib.upgrade import (
        PreflightFailed,
        Report,
        RollingUpgrade,
        UpgradeAction,
        UpgradeOptions,
        UpgradeStopped,
        default_action,
        report_document,
    )
except ImportError as exc:
    CLUSTERLIB_MISSING: ImportError | None = exc
else:
    CLUSTERLIB_MISSING = None

CONNECTION = ("host", "port", "user", "auth", "ssl", "ca_bundle", "insecure", "cluster", "dialect",
              "time_scale", "node_path")
#: Outcomes of a journal's run that ended: anything else is a run to resume.
FINISHED = ("completed", "degraded", "incomplete")


class _Module(Protocol):
    """What the module uses of AnsibleModule (untyped): exit_json and fail_json never return."""

    params: dict[str, Any]
    check_mode: bool

    def exit_json(self, **kwargs: Any) -> NoReturn: ...

    def fail_json(self, **kwargs: Any) -> NoReturn: ...


def _spec() -> dict[str, Any]:
    return {
        "host": {"type": "str"}, "port": {"type": "int"}, "user": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "auth": {"type": "str", "default": "negotiate",
                 "choices": ["negotiate", "ntlm", "kerberos", "basic", "credssp", "certificate"]},
        "ssl": {"type": "bool"}, "ca_bundle": {"type": "path"},
        "insecure": {"type": "bool", "default": False}, "cluster": {"type": "str"},
        "dialect": {"type": "str", "default": "auto",
                    "choices": ["auto", "powershell", "clusterexe"]},
        "time_scale": {"type": "float"}, "node_path": {"type": "str"}, "sim": {"type": "str"},
        "installer": {"type": "str", "required": True},
        "journal": {"type": "path", "required": True},
        "upgrade": {"type": "dict", "default": {}},
        "report_html": {"type": "path"},
    }


def main() -> None:
    module: _Module = AnsibleModule(argument_spec=_spec(), supports_check_mode=True,
                           mutually_exclusive=[("host", "sim")],
                           required_one_of=[("host", "sim")])
    if CLUSTERLIB_MISSING is not None:
        module.fail_json(msg=f"clusterlib is not installed for {sys.executable}:"
                         f" {CLUSTERLIB_MISSING}")
    p = module.params
    inventory, entry = _inventory(module, p)
    password = p["password"] or os.environ.get("CLUSTERLIB_PASSWORD")
    if entry.needs_password() and not password:
        module.fail_json(msg=f"no password for {p['user']}: give password (Ansible Vault) or set"
                         " $CLUSTERLIB_PASSWORD on the controller")
    journal = Path(p["journal"])
    result: dict[str, Any] = {"changed": False, "simulated": entry.simulated,
                              "journal": str(journal)}
    try:
        cluster = connect_entry(entry, password)
    except ClusterError as exc:
        module.fail_json(msg=f"could not connect to {entry.describe()}: {exc}", **result)
    with cluster:
        try:
            _upgrade(module, cluster, _options(cluster, inventory, entry), journal, result)
        except PreflightFailed as exc:
            module.fail_json(msg="preflight failed, nothing changed: " + "; ".join(
                f"{c.name}: {c.message}" for c in exc.failed), **result)
        except ClusterError as exc:
            module.fail_json(msg=f"{type(exc).__name__}: {exc}", **{**result, "changed": True})


def _inventory(module: _Module, p: dict[str, Any]) -> tuple[Inventory, ClusterEntry]:
    """The task's parameters as a one-cluster fleet inventory (validated as inventories are)."""
    name = p["cluster"] or p["host"] or "simulated"
    item: dict[str, Any] = {"name": "".join(c if c.isalnum() or c in "._-" else "_"
                                            for c in name)[:63] or "cluster",
                            "upgrade": p["upgrade"] or {}}
    if p["sim"]:
        item["sim"] = p["sim"]
    else:
        item.update({k: p[k] for k in CONNECTION if p[k] is not None})
        if not p["insecure"]:
            item.pop("insecure", None)
    try:
        inventory = parse_inventory({"fleet": {"installer": p["installer"]}, "cluster": [item]})
    except InventoryError as exc:
        module.fail_json(msg=str(exc))
    return inventory, inventory.clusters[0]


def _options(cluster: Cluster, inventory: Inventory, entry: ClusterEntry) -> UpgradeOptions:
    """The upgrade options; a simulated cluster without a target upgrades to its layout's next
    release (as the CLI and the fleet do)."""
    options = inventory.upgrade_options(entry)
    sim = getattr(cluster.transport, "sim", None)
    if options.target is None and sim is not None and getattr(sim, "upgrade_to", None):
        options = options.evolve(target=sim.upgrade_to)
    return options


def _upgrade(module: _Module, cluster: Cluster, options: UpgradeOptions, journal: Path,
             result: dict[str, Any]) -> NoReturn:
    """Nothing to do, the plan (check mode), a resumed run or a new one: always exits."""
    prior = Report.from_journal(journal) if journal.exists() else None
    unfinished = prior is not None and prior.outcome not in FINISHED
    done, snap = already_upgraded(cluster, options)
    if done and not unfinished:
        report = {"outcome": "already-upgraded", "cluster": snap.name,
                  "target": str(options.target),
                  "nodes": {n.name: {"highest": str(n.highest_version), "os": str(n.os_version)}
                            for n in snap.nodes}}
        module.exit_json(outcome="already-upgraded", report=report,
                         msg=f"every node runs {options.target}; nothing to do",
                         ansible_facts={"clusterlib_upgrade": report}, **result)
    action = default_action(module.params["installer"], snap)
    if module.check_mode:
        _plan(module, cluster, action, options, prior if unfinished else None, journal, result)
    journal.parent.mkdir(parents=True, exist_ok=True)
    if unfinished:
        upgrade = RollingUpgrade.from_journal(cluster, journal=journal, action=action)
    elif prior is not None:
        module.fail_json(msg=f"{journal} records a finished run ({prior.outcome}) but the"
                         f" cluster is not on {options.target}: move the journal away to"
                         " start a new run", **result)
    else:
        upgrade = RollingUpgrade(cluster, action, journal=journal, options=options)
    _run(module, upgrade, result)


def _plan(module: _Module, cluster: Cluster, action: UpgradeAction, options: UpgradeOptions,
          unfinished: Report | None, journal: Path, result: dict[str, Any]) -> NoReturn:
    """Check mode: what a run would do (resume the journal's run, or the plan); changes nothing."""
    would = {k: v for k, v in result.items() if k != "changed"}
    if unfinished is not None:
        module.exit_json(changed=True, outcome="planned", report=unfinished.to_dict(),
                         msg=f"would resume the run in {journal}",
                         ansible_facts={"clusterlib_upgrade": unfinished.to_dict()}, **would)
    plan = RollingUpgrade(cluster, action, options=options).plan()
    doc = plan.to_dict()
    if not plan.ok:
        module.fail_json(msg="preflight failed: " + "; ".join(
            f"{c.name}: {c.message}" for c in plan.failed_checks), report=doc, **result)
    module.exit_json(changed=True, outcome="planned", report=doc, msg=plan.to_text(),
                     ansible_facts={"clusterlib_upgrade": doc}, **would)


def _run(module: _Module, upgrade: RollingUpgrade, result: dict[str, Any]) -> NoReturn:
    """Run (or resume) the upgrade; a safe stop fails the task so that a rerun resumes it."""
    try:
        run = upgrade.run()
    except UpgradeStopped as exc:
        _html(module.params, exc.report)
        doc = exc.report.to_dict()
        module.fail_json(msg=f"stopped safely: {exc}; run the task again to resume",
                         outcome="stopped", report=doc, ansible_facts={"clusterlib_upgrade": doc},
                         **{**result, "changed": True})
    _html(module.params, run)
    doc = run.to_dict()
    out = {**result, "changed": True, "outcome": run.outcome, "report": doc,
           "ansible_facts": {"clusterlib_upgrade": doc}, "msg": run.message}
    if run.outcome != "completed":
        module.fail_json(**out)
    module.exit_json(**out)


def _html(params: dict[str, Any], report: Report) -> None:
    if params.get("report_html"):
        Path(params["report_html"]).write_text(report_document(report), encoding="utf-8")


if __name__ == "__main__":
    main()
