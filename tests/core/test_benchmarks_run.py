"""Every benchmark runs (``--quick``, each in its own process, through benchmarks/run_all.py), prints
its table and writes its results, so the figures in docs/performance.md can always be reproduced."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
DASHES = re.compile(r"^[ -]*-{3,}[ -]*$", re.MULTILINE)  # the line under a table's header


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "all.json"
    done = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--quick", "--json",
                           str(out)], capture_output=True, text=True, timeout=240, cwd=ROOT)
    return {"proc": done, "doc": json.loads(out.read_text()) if out.exists() else None}


def _ran(run: dict[str, Any]) -> bool:
    """Exit 0, or exit 1 from a performance bar a benchmark judges itself (bench_upgrade's 5 %
    overhead bar): a busy CI machine may miss a timing bar; it must never crash."""
    return run["exit"] == 0 or (run["exit"] == 1 and "bar:" in run["stdout"]
                                and "FAIL" in run["stdout"] and "Traceback" not in run["stderr"])


def test_run_all_runs_every_benchmark(quick_run: dict[str, Any]) -> None:
    done = quick_run["proc"]
    doc = quick_run["doc"]
    assert doc is not None, done.stdout[-3000:] + done.stderr[-3000:]
    assert doc["mode"] == "quick"
    assert all(_ran(r) for r in doc["runs"]), [(r["name"], r["exit"]) for r in doc["runs"]]
    assert done.returncode == (0 if all(r["exit"] == 0 for r in doc["runs"]) else 1)
    scripts = {p.stem for p in BENCH.glob("bench_*.py")}
    ran = {Path(r["argv"][0]).stem for r in doc["runs"]}
    assert ran == scripts, f"not run by run_all.py: {scripts - ran}"
    assert doc["machine"]["cpus"] and doc["machine"]["python"] and doc["machine"]["cpu_model"]
    # The whole run's time (the full run's 15-minute budget is read from it) covers every
    # benchmark's.
    assert doc["seconds"] >= sum(r["seconds"] for r in doc["runs"]) - 0.5
    assert f"total: {doc['seconds']:g} s" in done.stdout
    # The combined summary table names every benchmark.
    summary = done.stdout.rsplit("machine:", 1)[0]
    for r in doc["runs"]:
        assert r["name"] in summary


@pytest.mark.parametrize("name", ["snapshot", "upgrade", "upgrade-scaling", "plan", "drain",
                                  "parse", "cli-startup"])
def test_each_benchmark_prints_a_table_and_writes_results(quick_run: dict[str, Any],
                                                          name: str) -> None:
    runs = {r["name"]: r for r in quick_run["doc"]["runs"]}
    if name not in runs:
        pytest.fail(f"{name} did not run")
    run = runs[name]
    assert _ran(run), run["stderr"]
    assert "--quick" in run["argv"]
    assert DASHES.search(run["stdout"]) or name == "cli-startup", run["stdout"]
    if name == "cli-startup":
        # Prints only: its table has no dash line but one row per command it timed.
        assert "median ms" in run["stdout"] and "clusterlib_cli --help" in run["stdout"]
        assert "heavy modules imported by --help: none" in run["stdout"]
        return
    assert run["results"], f"{name} wrote no JSON results"
    for payload in run["results"].values():
        assert "error" not in payload and payload.get("results"), payload


def _payload(quick_run: dict[str, Any], name: str) -> dict[str, Any]:
    runs = {r["name"]: r for r in quick_run["doc"]["runs"]}
    payload: dict[str, Any] = next(iter(runs[name]["results"].values()))
    return payload


def test_upgrade_scaling_figures_are_sane(quick_run: dict[str, Any]) -> None:
    from clusterlib.upgrade import UpgradeOptions, moves

    payload = _payload(quick_run, "upgrade-scaling")
    assert [(r["nodes"], r["speed"]) for r in payload["results"]] == [(4, 400.0)]
    has_option = "drain_ahead" in attrs.fields_dict(UpgradeOptions)
    ways = ("clusterlib", "drain_ahead", "cau") if has_option else ("clusterlib", "cau")
    for r in payload["results"]:
        parts = r["bound_parts"]
        # 4 nodes x (install window 120 + reboot 60 + join 5), one after another, is most of
        # the bound; every node owns groups, so the first evacuation is one 2 s move, and so is
        # the last node's groups' way home.
        assert parts == {"first evacuation": 2.0, "install+reboot+join": 4 * 185.0,
                         "redistribution": 2.0}
        assert r["bound_sim_s"] == sum(parts.values())
        assert (r["drain_ahead"] is None) == (not has_option), r["drain_ahead_skipped"]
        for way in ways:
            w = r[way]
            # Nothing beats the physical lower bound, measured or with every call free.
            assert w["sim_s"] >= r["bound_sim_s"], (way, r)
            assert r[f"{way}_over_bound"] >= 1.0 and r[f"{way}_calls_free_over_bound"] >= 0.999
            assert w["pipelines_per_node"] > 0
            assert w["calls_by_first_cmdlet"]["cmd:setup.exe"] == 4  # once per node
            # Without the calls' cost each way is its physical work and its idle poll sleeps:
            # no more than its measured time, no less than the bound.
            t = w["timeline"]
            free = t["work_sim_s"] + t["idle_by_activity"].get("(sleep)", 0.0)
            assert abs(w["calls_free_sim_s"] - free) <= 0.11, (way, t)
            assert r["bound_sim_s"] - 1 <= free <= w["sim_s"] + 1, (way, t)
            if way != "cau":
                assert w["validation_sim_s"] > 0  # the validation moves, counted apart
                assert r[f"{way}_over_cau"] == round(w["sim_s"] / r["cau"]["sim_s"], 3)
                assert r[f"{way}_calls_free_over_cau"] > 0
        assert r["cau"]["calls_by_first_cmdlet"]["Suspend-ClusterNode"] == 4
        assert r["clusterlib"]["options"] == {}
        if has_option:
            assert r["drain_ahead"]["options"] == {"drain_ahead": True}
        if has_option and hasattr(moves, "drain_ahead"):
            # The next node is emptied while the current one installs, so the nodes' own
            # drains (Suspend-ClusterNode -Drain) move fewer groups than without.
            drained = {w: r[w]["sim_moves_by_reason"].get("drain", 0)
                       for w in ("clusterlib", "drain_ahead")}
            assert drained["drain_ahead"] < drained["clusterlib"], drained


def test_upgrade_scaling_bound_and_configurations() -> None:
    """The bound's parts from the simulator's parameters, and which sizes run at which speeds."""
    sys.path.insert(0, str(BENCH))
    try:
        b = importlib.import_module("bench_upgrade_scaling")
    finally:
        sys.path.remove(str(BENCH))
    params: dict[str, Any] = {
        "nodes": ["a", "b", "c"], "move_time": 3.0, "move_time_min": 3.0, "drain_parallelism": 2,
        "install_window": 100.0, "restarts": 2, "reboot_time": 10.0, "join_time": 1.0,
        "owned": {"a": {"ordinary": 7, "core": 1}, "b": {"ordinary": 5, "core": 0},
                  "c": {"ordinary": 6, "core": 0}}}
    assert b.lower_bound(params) == {"first evacuation": 3.0, "install+reboot+join": 3 * 121.0,
                                     "redistribution": 3.0}
    # A node with nothing to move can go first: no evacuation on the critical path.
    params["owned"]["c"]["ordinary"] = 0
    assert b.lower_bound(params)["first evacuation"] == 0.0
    with pytest.raises(ValueError, match="same move time"):
        b.lower_bound({**params, "move_time_min": 1.0})
    assert b.configurations(None, None, False) == [(25.0, 4), (25.0, 16), (200.0, 4),
                                                   (200.0, 16), (200.0, 64)]
    assert b.configurations([64], None, False) == [(200.0, 64)]  # 64 at 25 only when named
    assert b.configurations([64], [25.0], False) == [(25.0, 64)]
    assert b.configurations(None, [25.0], False) == [(25.0, 4), (25.0, 16)]
    assert b.configurations(None, None, True) == [(400.0, 4)]


def test_snapshot_readers_read_the_same_cluster(quick_run: dict[str, Any]) -> None:
    payload = _payload(quick_run, "snapshot")
    for r in payload["results"]:
        assert {"clusterlib", "CLIXML", "JSON"} <= set(r), r
        assert r["clusterlib"]["requests"] >= 2  # Command + Receive at least
        assert r["clusterlib"]["over_clusterlib"] == 1.0


def test_upgrade_timeline_adds_up(quick_run: dict[str, Any]) -> None:
    """Busy plus idle is the whole run; every idle second is charged to something."""
    payload = _payload(quick_run, "upgrade")
    for r in payload["results"]:
        t = r["timeline"]
        assert t["events_dropped"] == 0
        assert abs(t["busy_sim_s"] + t["idle_sim_s"] - t["total_sim_s"]) <= 0.5, t
        assert abs(sum(t["idle_by_activity"].values()) - t["idle_sim_s"]) <= 1.0, t
        # The work: at least every node's install, reboot and join (185 s each at 2 nodes).
        assert t["work_sim_s"] >= 2 * 185.0 and t["late_sim_s"] >= 0, t
        assert abs(t["total_sim_s"] - r["sim_s"]) <= 0.02 * r["sim_s"], (t, r["sim_s"])


def test_plan_figures_add_up(quick_run: dict[str, Any]) -> None:
    payload = _payload(quick_run, "plan")
    r = payload["results"][0]
    plan, owners, snap = r["plan"], r["owners read"], r["snapshot"]
    # The plan reads the owner lists; the owners read is a snapshot and more.
    assert plan["requests"] >= owners["requests"] >= snap["requests"] >= 2
    # The plan is its owners read plus the planning (whose one read is the upgrade lock).
    assert plan["requests"] == owners["requests"] + r["planning"]["requests"]
    assert 0 < r["owners_share"] < 5  # a median of per-round ratios, not of the bests
    assert r["client_peak_rss_mb"] > 0 and r["endpoint_peak_rss_mb"] > 0


def test_parse_ratio_is_reported(quick_run: dict[str, Any]) -> None:
    payload = _payload(quick_run, "parse")
    r = payload["results"][0]
    assert r["rows"] == 8001 and r["ratio_best"]["floor"] == 1.0
    assert r["ratio_best"]["clusterlib"] > 1.0  # nothing reads faster than csv.reader alone
