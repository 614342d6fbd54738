"""Client parse cost: a Get-ClusterGroup CSV of N rows into GroupInfo records, against the floor
of reading the same CSV with ``csv.reader`` alone.

The CSV is what the snapshot pipeline returns over the wire (taken from the simulator's
PowerShell emulation, 64 nodes). Three readers, timed in interleaved rounds (floor, clusterlib,
per-row, floor, clusterlib, ...) so a busy shared machine slows each alike:

- floor: ``list(csv.reader(...))``, nothing else;
- clusterlib: ``groups_from_csv`` (what ``snapshot()`` uses);
- per-row: ``parse_csv`` + ``group_from_row`` per row (the general path, kept for odd CSVs).

Reported: each reader's best time and its ratio to the floor's best, and the median of the
per-round ratios. Garbage collection is off inside each timed call, as in timeit. The bar:
clusterlib within 4x of the floor.

    python benchmarks/bench_parse.py            # 8,000 and 32,000 rows, 15 rounds
    python benchmarks/bench_parse.py --quick    # 8,000 rows, 5 rounds
"""

from __future__ import annotations

import csv
import gc
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, save, table

from clusterlib.dialects.powershell_dialect import (
    group_from_row,
    groups_from_csv,
    parse_csv,
    snapshot_pipeline,
)
from clusterlib.sim import SimCluster
from clusterlib.sim.transport import InProcessTransport

BAR = 4.0


def group_csv(groups: int, nodes: int = 64) -> str:
    """The Get-ClusterGroup statement's CSV, as the snapshot pipeline returns it."""
    sim = SimCluster.build(nodes, groups)
    result = InProcessTransport(sim).run_pipeline(snapshot_pipeline())
    text = result.outputs[3][0]
    assert isinstance(text, str) and text.count("\n") > groups
    return text


def readers(text: str) -> dict[str, Callable[[], Any]]:
    return {
        "floor": lambda: list(csv.reader(io.StringIO(text, newline=""))),
        "clusterlib": lambda: groups_from_csv(text, "Get-ClusterGroup", {}, {}),
        "per-row": lambda: [group_from_row(r, {}, {}) for r in parse_csv(text, "g")],
    }


def measure(text: str, rounds: int) -> dict[str, Any]:
    fns = readers(text)
    fast, slow = fns["clusterlib"](), fns["per-row"]()
    assert list(fast) == slow, "groups_from_csv differs from group_from_row"
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            # As timeit does: no garbage collection inside a timed call (a collection triggered
            # by one reader's allocations would be charged to whichever runs next).
            gc.collect()
            gc.disable()
            try:
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
            finally:
                gc.enable()
    best = {k: min(v) for k, v in times.items()}
    return {
        "rows": len(fast), "rounds": rounds,
        "best_ms": {k: round(v * 1e3, 2) for k, v in best.items()},
        "ratio_best": {k: round(best[k] / best["floor"], 2) for k in fns},
        "ratio_median_of_rounds": {
            k: round(statistics.median(t / f for t, f in zip(times[k], times["floor"],
                                                                strict=True)), 2)
            for k in fns},
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    sizes = [8_000] if args.quick else [8_000, 32_000]
    rounds = 5 if args.quick else 15
    results = [measure(group_csv(n), rounds) for n in sizes]
    rows = []
    for r in results:
        b, q, m = r["best_ms"], r["ratio_best"], r["ratio_median_of_rounds"]
        rows.append([r["rows"], b["floor"], b["clusterlib"], f"{q['clusterlib']:.2f}x",
                     f"{m['clusterlib']:.2f}x", b["per-row"], f"{q['per-row']:.2f}x"])
    print(table(["rows", "csv.reader ms", "clusterlib ms", "clusterlib / floor (best)",
                 "(median of rounds)", "per-row ms", "per-row / floor"], rows))
    ok = all(r["ratio_best"]["clusterlib"] <= BAR for r in results)
    print(f"bar: clusterlib parse within {BAR:g}x of csv.reader (best of {rounds}):"
          f" {'PASS' if ok else 'FAIL'}")
    save("parse", args.quick, {"bar": BAR, "pass": ok, "results": results}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
