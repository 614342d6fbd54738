"""Fleet upgrades from one process: 100 simulated 4-node clusters at --parallel 1, 10 and 50.

Each configuration runs in a fresh interpreter (``--one P``): 100 clusters ``build:4x8@2012R2``
(4 nodes, 8 groups, PowerShell, 2012 R2 -> 2016) at simulator speed ``--speed``, one wave,
through ``clusterlib.fleet.Fleet`` with a journal per cluster. Reported per configuration:

- wall seconds (and the preflight pass over every cluster within them), against the bound:
  one cluster's physical lower bound (``bench_upgrade_scaling.lower_bound``, from the
  simulator's durations) x the rounds ``ceil(clusters / parallel)``; and against the ideal:
  the slowest single cluster (measured alone, in the same interpreter, before the fleet) x
  the same rounds (a measured unit, so not a lower bound: a noisy lone run can exceed the
  average cluster of the fleet);
- CPU seconds of the process per cluster, and peak memory (VmHWM) above the interpreter's
  baseline per cluster. With the in-process transport the simulators live in the same process,
  so both include the simulator's share: an upper bound for the client alone;
- with ``--wire N``: N clusters served by a separate process over loopback WinRM (the real
  pypsrp client, PSRP and XML), so the CPU and memory are the client's alone.

    python benchmarks/bench_fleet.py                 # 100 clusters, parallel 1, 10, 50; wire 10
    python benchmarks/bench_fleet.py --quick         # 10 clusters, parallel 1 and 5 (CI)
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, table, write

SETUP = r"D:\setup.exe /unattend"
LAYOUT = "build:4x8@2012R2"
PASSWORD = "bench-fleet-pw"  # a throw-away password of loopback simulators


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _inventory(n: int, speed: float, endpoints: list[dict[str, Any]] | None = None) -> Any:
    from clusterlib.fleet import parse_inventory

    if endpoints is None:
        clusters = [{"name": f"c{i:03d}", "sim": LAYOUT, "speed": speed} for i in range(n)]
    else:
        clusters = [{"name": f"w{i:03d}", "host": "127.0.0.1", "port": ep["port"],
                     "user": "clusterlib", "auth": "basic", "ssl": False,
                     "time_scale": ep["time_scale"], "node_path": "wsman/node/{node}",
                     "upgrade": {"target": ep["target"]}} for i, ep in enumerate(endpoints)]
    return parse_inventory({"fleet": {"installer": SETUP}, "cluster": clusters})


def one(clusters: int, parallel: int, speed: float, endpoints: list[dict[str, Any]] | None
        ) -> dict[str, Any]:
    """One configuration, in this (fresh) interpreter."""
    import clusterlib
    from clusterlib.fleet import Fleet
    from clusterlib.sim import SimCluster
    from clusterlib.upgrade import RemoteCommand, RollingUpgrade

    single = 0.0
    # The physical lower bound of one cluster, from the simulator's own durations
    # (bench_upgrade_scaling.lower_bound), in wall seconds at this speed.
    from _endpoint import _params
    from bench_upgrade_scaling import lower_bound

    probe = SimCluster.build(4, 8, os="2012R2", upgrade_to="2016", speed=speed)
    bound = sum(lower_bound(_params(probe)).values()) / speed
    if endpoints is None:
        for i in range(2):  # the slowest of two lone clusters (journaled too): the ideal's unit
            sim = SimCluster.build(4, 8, os="2012R2", upgrade_to="2016", speed=speed)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                with clusterlib.connect(sim) as cluster:
                    RollingUpgrade(cluster, RemoteCommand(SETUP), target=sim.upgrade_to,
                                   journal=Path(tmp) / f"lone{i}.json").run()
                single = max(single, time.perf_counter() - t0)
    base_rss = _status_kb("VmRSS")
    inventory = _inventory(clusters, speed, endpoints)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CLUSTERLIB_PASSWORD"] = PASSWORD
        fleet = Fleet(inventory, journal_dir=tmp, parallel=parallel)
        marks: dict[str, float] = {}
        # The preflight pass (every cluster planned before any change) ends at the first wave.
        def mark(event: Any) -> None:
            marks.setdefault(event.kind, time.perf_counter())

        fleet.subscribe(mark)
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = fleet.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    hwm = _status_kb("VmHWM")
    counts = report.counts()
    rounds = math.ceil(clusters / parallel)
    return {"clusters": clusters, "parallel": parallel, "speed": speed,
            "transport": "winrm" if endpoints else "inprocess", "wall_s": wall,
            "preflight_s": marks.get("wave-started", t0) - t0,
            "single_cluster_s": single or None, "rounds": rounds,
            "ideal_s": single * rounds if single else None,
            "wall_over_ideal": wall / (single * rounds) if single else None,
            "bound_s": bound * rounds, "wall_over_bound": wall / (bound * rounds),
            "cpu_s": cpu, "cpu_per_cluster_s": cpu / clusters,
            "mem_per_cluster_kb": max(0, hwm - base_rss) / clusters, "peak_rss_kb": hwm,
            "completed": counts.get("completed", 0), "outcome": report.outcome}


def _serve(n: int, speed: float) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    child_script = Path(__file__).resolve().parents[1] / "tests" / "fleet_serve_child.py"
    out = Path(tempfile.mkdtemp()) / "served.json"
    child = subprocess.Popen([sys.executable, str(child_script), str(out), str(speed),
                              *[LAYOUT] * n], stdin=subprocess.PIPE, text=True,
                             env={**os.environ, "FLEET_TEST_PASSWORD": PASSWORD})
    while not out.exists():
        if child.poll() is not None:
            raise SystemExit("the endpoint process died")
        time.sleep(0.05)
    return child, json.loads(out.read_text())


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--one", type=int, default=None, help=argparse_hidden())
    p.add_argument("--clusters", type=int, default=None)
    p.add_argument("--speed", type=float, default=1000.0)
    p.add_argument("--wire", type=int, default=None, help="clusters over loopback WinRM")
    p.add_argument("--endpoints", type=Path, default=None, help=argparse_hidden())
    args = p.parse_args()
    if args.one is not None:
        endpoints = json.loads(args.endpoints.read_text()) if args.endpoints else None
        print(json.dumps(one(args.clusters, args.one, args.speed, endpoints)))
        return
    clusters = args.clusters or (10 if args.quick else 100)
    speed = args.speed if not args.quick else max(args.speed, 4000.0)
    parallels = (1, 5) if args.quick else (1, 10, 50)
    wire = args.wire if args.wire is not None else (0 if args.quick else 10)
    rows = []
    for parallel in parallels:
        rows.append(_child(["--one", str(parallel), "--clusters", str(clusters),
                            "--speed", str(speed)]))
    if wire:
        child, endpoints = _serve(wire, speed)
        try:
            ep_file = Path(tempfile.mkdtemp()) / "endpoints.json"
            ep_file.write_text(json.dumps(endpoints))
            rows.append(_child(["--one", str(wire), "--clusters", str(wire), "--speed",
                                str(speed), "--endpoints", str(ep_file)]))
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
    print(table(["transport", "clusters", "parallel", "wall s", "preflight s", "bound s",
                 "wall/bound", "ideal s", "wall/ideal",
                 "CPU s/cluster", "KiB/cluster", "completed"],
                [[r["transport"], r["clusters"], r["parallel"], r["wall_s"], r["preflight_s"],
                  r["bound_s"], r["wall_over_bound"], r["ideal_s"] or "-",
                  r["wall_over_ideal"] or "-", r["cpu_per_cluster_s"],
                  round(r["mem_per_cluster_kb"]), r["completed"]] for r in rows]))
    print(f"speed {speed:g}; bound = one cluster's physical lower bound x ceil(clusters /"
          " parallel); ideal = slowest lone cluster (measured) x the same rounds; in-process"
          " figures include the simulators' CPU and memory")
    path = write("fleet", {"speed": speed, "layout": LAYOUT, "results": rows}, args.json)
    print(f"results: {path}")


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def _child(extra: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *extra], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_fleet {' '.join(extra)} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
