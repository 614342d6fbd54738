"""clusterlib.fleet: inventory validation, a 20-cluster fleet with faults, waves, budget, stop, resume."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import SETUP, assert_safe, online_at_start

import clusterlib
from clusterlib import NodeState
from clusterlib.fleet import (
    ClusterEntry,
    Fleet,
    FleetRefused,
    FleetReport,
    InventoryError,
    NotebookProgress,
    load_inventory,
    parse_inventory,
    print_events,
)
from clusterlib.sim import InstallerFails, NodeNeverReturns, SimCluster

SPEED = 5000.0
# Mixed releases, classic (cluster.exe, Windows 2000 -> 2003) and modern (PowerShell, 2012 R2+).
LAYOUTS = ("classic", "classic-2012r2", "build:3x6@2016", "classic-2019", "build:4x8@2012R2")


def _inventory(n: int, **fleet: Any) -> Any:
    clusters = [{"name": f"c{i:02d}", "sim": LAYOUTS[i % len(LAYOUTS)], "speed": SPEED,
                 "tags": ["canary"] if i < 2 else []} for i in range(n)]
    return parse_inventory({"fleet": {"installer": SETUP, **fleet}, "cluster": clusters})


def _sims(inventory: Any, faults: dict[str, Any] | None = None) -> dict[str, SimCluster]:
    from clusterlib_cli.options import Target, build_sim

    sims = {}
    for entry in inventory.clusters:
        sim = build_sim(Target(sim=entry.sim, speed=entry.speed))
        if faults and entry.name in faults:
            sim.inject(faults[entry.name](sim))
        sims[entry.name] = sim
    return sims


def _installs(sim: SimCluster) -> list[Any]:
    return [e for e in sim.events if e.kind == "upgrade-start"]


def _connector(sims: dict[str, SimCluster]) -> Any:
    return lambda entry: clusterlib.connect(sims[entry.name])


# --- the inventory ---------------------------------------------------------------------------------

def _problems(data: dict[str, Any]) -> str:
    with pytest.raises(InventoryError) as info:
        parse_inventory(data)
    return str(info.value)


def test_inventory_names_every_problem() -> None:
    text = _problems({
        "fleet": {"parallel": 0, "colour": "red", "installer": SETUP},
        "defaults": {"failback": "never", "max_failed_node": 1},
        "cluster": [
            {"name": "a", "host": "a.example", "tags": ["x"], "hots": 1},
            {"name": "A", "host": "b.example"},
            {"name": "b", "sim": "classic-2012r2", "host": "x"},
            {"name": "c"},
            {"name": "d", "sim": "classic-1995"},
            {"name": "e", "host": "e.example", "password": "hunter2"},
        ]})
    assert "[fleet]: unknown key 'colour'" in text
    assert "parallel must be a whole number >= 1" in text
    assert "failback must be one of end, each" in text
    assert "unknown key 'max_failed_node'" in text
    assert "cluster 'a': unknown key 'hots'; valid keys:" in text
    assert "repeats the name of entry 1" in text
    assert "a simulated cluster (sim = 'classic-2012r2') takes no connection options (host)" in text
    assert "cluster 'c': no connection" in text
    assert "classic-1995" in text
    assert "'password' holds a secret" in text
    assert "hunter2" not in text


def test_inventory_file_and_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(f"""
[fleet]
installer = '{SETUP}'
waves = ["canary", "rest"]
journal_dir = "j"

[defaults]
max_failed_nodes = 1

[[cluster]]
name = "sql-a"
host = "sqla.example"
user = 'CORP\\admin'
password_env = "SQL_A_PW"
tags = ["canary"]
upgrade = {{ max_failed_nodes = 0, order_policy = "fewest-groups-first" }}

[[cluster]]
name = "kerb"
host = "k.example"
user = "admin@CORP"
auth = "kerberos"

