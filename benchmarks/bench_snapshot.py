"""Reading a whole cluster over the loopback WinRM endpoint: clusterlib's snapshot against the two
ways an admin reads it with pypsrp, measured in the same run; and the 64 x 32,000 scale target.

The simulated cluster is served by the loopback endpoint in its own process
(``benchmarks/_endpoint.py``; listener and client both at an 8 MiB envelope). Three readers,
each ending in Python objects the caller can use, timed in interleaved rounds (A B C A B C ...):

- clusterlib: ``cluster.snapshot()`` (one pipeline of CSV statements, parsed into records);
- CLIXML: ``Get-ClusterNode`` and ``Get-ClusterGroup`` as full objects in one pypsrp pipeline
  (two statements), deserialised by pypsrp: the natural way (up to 1,000 groups, one round at
  1,000: beyond, it takes tens of seconds);
- JSON: the same two reads through ``Select-Object <the snapshot's properties> |
  ConvertTo-Json -Compress`` in one pypsrp pipeline, then ``json.loads``.

Per reader: best and median wall time, HTTP requests, the client's CPU (this process) and the
endpoint's CPU (the endpoint process) of the best round, and the ratio to clusterlib's best.

Also: HTTP requests of a snapshot with Windows' default 500 KB envelope on both ends, and of a
group move and a drain with ``-Wait`` (smallest size).

Scale target (full run only): in a fresh client process, 64 nodes x 32,000 groups:
``snapshot()`` wall time (target < 1 s), the client's peak RSS and the endpoint process's peak
RSS. The plan at that size (target < 1 s too) is ``bench_plan.py``'s.

    python benchmarks/bench_snapshot.py            # 4x40, 16x1000, 64x8000, 64x32000 + scale
    python benchmarks/bench_snapshot.py --quick    # 2x4, 4x40 (CI)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, peak_rss_mb, table, write
from _endpoint import RemoteSim

import clusterlib
from clusterlib.dialects.powershell_dialect import GROUP_PROPS, NODE_PROPS

SIZES = [(4, 40), (16, 1000), (64, 8000), (64, 32000)]
QUICK_SIZES = [(2, 4), (4, 40)]
ENVELOPE = 8 * 1024 * 1024
WINDOWS_ENVELOPE = 500 * 1024  # a Windows listener's default MaxEnvelopeSizekb
# The CLIXML reader costs about 2.5-4.5 s per 1,000 groups (37 s at 8,000 when last measured);
# read up to 1,000, so the full run_all.py stays under 15 minutes on 2 loaded cores.
CLIXML_LIMIT = 1000
SCALE = (64, 32000)


def _pool(rs: RemoteSim) -> Any:
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    c = rs.connect
    wsman = WSMan(c["target"], port=c["port"], username=c["username"], password=c["password"],
                  ssl=False, auth="basic", encryption="never", no_proxy=True,
                  max_envelope_size=ENVELOPE)
    pool = RunspacePool(wsman)
    pool.open()
    return pool


def clixml_reader(pool: Any) -> Callable[[], Any]:
    from pypsrp.powershell import PowerShell

    def read() -> Any:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ClusterNode").add_statement().add_cmdlet("Get-ClusterGroup")
        out = ps.invoke()
        assert not ps.had_errors, ps.streams.error
        return out

    return read


def json_reader(pool: Any) -> Callable[[], Any]:
    from pypsrp.powershell import PowerShell

    def read() -> Any:
        ps = PowerShell(pool)
        for i, (cmdlet, props) in enumerate((("Get-ClusterNode", NODE_PROPS),
                                             ("Get-ClusterGroup", GROUP_PROPS))):
            if i:
                ps.add_statement()
            ps.add_cmdlet(cmdlet).add_cmdlet("Select-Object").add_parameter("Property",
                                                                            list(props))
            ps.add_cmdlet("ConvertTo-Json").add_parameter("Compress")
        out = ps.invoke()
        assert not ps.had_errors, ps.streams.error
        return [json.loads(text) for text in out]

    return read


def measure(rs: RemoteSim, fn: Callable[[], Any]) -> dict[str, float]:
    before = rs.report()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    after = rs.report()
    return {"wall_s": wall, "client_cpu_s": cpu,
            "requests": float(after["requests"] - before["requests"]),
            "server_cpu_s": float(after["cpu_s"] - before["cpu_s"])}


def run_size(nodes: int, groups: int, rounds: int) -> dict[str, Any]:
    with RemoteSim(nodes, groups, envelope=ENVELOPE) as rs:
        cluster = clusterlib.connect(rs.transport(max_envelope_size=ENVELOPE))
        pool = _pool(rs)
        readers: dict[str, Callable[[], Any]] = {"clusterlib": cluster.snapshot}
        if groups <= CLIXML_LIMIT:
            readers["CLIXML"] = clixml_reader(pool)
        readers["JSON"] = json_reader(pool)
        # Each reader once before timing (first-call costs), and a check that all read it all.
        assert len(cluster.snapshot().groups) == groups + 1
        slow = groups >= CLIXML_LIMIT  # CLIXML: one (timed) round only, no warm-up call

        def checked(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
            def read() -> None:
                out = fn()
                got = len(out[1]) if name == "JSON" else len(out) - nodes
                assert got == groups + 1, (name, got)
            return read

        for name, fn in readers.items():
            if name == "JSON" or (name == "CLIXML" and not slow):
                checked(name, fn)()
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in readers}
        for i in range(rounds):
            for name, fn in readers.items():
                if name == "CLIXML" and slow and i:
                    continue
                runs[name].append(measure(rs, checked(name, fn) if name != "clusterlib"
                                          else fn))
        pool.close()
        cluster.close()
    out: dict[str, Any] = {"nodes": nodes, "groups": groups, "rounds": rounds}
    out.update(requests_at_defaults(nodes, groups))
    for name, ms in runs.items():
        best = min(ms, key=lambda m: m["wall_s"])
        out[name] = {**{k: round(v, 4) for k, v in best.items()},
                     "median_wall_s": round(statistics.median(m["wall_s"] for m in ms), 4),
                     "rounds": len(ms)}
    base = out["clusterlib"]["wall_s"]
    for name in runs:
        out[name]["over_clusterlib"] = round(out[name]["wall_s"] / base, 2)
    return out


def requests_at_defaults(nodes: int, groups: int) -> dict[str, Any]:
    """HTTP requests of one snapshot with Windows' default 500 KB envelope on both ends, and on
    the smallest size, of one group move and one ``Suspend-ClusterNode -Drain -Wait``."""
    from clusterlib.wire import Cmdlet, Pipeline

    out: dict[str, Any] = {}
    with RemoteSim(nodes, groups, speed=1e5, envelope=WINDOWS_ENVELOPE) as rs:
        cluster = clusterlib.connect(rs.transport(max_envelope_size=WINDOWS_ENVELOPE))
        cluster.snapshot()  # the pool is open
        out["snapshot_500kb"] = {k: round(v, 4) for k, v in measure(rs, cluster.snapshot).items()}
        if nodes <= 4:
            tr = cluster.transport
            snap = cluster.snapshot()
            group = next(g for g in snap.groups if not g.is_core)
            target = next(n.name for n in snap.nodes if n.name != group.owner)
            out["move_requests"] = measure(rs, lambda: tr.run_pipeline(Pipeline.of(Cmdlet(
                "Move-ClusterGroup", {"Name": group.name, "Node": target}))))["requests"]
            out["drain_wait_requests"] = measure(rs, lambda: tr.run_pipeline(Pipeline.of(Cmdlet(
                "Suspend-ClusterNode", {"Name": snap.nodes[0].name, "Drain": True,
                                        "Wait": True}))))["requests"]
        cluster.close()
    return out


def scale_probe(nodes: int, groups: int) -> dict[str, Any]:
    """In this (fresh) process: snapshot best of 3, peak RSS (module docstring). The plan at
    this size is ``bench_plan.py``'s."""
    rss_start = peak_rss_mb()
    with RemoteSim(nodes, groups, envelope=ENVELOPE) as rs:
        cluster = clusterlib.connect(rs.transport(max_envelope_size=ENVELOPE))
        snaps = [measure(rs, cluster.snapshot) for _ in range(3)]
        assert len(cluster.snapshot().groups) == groups + 1
        endpoint = rs.report()
        cluster.close()
    best = {k: round(v, 3) for k, v in min(snaps, key=lambda m: m["wall_s"]).items()}
    return {"nodes": nodes, "groups": groups, "snapshot_best_s": best["wall_s"],
            "snapshot": best, "snapshot_s": [round(m["wall_s"], 3) for m in snaps],
            "client_rss_start_mb": round(rss_start, 1),
            "client_peak_rss_mb": round(peak_rss_mb(), 1),
            "endpoint_peak_rss_mb": endpoint["peak_rss_mb"],
            "endpoint_build_s": rs.startup["build_s"]}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--probe", action="store_true", help=argparse_hidden())
    args = p.parse_args(argv)
    if args.probe:
        print(json.dumps(scale_probe(*SCALE)))
        return 0
    sizes = QUICK_SIZES if args.quick else SIZES
    rounds = args.rounds or (2 if args.quick else 3)
    results = []
    rows = []
    for nodes, groups in sizes:
        r = run_size(nodes, groups, rounds)
        results.append(r)
        row: list[Any] = [nodes, groups, int(r["clusterlib"]["requests"]),
                          r["clusterlib"]["wall_s"], r["clusterlib"]["client_cpu_s"],
                          r["clusterlib"]["server_cpu_s"]]
        for name in ("CLIXML", "JSON"):
            m = r.get(name)
            row += ([m["wall_s"], f"{m['over_clusterlib']:.2f}x"] if m else ["-", "-"])
        row.append(int(r["snapshot_500kb"]["requests"]))
        rows.append(row)
        print(f"{nodes}x{groups} done", file=sys.stderr, flush=True)
    print(table(["nodes", "groups", "cl req", "clusterlib s", "cl client cpu", "cl endpoint cpu",
                 "CLIXML s", "CLIXML / cl", "JSON s", "JSON / cl", "cl req @500 KB"], rows))
    for r in results:
        if "move_requests" in r:
            print(f"{r['nodes']}x{r['groups']}: a group move {int(r['move_requests'])} requests,"
                  f" a drain with -Wait {int(r['drain_wait_requests'])} requests")
    scale = None
    if not args.quick:
        done = subprocess.run([sys.executable, __file__, "--probe"], capture_output=True,
                              text=True, timeout=900, check=True)
        scale = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"scale {scale['nodes']}x{scale['groups']}: snapshot {scale['snapshot_best_s']} s"
              f" (target < 1 s: {'PASS' if scale['snapshot_best_s'] < 1 else 'FAIL'}; rounds"
              f" {scale['snapshot_s']}), client CPU {scale['snapshot']['client_cpu_s']} s,"
              f" endpoint CPU {scale['snapshot']['server_cpu_s']} s; client peak RSS"
              f" {scale['client_peak_rss_mb']} MB (at start {scale['client_rss_start_mb']} MB),"
              f" endpoint peak RSS {scale['endpoint_peak_rss_mb']} MB")
    name = "snapshot-quick" if args.quick else "snapshot"
    print(f"wrote {write(name, {'envelope': ENVELOPE, 'results': results, 'scale': scale}, args.json)}")
    return 0


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
