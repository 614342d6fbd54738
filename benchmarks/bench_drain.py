"""Drain time for a node owning many groups: clusterlib's drain against moving groups one by one.

Both run on the same simulated cluster layout at the same speed factor; times are reported in
simulated seconds (wall time x speed), so they read as they would on a real cluster whose moves
take the simulator's durations (2 s per group by default).
"""

from __future__ import annotations

import time
from typing import Any

from _common import parser, table, write

import clusterlib
from clusterlib import retry
from clusterlib.sim import SimCluster
from clusterlib.wire import Cmdlet, Pipeline


def layout(groups: int, targets: int, speed: float) -> SimCluster:
    sim = SimCluster({"SOURCE": [f"G{i:04d}" for i in range(groups)],
                      **{f"T{j}": [] for j in range(targets)}}, os="2016", speed=speed)
    return sim


def clusterlib_drain(groups: int, targets: int, speed: float) -> dict[str, Any]:
    sim = layout(groups, targets, speed)
    cluster = clusterlib.connect(sim)
    start = time.monotonic()
    snap = cluster.node("SOURCE").pause(drain=True)
    wall = time.monotonic() - start
    assert snap.groups_on("SOURCE") == ()
    return {"wall_s": wall, "sim_s": wall * speed, "commands": len(sim.calls())}


def one_by_one(groups: int, targets: int, speed: float) -> dict[str, Any]:
    """What a simple script does: pause, then Move-ClusterGroup each group in turn (waiting)."""
    sim = layout(groups, targets, speed)
    cluster = clusterlib.connect(sim)
    t = cluster.transport
    start = time.monotonic()
    t.run_pipeline(Pipeline.of(Cmdlet("Suspend-ClusterNode", {"Name": "SOURCE"})))
    names = [g.name for g in cluster.snapshot().groups_on("SOURCE")]
    for i, name in enumerate(names):
        result = t.run_pipeline(Pipeline.of(Cmdlet("Move-ClusterGroup",
                                                   {"Name": name, "Node": f"T{i % targets}"})))
        assert not result.errors, result.errors
    wall = time.monotonic() - start
    return {"wall_s": wall, "sim_s": wall * speed, "commands": len(sim.calls())}


def main() -> int:
    args = parser(__doc__ or "").parse_args()
    configs = [(20, 3)] if args.quick else [(20, 3), (100, 3), (200, 7), (400, 15)]
    speed = 200.0
    rows = []
    results = []
    with retry.testing(wait=True):
        for groups, targets in configs:
            ours = clusterlib_drain(groups, targets, speed)
            naive = one_by_one(groups, targets, speed)
            ratio = naive["sim_s"] / ours["sim_s"]
            rows.append((groups, targets, ours["sim_s"], naive["sim_s"], ratio))
            results.append({"groups": groups, "targets": targets, "clusterlib": ours,
                            "one_by_one": naive, "speedup": ratio})
    print(table(("groups", "targets", "clusterlib drain (sim s)", "one by one (sim s)", "speed-up"),
                rows))
    print(f"wrote {write('drain', {'speed': speed, 'results': results}, args.json)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
