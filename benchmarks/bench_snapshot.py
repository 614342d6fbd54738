"""Benchmark: one cluster snapshot over the loopback WinRM endpoint, by cluster size.

For each size it reports HTTP requests, wall time and CPU time of one snapshot pipeline (the
PowerShell dialect's SNAPSHOT_PIPELINE), the naive alternative (full Get-ClusterGroup objects,
then Get-ClusterOwnerNode per group), and requests per group move and per node drain.

The endpoint runs in this process, in its own threads. Client CPU is this thread's CPU time
(time.thread_time around the call: pypsrp, requests, deserialisation); server CPU is the rest of
the process CPU over the same interval (time.process_time minus the client's share), i.e. the
endpoint's HTTP threads and the pipeline worker (psrpcore serialisation and the simulator).

Envelope size: a Windows listener answers at most MaxEnvelopeSizekb (500 KB by default) per
Receive, so a 0.5 MB CSV takes several Receives. Configured to 8 MiB on both ends (the client's
``max_envelope_size`` and the listener's ``MaxEnvelopeSizekb=8192``), one Receive carries the
whole snapshot whatever the size: the request count is constant. Both settings are shown.

    python benchmarks/bench_snapshot.py [--quick] [--naive-limit N]

Writes benchmarks/results/snapshot-<timestamp>.json (gitignored).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, serve
from clusterlib.transports.base import Cmdlet, Pipeline, Statement
from clusterlib.transports.winrm import WinRMTransport

SIZES = [(2, 4), (4, 40), (8, 200), (16, 1000), (32, 4000), (64, 8000)]
QUICK_SIZES = [(2, 4), (4, 40), (8, 200)]
BIG_ENVELOPE = 8 * 1024 * 1024
WINDOWS_DEFAULT_ENVELOPE = 500 * 1024


def snapshot_pipeline() -> Pipeline:
    try:
        from clusterlib.dialects.powershell import SNAPSHOT_PIPELINE

        return SNAPSHOT_PIPELINE  # type: ignore[no-any-return]
    except ImportError:  # the dialect not there yet: the same statements
        csv = (Cmdlet("ConvertTo-Csv", {"NoTypeInformation": True}), Cmdlet("Out-String"))
        return Pipeline(statements=(
            Statement((Cmdlet("Get-Cluster"), Cmdlet("Select-Object", {"Property": [
                "Name", "ClusterFunctionalLevel", "ClusterUpgradeVersion", "DynamicQuorum"]}),
                *csv)),
            Statement((Cmdlet("Get-ClusterQuorum"), Cmdlet("Select-Object", {"Property": [
                "QuorumType", "QuorumResource"]}), *csv)),
            Statement((Cmdlet("Get-ClusterNode"), Cmdlet("Select-Object", {"Property": [
                "Name", "Id", "State", "DrainStatus", "NodeWeight", "DynamicWeight",
                "MajorVersion", "MinorVersion", "BuildNumber"]}), *csv)),
            Statement((Cmdlet("Get-ClusterGroup"), Cmdlet("Select-Object", {"Property": [
                "Name", "OwnerNode", "State", "Priority", "IsCoreGroup", "GroupType"]}), *csv)),
        ), idempotent=True)


@contextlib.contextmanager
def connected(sim: SimCluster, envelope: int) -> Iterator[tuple[Endpoint, WinRMTransport]]:
    with serve(sim, max_envelope_size=envelope) as ep:
        opts = ep.connect_options()
        opts.pop("time_scale")
        tr = WinRMTransport(opts.pop("target"), max_envelope_size=envelope, **opts)
        try:
            yield ep, tr
        finally:
            tr.close()


def measure(ep: Endpoint, fn: Callable[[], Any]) -> dict[str, float]:
    requests0 = ep.requests
    wall0, proc0, thread0 = time.perf_counter(), time.process_time(), time.thread_time()
    fn()
    wall, proc, thread = (time.perf_counter() - wall0, time.process_time() - proc0,
                          time.thread_time() - thread0)
    return {"requests": ep.requests - requests0, "wall_s": round(wall, 4),
            "client_cpu_s": round(thread, 4), "server_cpu_s": round(max(0.0, proc - thread), 4)}


def naive(tr: WinRMTransport, groups: list[str]) -> None:
    tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True))
    tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterGroup"), idempotent=True))
    for name in groups:
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterOwnerNode", {"Group": name}),
                                    idempotent=True))


def run_size(nodes: int, groups: int, naive_limit: int) -> dict[str, Any]:
    row: dict[str, Any] = {"nodes": nodes, "groups": groups}
    pipeline = snapshot_pipeline()
    for label, envelope in (("snapshot", BIG_ENVELOPE),
                            ("snapshot_500kb", WINDOWS_DEFAULT_ENVELOPE)):
        sim = SimCluster.build(nodes, groups, speed=1e6)
        with connected(sim, envelope) as (ep, tr):
            tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"), idempotent=True))  # open pool
            result: dict[str, Any] = {}

            def once(result: dict[str, Any] = result) -> None:
                result["r"] = tr.run_pipeline(pipeline)

            row[label] = measure(ep, once)
            csv_bytes = sum(len(o) for out in result["r"].outputs for o in out
                            if isinstance(o, str))
            row[label]["payload_bytes"] = csv_bytes
    if groups <= naive_limit:
        sim = SimCluster.build(nodes, groups, speed=1e6)
        with connected(sim, BIG_ENVELOPE) as (ep, tr):
            tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"), idempotent=True))
            names = list(sim.groups)
            row["naive"] = measure(ep, lambda: naive(tr, names))
    else:
        row["naive"] = None
    if (nodes, groups) == (4, 40) or nodes == 2:
        row.update(actions(nodes, groups))
    return row


def actions(nodes: int, groups: int) -> dict[str, Any]:
    """Requests for one group move and one node drain (with -Wait) on a warm pool."""
    out: dict[str, Any] = {}
    sim = SimCluster.build(nodes, groups, speed=1e5)
    with connected(sim, BIG_ENVELOPE) as (ep, tr):
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"), idempotent=True))
        group = next(g for g in sim.groups.values() if not g.is_core)
        target = next(n for n in sim.nodes if n != group.owner)
        out["move"] = measure(ep, lambda: tr.run_pipeline(Pipeline.of(Cmdlet(
            "Move-ClusterGroup", {"Name": group.name, "Node": target}))))
        node = next(iter(sim.nodes))
        out["drain"] = measure(ep, lambda: tr.run_pipeline(Pipeline.of(Cmdlet(
            "Suspend-ClusterNode", {"Name": node, "Drain": True, "Wait": True}))))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="small sizes only (CI)")
    parser.add_argument("--naive-limit", type=int, default=1000,
                        help="largest group count for the naive approach (one call per group)")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    rows = []
    header = (f"{'nodes':>5} {'groups':>6} | {'req':>3} {'wall s':>7} {'cli cpu':>7}"
              f" {'srv cpu':>7} {'bytes':>8} | {'req@500K':>8} {'wall s':>7} |"
              f" {'naive req':>9} {'naive s':>8}")
    print(header)
    print("-" * len(header))
    for nodes, groups in sizes:
        row = run_size(nodes, groups, args.naive_limit)
        rows.append(row)
        s, d, n = row["snapshot"], row["snapshot_500kb"], row["naive"]
        naive_txt = f"{n['requests']:>9} {n['wall_s']:>8.3f}" if n else f"{'-':>9} {'-':>8}"
        print(f"{nodes:>5} {groups:>6} | {s['requests']:>3} {s['wall_s']:>7.3f}"
              f" {s['client_cpu_s']:>7.3f} {s['server_cpu_s']:>7.3f} {s['payload_bytes']:>8} |"
              f" {d['requests']:>8} {d['wall_s']:>7.3f} | {naive_txt}", flush=True)
    for row in rows:
        if "move" in row:
            print(f"{row['nodes']}/{row['groups']}: move {row['move']['requests']} requests,"
                  f" drain -Wait {row['drain']['requests']} requests"
                  f" ({row['drain']['wall_s']:.3f} s)")
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = results / f"snapshot-{stamp}.json"
    target.write_text(json.dumps({
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpu_accounting": "client = thread_time of the calling thread; server = process_time"
                          " minus that (endpoint threads in the same process)",
        "envelope": {"snapshot": BIG_ENVELOPE, "snapshot_500kb": WINDOWS_DEFAULT_ENVELOPE},
        "rows": rows}, indent=1))
    print(f"written {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
