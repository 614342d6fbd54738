"""Rolling-upgrade overhead by cluster size (2, 4, 16, 64 nodes), against a simple script's way.

For each size, in the same run and at the same speed factor:

- clusterlib: ``RollingUpgrade`` with its defaults (drain, installer, reboot, verify, resume,
  validation moves, redistribution at the end), and
- the classic procedure as a simple script does it: per node, pause; Move-ClusterGroup each of
  its groups one at a time (each call waits for its move); run the installer; poll Get-ClusterNode
  every 5 simulated seconds until the node has been down and is back; resume; move its groups back
  one at a time.

Both run the same installer (``D:\\setup.exe`` on the node's own shell) on the same simulated
layout (10 groups per node). Reported: simulated time (wall x speed), its ratio to the ideal
critical path, and round trips per node (every call crossing the transport boundary).

The ideal critical path is what no procedure can avoid, from the simulator's own parameters:
per node, its drain at the cluster's parallelism (``ceil(groups / drain_parallelism)`` moves,
plus the core group) and install + reboot + join; then every group moved back once, one at a
time. clusterlib's validation moves (two per node) and its re-drains of groups parked on a later
node are counted as its overhead, deliberately: they are the price of its safety and its
strategy.

    python benchmarks/bench_upgrade_scaling.py            # 2, 4, 16, 64 nodes at speed 100
    python benchmarks/bench_upgrade_scaling.py --quick    # 2 and 4 nodes at speed 500 (CI)
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CountingTransport, parser, table, write

import clusterlib
from clusterlib import NodeState, retry
from clusterlib.sim import SimCluster
from clusterlib.transports.base import CmdLine
from clusterlib.transports.inprocess import InProcessTransport
from clusterlib.upgrade import RemoteCommand, RollingUpgrade

SETUP = r"D:\setup.exe /unattend"
INSTALL_TIME = 120.0  # SimCluster.upgrade_node's default (simulated seconds)
GROUPS_PER_NODE = 10
POLL = 5.0  # the script's fixed polling interval (simulated seconds)


def layout(nodes: int, speed: float) -> SimCluster:
    return SimCluster.build(nodes, nodes * GROUPS_PER_NODE, os="2012R2", upgrade_to="2016",
                            speed=speed)


def ideal_sim_seconds(sim: SimCluster) -> float:
    """The critical path no procedure avoids (see the module docstring)."""
    move = next(iter(sim.groups.values())).move_time
    node = next(iter(sim.nodes.values()))
    cycle = INSTALL_TIME + node.reboot_time + node.join_time
    total = 0.0
    for name in sim.nodes:
        own = [g for g in sim.groups.values() if g.owner == name]
        ordinary = sum(1 for g in own if not g.is_core)
        total += math.ceil(ordinary / sim.drain_parallelism) * move
        total += move * sum(1 for g in own if g.is_core)
        total += cycle
    return total + move * len(sim.groups)  # every group back home once, one at a time


def _connect(sim: SimCluster) -> tuple[clusterlib.Cluster, Counter[str]]:
    counts: Counter[str] = Counter()
    cluster = clusterlib.connect(CountingTransport(InProcessTransport(sim), counts))  # type: ignore[arg-type]
    counts.clear()  # connect's dialect probe is not part of the job
    return cluster, counts


def run_clusterlib(nodes: int, speed: float) -> dict[str, Any]:
    sim = layout(nodes, speed)
    ideal = ideal_sim_seconds(sim)
    original = sim.snapshot().placement()
    cluster, counts = _connect(sim)
    with tempfile.TemporaryDirectory() as tmp:
        upgrade = RollingUpgrade(cluster, action=RemoteCommand(SETUP),
                                 journal=Path(tmp) / "journal.json", target=sim.upgrade_to)
        started = time.perf_counter()
        report = upgrade.run()
        wall = time.perf_counter() - started
    assert report.ok, report.message
    assert sim.snapshot().placement() == original
    return _result(sim, wall, speed, ideal, counts["pipeline"] + counts["cmd"], nodes)


def run_script(nodes: int, speed: float) -> dict[str, Any]:
    """The classic procedure, one group at a time with fixed polling (module docstring)."""
    sim = layout(nodes, speed)
    ideal = ideal_sim_seconds(sim)
    original = sim.snapshot().placement()
    cluster, counts = _connect(sim)
    d = cluster.commands
    started = time.perf_counter()
    names = [n.name for n in cluster.snapshot().nodes]
    for i, name in enumerate(names):
        others = [n for n in names if n != name]
        d.execute(d.pause_command(name, drain=False))
        mine = [g.name for g in cluster.snapshot().groups_on(name)]
        for j, group in enumerate(mine):
            d.execute(d.move_command(group, others[(i + j) % len(others)], wait=300))
        shell = cluster.transport.for_node(name)  # type: ignore[attr-defined]
        shell.run_cmd(CmdLine(SETUP))
        seen_down = False
        while True:
            time.sleep(POLL / speed)
            state = d.read_node(name).state
            seen_down = seen_down or state in (NodeState.Down, NodeState.Joining)
            if seen_down and state in (NodeState.Up, NodeState.Paused):
                break
        d.execute(d.resume_command(name, failback=None))
        for group in mine:
            d.execute(d.move_command(group, name, wait=300))
    wall = time.perf_counter() - started
    assert all(n.release.key == "2016" for n in sim.nodes.values())
    assert sim.snapshot().placement() == original
    return _result(sim, wall, speed, ideal, counts["pipeline"] + counts["cmd"], nodes)


def _result(sim: SimCluster, wall: float, speed: float, ideal: float, calls: int,
            nodes: int) -> dict[str, Any]:
    return {"wall_s": wall, "sim_s": wall * speed, "ideal_sim_s": ideal,
            "ratio": wall * speed / ideal, "round_trips": calls,
            "round_trips_per_node": calls / nodes}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--speed", type=float, default=None)
    args = p.parse_args(argv)
    sizes = [2, 4] if args.quick else [2, 4, 16, 64]
    speed = args.speed or (500.0 if args.quick else 100.0)
    rows = []
    results = []
    # Real waits: the script's fixed polling and every bounded wait sleep as they would.
    with retry.testing(wait=True):
        for nodes in sizes:
            ours = run_clusterlib(nodes, speed)
            script = run_script(nodes, speed)
            results.append({"nodes": nodes, "groups": nodes * GROUPS_PER_NODE, "speed": speed,
                            "clusterlib": ours, "script": script})
            rows.append([nodes, nodes * GROUPS_PER_NODE, ours["ideal_sim_s"], ours["sim_s"],
                         f"{ours['ratio']:.3f}", f"{ours['round_trips_per_node']:.0f}",
                         script["sim_s"], f"{script['ratio']:.3f}",
                         f"{script['round_trips_per_node']:.0f}",
                         f"{script['sim_s'] / ours['sim_s']:.2f}x"])
    print(table(["nodes", "groups", "ideal (sim s)", "clusterlib (sim s)", "clusterlib / ideal",
                 "clusterlib RT/node", "script (sim s)", "script / ideal", "script RT/node",
                 "script / clusterlib"], rows))
    name = "upgrade-scaling-quick" if args.quick else "upgrade-scaling"
    print(f"wrote {write(name, {'speed': speed, 'results': results}, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