[[cluster]]
name = "lab"
sim = "classic-2012r2"
""", encoding="utf-8")
    monkeypatch.delenv("SQL_A_PW", raising=False)
    monkeypatch.delenv("CLUSTERLIB_PASSWORD", raising=False)
    inv = load_inventory(path)
    assert inv.journal_dir == tmp_path / "j"
    assert [c.name for w in inv.waves_of() for c in w] == ["sql-a", "kerb", "lab"]
    sql = inv.cluster("SQL-A")
    opts = inv.upgrade_options(sql)
    assert (opts.max_failed_nodes, opts.order_policy) == (0, "fewest-groups-first")
    assert inv.upgrade_options(inv.cluster("lab")).max_failed_nodes == 1
    assert inv.cluster("lab").simulated and "SIMULATED" in inv.cluster("lab").describe()
    # Kerberos needs no password; the others' sources are named when missing.
    assert inv.check_credentials() == [
        "cluster 'sql-a': $SQL_A_PW (its password_env) is not set; set it, or remove"
        " password_env to use $CLUSTERLIB_PASSWORD"]
    monkeypatch.setenv("SQL_A_PW", "s3cret")
    assert inv.check_credentials() == []
    assert sql.password() == "s3cret"
    assert "s3cret" not in repr(sql)
    with pytest.raises(InventoryError, match="in no wave"):
        inv.waves_of(("canary",))
    with pytest.raises(InventoryError, match="no inventory file"):
        load_inventory(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[fleet\n", encoding="utf-8")
    with pytest.raises(InventoryError, match="not valid TOML"):
        load_inventory(tmp_path / "bad.toml")


# --- running ---------------------------------------------------------------------------------------

def _faults() -> dict[str, Any]:
    return {
        # An installer that fails on the first node: the run stops with it paused and empty.
        "c03": lambda sim: InstallerFails(node=sorted(sim.nodes)[0]),
        # A node that never comes back after its reboot.
        "c11": lambda sim: NodeNeverReturns(node=sorted(sim.nodes)[0]),
        "c17": lambda sim: InstallerFails(node=sorted(sim.nodes)[-1]),
    }


def test_fleet_of_twenty_with_faults(tmp_path: Path) -> None:
    """20 simulated clusters (mixed releases), 3 faulted, parallel 5, waves canary,rest, budget 3:
    every healthy cluster upgraded, every faulted one stopped safely, nothing left unsafe."""
    inv = _inventory(20, parallel=5, max_failed_clusters=3, waves=["canary", "rest"])
    sims = _sims(inv, _faults())
    online = {n: online_at_start(s) for n, s in sims.items()}
    events: list[Any] = []
    lock = threading.Lock()
    concurrent, peak = set(), [0]

    def watch(e: Any) -> None:
        with lock:
            events.append(e)
            if e.kind == "started":
                concurrent.add(e.cluster)
                peak[0] = max(peak[0], len(concurrent))
            elif e.kind == "finished":
                concurrent.discard(e.cluster)

    fleet = Fleet(inv, journal_dir=tmp_path / "j", connect=_connector(sims), on_event=watch)
    report = fleet.run()
    by = {c.name: c for c in report.clusters}
    assert report.outcome == "incomplete"
    for name, sim in sims.items():
        assert_safe(sim, online[name])
        if name in _faults():
            assert by[name].status == "stopped", by[name]
            assert not all(n.release.key == sim.upgrade_to.key for n in sim.nodes.values())
        else:
            assert by[name].status == "completed", (name, by[name].message)
            assert all(n.release.key == sim.upgrade_to.key for n in sim.nodes.values()), name
            assert all(n.state is NodeState.Up for n in sim.snapshot().nodes)
            assert by[name].versions_before != by[name].versions_after
            assert (tmp_path / "j" / f"{name}.html").exists()
    assert 2 <= peak[0] <= 5
    # The canary wave finished before any other cluster started.
    order = [(e.kind, e.cluster) for e in events if e.kind in ("started", "finished")]
    last_canary = max(i for i, (k, c) in enumerate(order) if k == "finished" and c in ("c00", "c01"))
    first_rest = min(i for i, (k, c) in enumerate(order) if k == "started"
                     and c not in ("c00", "c01"))
    assert last_canary < first_rest
    # The fleet journal and the report say the same.
    recorded = FleetReport.from_journal(tmp_path / "j")
    assert {c.name: c.status for c in recorded.clusters} == {n: c.status for n, c in by.items()}
    js, index = report.write()
    page = index.read_text(encoding="utf-8")
    assert page.count("<tr><td>c") == 20 and 'href="c00.html"' in page and "SIMULATED" in page
    assert json.loads(js.read_text())["counts"] == {"completed": 17, "stopped": 3}


def test_budget_spent_starts_no_further_cluster(tmp_path: Path) -> None:
    inv = _inventory(6, parallel=1, max_failed_clusters=0)
    sims = _sims(inv, {"c01": lambda sim: InstallerFails(node=sorted(sim.nodes)[0])})
    report = Fleet(inv, journal_dir=tmp_path, connect=_connector(sims)).run()
    statuses = [c.status for c in report.clusters]
    assert report.outcome == "budget-exceeded"
    assert statuses == ["completed", "stopped", *["not-started"] * 4]
    assert not any(_installs(s) for n, s in sims.items() if n >= "c02")


def test_all_or_nothing_refuses_before_any_change(tmp_path: Path) -> None:
    inv = _inventory(4, all_or_nothing=True)
    sims = _sims(inv)
    sims["c02"].node(sorted(sims["c02"].nodes)[0]).state = NodeState.Down  # preflight: nodes-up
    with pytest.raises(FleetRefused, match="c02") as info:
        Fleet(inv, journal_dir=tmp_path, connect=_connector(sims)).run()
    assert not any(_installs(s) for s in sims.values())
    assert info.value.report.outcome == "refused"
    by = {c.name: c for c in info.value.report.clusters}
    assert by["c02"].status == "preflight-failed" and "nodes-up" in by["c02"].message
    # Without all_or_nothing only that cluster is skipped.
    report = Fleet(inv, journal_dir=tmp_path / "again", connect=_connector(sims),
                   all_or_nothing=False).run()
    assert [c.status for c in report.clusters] == ["completed", "completed", "preflight-failed",
                                                   "completed"]


def test_stop_then_resume_and_second_run_changes_nothing(tmp_path: Path) -> None:
    """A stop request reaches every running cluster (each stops at a step boundary); the resume
    finishes every cluster; a second fleet run finds them upgraded and changes nothing."""
    inv = _inventory(6, parallel=3)
    sims = _sims(inv)
    fleet = Fleet(inv, journal_dir=tmp_path / "j", connect=_connector(sims))
    seen: list[str] = []

    def stop_soon(e: Any) -> None:
        if e.kind == "upgrade" and (e.upgrade or {}).get("kind") == "phase-finished":
            seen.append(e.cluster)
            if len(seen) == 3:
                fleet.request_stop()

    fleet.subscribe(stop_soon)
    first = fleet.run()
    assert first.outcome == "stopped"
    statuses = {c.name: c.status for c in first.clusters}
    assert "stopped" in statuses.values() and "not-started" in statuses.values()
    for sim in sims.values():
        assert_safe(sim, {g.name for g in sim.snapshot().groups})
    again = Fleet.from_journal(inv, journal_dir=tmp_path / "j", connect=_connector(sims)).run()
    assert again.outcome == "completed", again.to_text()
    assert all(all(n.release.key == s.upgrade_to.key for n in s.nodes.values())
               for s in sims.values())
    # Idempotent: every cluster already runs the target.
    third = Fleet(inv, journal_dir=tmp_path / "k", connect=_connector(sims)).run()
    assert third.outcome == "completed" and not third.changed
    assert {c.status for c in third.clusters} == {"already-upgraded"}


def test_embedded_sims_and_progress_subscribers(tmp_path: Path) -> None:
    inv = _inventory(3, parallel=3)
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    nb = NotebookProgress()
    fleet = Fleet(inv, journal_dir=tmp_path, on_event=print_events(Out()))  # type: ignore[arg-type]
    fleet.subscribe(nb)
    plan = fleet.plan()
    assert plan.ok and "SIMULATED" in plan.to_text()
    report = fleet.run()
    assert report.ok and report.simulated
    text = "".join(lines)
    assert "[c00] upgrade started" in text and "[fleet] fleet completed: 3 completed" in text
    assert set(nb.rows) == {"c00", "c01", "c02"} and "completed" in nb.to_html()
    # A new Fleet cannot resume embedded simulators: a fresh one would be another cluster.
    with pytest.raises(Exception, match="SIMULATED"):
        Fleet.from_journal(inv, journal_dir=tmp_path).connect(inv.clusters[0])
    resumed = Fleet.from_journal(inv, journal_dir=tmp_path, sims=fleet.sims).run()
    assert resumed.ok and all(c.status == "completed" for c in resumed.clusters)


def test_cluster_entry_connection_options() -> None:
    from clusterlib.fleet import connect_entry

    sim = SimCluster.classic(os="2012R2", speed=SPEED)
    from clusterlib.sim.endpoint import serve

    with serve(sim, password="pw-fleet-test") as ep:
        entry = ClusterEntry(name="x", connection={
            "host": "127.0.0.1", "port": ep.port, "user": ep.username, "auth": "basic",
            "ssl": False, "time_scale": ep.time_scale, "node_path": "wsman/node/{node}"})
        assert entry.needs_password()
        with connect_entry(entry, "pw-fleet-test") as cluster:
            assert {n.name for n in cluster.snapshot().nodes} == {"NODE1", "NODE2"}


def test_a_journal_mid_run_resumes_even_when_every_node_is_upgraded(tmp_path: Path) -> None:
    """Killed after the last node but before the groups went home: the fleet resumes that
    cluster's journal (redistribution, final check) instead of calling it already upgraded."""
    inv = _inventory(1)
    sims = _sims(inv)
    fleet = Fleet(inv, journal_dir=tmp_path, connect=_connector(sims))

    def stop_before_redistribute(e: Any) -> None:
        up = e.upgrade or {}
        if up.get("kind") == "phase-finished" and up.get("phase") == "validate" \
                and up.get("node") == sorted(sims["c00"].nodes)[-1]:
            fleet.request_stop()

    fleet.subscribe(stop_before_redistribute)
    first = fleet.run()
    assert first.clusters[0].status == "stopped"
    sim = sims["c00"]
    assert all(n.release.key == sim.upgrade_to.key for n in sim.nodes.values())
    plan = Fleet.from_journal(inv, journal_dir=tmp_path, connect=_connector(sims)).plan()
    assert plan.clusters[0].status == "resume"
    again = Fleet.from_journal(inv, journal_dir=tmp_path, connect=_connector(sims)).run()
    assert again.clusters[0].status == "completed", again.to_text()
    assert again.clusters[0].stopped_at is None
