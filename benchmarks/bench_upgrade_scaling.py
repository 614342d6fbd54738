"""Rolling upgrade over the real wire, by cluster size: clusterlib against the physical lower
bound and against a Cluster-Aware-Updating-style script, measured in the same run.

For each size (4, 16, 64 nodes at speed 200; 10 groups per node; PowerShell, 2012 R2 -> 2016), two fresh
simulated clusters, each behind the loopback WinRM endpoint in its own process
(``benchmarks/_endpoint.py``), at the same speed factor:

- clusterlib: ``RollingUpgrade`` with its defaults (drain, installer on the node's shell, reboot,
  verify, resume, two validation moves per node, redistribution), through ``WinRMTransport``;
- CAU-style: what a competent admin writes (and what Cluster-Aware Updating does per node),
  straight over pypsrp (``RunspacePool``/``PowerShell`` and a WinRS shell on the node, no
  clusterlib): per node in ID order, ``Suspend-ClusterNode -Drain -Wait``; the installer on the
  node's shell; poll ``(Get-ClusterNode n).State`` every 5 simulated seconds until the node has
  been down and is back; ``Resume-ClusterNode -Failback Immediate``; after the last node, it
  waits (polling that node's groups every simulated second) until that failback has finished. Its clock starts
  once its runspace pool is open, as clusterlib's starts after ``connect()``. It does not check
  quorum, versions, the drain's outcome or the groups' health, and does not move the core group
  (it fails over when the node restarts).

The physical lower bound, from the simulator's own parameters (never from the moves a procedure
chose): one node out of service at a time, so per node the slowest of its groups' moves at the
drain's parallelism (``ceil(groups / drain_parallelism) * move_time``), plus the action
(``install_window``, then ``restarts`` reboots of ``reboot_time``) and ``join_time``; then the
final redistribution at full parallelism (every group at once: one ``move_time``). Validation
moves are the seed's requirement, not waste: ``bound + validation`` adds clusterlib's validation
moves, one after another.

Reported per size: simulated seconds (wall x speed) of each way, the ratios clusterlib / bound,
clusterlib / (bound + validation), CAU / bound and clusterlib / CAU, pipelines (and command
lines) per node for each, clusterlib's calls counted by first cmdlet, and each way's timeline
(``benchmarks/_timeline.py``). At speed 200 a call of 25 ms costs 5 simulated seconds, which a
real cluster (speed 1) does not charge: *calls-free cl / CAU* compares the two as if calls cost
nothing (``calls_free``: the physical work plus the sleeps between polls that left the cluster
idle), an estimate of the real-cluster ratio; ``cl / CAU`` is the measured one.

    python benchmarks/bench_upgrade_scaling.py             # 4, 16, 64 nodes at speed 200
    python benchmarks/bench_upgrade_scaling.py --quick     # 2 nodes at speed 400 (CI)
    python benchmarks/bench_upgrade_scaling.py --sizes 16 --speed 25
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

from _common import PipelineCounter, parser, table, write
from _endpoint import RemoteSim
from _timeline import CallRecorder, Span, breakdown, describe, recording_sleeps

import clusterlib
from clusterlib import retry
from clusterlib.sim.releases import release
from clusterlib.upgrade import RemoteCommand, RollingUpgrade

SETUP = r"D:\setup.exe /unattend"
GROUPS_PER_NODE = 10
FROM, TO = "2012R2", "2016"
POLL = 5.0  # the CAU-style script's polling interval (simulated seconds)
SETTLE_POLL = 1.0  # its wait for the last failback to finish (simulated seconds)


def lower_bound(params: dict[str, Any]) -> dict[str, float]:
    """The physical lower bound in simulated seconds, by part (module docstring).

    ``ceil(groups / parallelism) * move_time`` is the shortest a drain can take only when every
    move takes the same time, as in the benchmarks' clusters; with mixed durations it would not
    be a lower bound, so it is refused."""
    if params.get("move_time_min", params["move_time"]) != params["move_time"]:
        raise ValueError("lower_bound() needs every group to take the same move time")
    move, par = params["move_time"], params["drain_parallelism"]
    drains = sum(math.ceil(o["ordinary"] / par) * move for o in params["owned"].values())
    action = len(params["nodes"]) * (params["install_window"]
                                     + params["restarts"] * params["reboot_time"]
                                     + params["join_time"])
    return {"drains": drains, "install+reboot+join": action, "redistribution": move}


def run_clusterlib(nodes: int, speed: float) -> dict[str, Any]:
    with RemoteSim(nodes, nodes * GROUPS_PER_NODE, speed=speed, os=FROM, upgrade_to=TO) as rs:
        before = rs.report()
        counts: Counter[str] = Counter()
        spans: list[Span] = []
        transport = PipelineCounter(CallRecorder(rs.transport(), spans), counts)
        cluster = clusterlib.connect(transport, time_scale=speed)
        counts.clear()  # connect's dialect probe is not part of the job
        spans.clear()
        with tempfile.TemporaryDirectory() as tmp, recording_sleeps(spans):
            upgrade = RollingUpgrade(cluster, action=RemoteCommand(SETUP),
                                     journal=Path(tmp) / "journal.json", target=release(TO))
            started, mono0 = time.perf_counter(), time.monotonic()
            report = upgrade.run()
            wall, mono1 = time.perf_counter() - started, time.monotonic()
        cluster.close()
        after = rs.report()
        where = breakdown(rs.timeline(), spans, mono0, mono1)
        assert report.ok, report.message
        assert set(after["releases"].values()) == {TO}, after["releases"]
        assert after["placement"] == before["placement"], "clusterlib changed the placement"
        purposes = Counter(m["purpose"] for m in report.moves)
        return {**_result(wall, speed, counts, nodes), "params": rs.params,
                "moves_by_purpose": dict(purposes), "sim_moves_by_reason": after["moves"],
                "endpoint_requests": after["requests"] - before["requests"],
                "endpoint_peak_rss_mb": after["peak_rss_mb"], "timeline": where}


def run_cau(nodes: int, speed: float) -> dict[str, Any]:
    """The CAU-style script over pypsrp, nothing of clusterlib on the client (module docstring)."""
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.shell import Process, WinRS
    from pypsrp.wsman import WSMan

    with RemoteSim(nodes, nodes * GROUPS_PER_NODE, speed=speed, os=FROM, upgrade_to=TO) as rs:
        c = rs.connect
        counts: Counter[str] = Counter()

        def wsman(path: str = "wsman") -> WSMan:
            return WSMan(c["target"], port=c["port"], username=c["username"],
                         password=c["password"], ssl=False, auth="basic", encryption="never",
                         no_proxy=True, path=path)

        before = rs.report()
        spans: list[Span] = []
        with RunspacePool(wsman()) as pool, recording_sleeps(spans):
            # The clock starts with the pool open, as clusterlib's starts after connect().
            started, mono0 = time.perf_counter(), time.monotonic()

            def ps(cmdlet: str, then: str | None = None, **params: Any) -> list[Any]:
                counts["pipeline"] += 1
                counts[cmdlet] += 1
                t0 = time.monotonic()
                shell = PowerShell(pool)
                shell.add_cmdlet(cmdlet)
                for key, value in params.items():
                    if value is True:
                        shell.add_parameter(key)
                    else:
                        shell.add_parameter(key, value)
                if then:
                    shell.add_cmdlet(then)
                out = shell.invoke()
                spans.append((t0, time.monotonic(), cmdlet))
                if shell.had_errors:
                    raise RuntimeError(f"{cmdlet}: {[str(e) for e in shell.streams.error]}")
                return out

            names = [str(n.adapted_properties["Name"]) for n in sorted(
                ps("Get-ClusterNode"), key=lambda n: int(str(n.adapted_properties["Id"])))]
            for name in names:
                ps("Suspend-ClusterNode", Name=name, Drain=True, Wait=True)
                t0 = time.monotonic()
                with WinRS(wsman(f"wsman/node/{name}")) as shell:
                    counts["cmd"] += 1
                    counts["cmd:setup.exe"] += 1
                    proc = Process(shell, SETUP)
                    proc.invoke()
                    if proc.rc != 0:
                        raise RuntimeError(f"{name}: the installer exited {proc.rc}")
                spans.append((t0, time.monotonic(), "cmd:setup.exe"))
                seen_down = False
                while True:
                    time.sleep(POLL / speed)
                    node = ps("Get-ClusterNode", Name=name)[0]
                    state = str(node.adapted_properties["State"])
                    seen_down = seen_down or state in ("Down", "Joining")
                    if seen_down and state in ("Up", "Paused"):
                        break
                ps("Resume-ClusterNode", Name=name, Failback="Immediate")
            # Resume returns while the last node's failback moves are under way; the job is
            # done when they are (clusterlib's time, too, ends with every group in place).
            # A tight poll (SETTLE_POLL) of that node's groups only (a moving group is owned
            # by its target), so the baseline pays little for noticing.
            while any(str(g.adapted_properties["State"]) == "Pending"
                      for g in ps("Get-ClusterNode", "Get-ClusterGroup", Name=names[-1])):
                time.sleep(SETTLE_POLL / speed)
            wall, mono1 = time.perf_counter() - started, time.monotonic()
        after = rs.report()
        where = breakdown(rs.timeline(), spans, mono0, mono1)
        assert set(after["releases"].values()) == {TO}, after["releases"]
        moved = {g for g, n in after["placement"].items() if before["placement"][g] != n}
        return {**_result(wall, speed, counts, nodes), "sim_moves_by_reason": after["moves"],
                "groups_not_home": sorted(moved), "timeline": where,
                "endpoint_requests": after["requests"] - before["requests"]}


def calls_free(way: dict[str, Any]) -> float:
    """An estimate of the run if every call and the client's own work cost no time, as on a
    real cluster where a call takes milliseconds against a node's minutes: the physical work
    plus the sleeps between polls that left the cluster idle (simulated seconds)."""
    t = way["timeline"]
    return float(t["work_sim_s"] + t["idle_by_activity"].get("(sleep)", 0.0))


def _result(wall: float, speed: float, counts: Counter[str], nodes: int) -> dict[str, Any]:
    calls = {k: v for k, v in counts.most_common() if k not in ("pipeline", "cmd")}
    return {"wall_s": round(wall, 3), "sim_s": round(wall * speed, 1),
            "pipelines": counts["pipeline"], "cmd_lines": counts["cmd"],
            "pipelines_per_node": round(counts["pipeline"] / nodes, 1),
            "calls_by_first_cmdlet": calls}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--speed", type=float, default=None)
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    args = p.parse_args(argv)
    sizes = args.sizes or ([2] if args.quick else [4, 16, 64])
    # Speed 200: 64 nodes take about 5 minutes over the wire here (mostly the client's
    # per-pipeline cost); the full run_all.py must stay under 15 minutes.
    speed = args.speed or (400.0 if args.quick else 200.0)
    rows, results, reads = [], [], []
    # Real waits: the script's polling and every bounded wait sleep as they would.
    with retry.testing(wait=True):
        for nodes in sizes:
            ours = run_clusterlib(nodes, speed)
            cau = run_cau(nodes, speed)
            bound_parts = lower_bound(ours["params"])
            bound = sum(bound_parts.values())
            validation = ours["moves_by_purpose"].get("validation", 0) * \
                ours["params"]["move_time"]
            r = {"nodes": nodes, "groups": nodes * GROUPS_PER_NODE, "speed": speed,
                 "bound_sim_s": bound, "bound_parts": bound_parts,
                 "validation_sim_s": validation, "clusterlib": ours, "cau": cau,
                 "clusterlib_over_bound": round(ours["sim_s"] / bound, 3),
                 "clusterlib_over_bound_plus_validation": round(ours["sim_s"]
                                                                / (bound + validation), 3),
                 "cau_over_bound": round(cau["sim_s"] / bound, 3),
                 "clusterlib_over_cau": round(ours["sim_s"] / cau["sim_s"], 3),
                 "calls_free_over_cau": round(calls_free(ours) / calls_free(cau), 3)}
            ours.pop("params")
            results.append(r)
            rows.append([nodes, r["groups"], f"{bound:.0f}", f"{bound + validation:.0f}",
                         f"{ours['sim_s']:.0f}", f"{r['clusterlib_over_bound']:.3f}",
                         f"{r['clusterlib_over_bound_plus_validation']:.3f}",
                         f"{ours['pipelines_per_node']:.0f}", f"{cau['sim_s']:.0f}",
                         f"{r['cau_over_bound']:.3f}", f"{cau['pipelines_per_node']:.0f}",
                         f"{r['clusterlib_over_cau']:.3f}", f"{r['calls_free_over_cau']:.3f}"])
            top = list(ours["calls_by_first_cmdlet"].items())[:6]
            reads.append(f"{nodes} nodes, clusterlib calls per node by first cmdlet: "
                         + ", ".join(f"{k} {v / nodes:.1f}" for k, v in top))
            reads.append(f"{nodes} nodes, clusterlib {describe(ours['timeline'])}")
            reads.append(f"{nodes} nodes, CAU-style {describe(cau['timeline'])}")
    print(table(["nodes", "groups", "bound (sim s)", "bound+valid.", "clusterlib (sim s)",
                 "cl / bound", "cl / (bound+valid.)", "cl pipes/node", "CAU-style (sim s)",
                 "CAU / bound", "CAU pipes/node", "cl / CAU", "calls-free cl / CAU"], rows))
    print("\n".join(reads))
    name = "upgrade-scaling-quick" if args.quick else "upgrade-scaling"
    print(f"wrote {write(name, {'speed': speed, 'results': results}, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
