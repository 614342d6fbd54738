"""Rolling upgrade over the real wire, by cluster size and simulator speed: clusterlib (with its
defaults, and with drain ahead) against the physical lower bound and against a
Cluster-Aware-Updating-style script, measured in the same run.

For each configuration (by default 4 and 16 nodes at speed 25, and 4, 16 and 64 nodes at speed
200; 10 groups per node; PowerShell, 2012 R2 -> 2016), three fresh simulated clusters, each
behind the loopback WinRM endpoint in its own process (``benchmarks/_endpoint.py``), at the same
speed factor, one way after the other:

- clusterlib: ``RollingUpgrade`` with its defaults (drain, installer on the node's shell, reboot,
  verify, resume, two validation moves per node, redistribution), through ``WinRMTransport``;
- clusterlib drain-ahead: the same with ``UpgradeOptions(drain_ahead=True)``: while a node
  installs and restarts, the next node's groups move away, so its own drain finds (almost)
  nothing left to move (skipped, and said so, when the library has no such option);
- CAU-style: what a competent admin writes (and what Cluster-Aware Updating does per node),
  straight over pypsrp (``RunspacePool``/``PowerShell`` and a WinRS shell on the node, no
  clusterlib): per node in ID order, ``Suspend-ClusterNode -Drain -Wait``; the installer on the
  node's shell; poll ``(Get-ClusterNode n).State`` every 5 simulated seconds until the node has
  been down and is back; ``Resume-ClusterNode -Failback Immediate``; after the last node, it
  waits (polling that node's groups every simulated second) until that failback has finished. Its clock starts
  once its runspace pool is open, as clusterlib's starts after ``connect()``. It does not check
  quorum, versions, the drain's outcome or the groups' health, and does not move the core group
  (it fails over when the node restarts).

The speed weighs the per-call cost: a loopback pipeline takes 18-25 ms of wall time here, which
is 0.45-0.6 simulated seconds at speed 25, about what a WinRM pipeline running a FailoverClusters
cmdlet costs on a real cluster (a few hundred ms), and 3.6-5 simulated seconds at speed 200, ten
times that. Speed 25 is the realistic weight; speed 200 shows where the calls' cost dominates, and
is the speed at which 64 nodes fit the full run (64 nodes at speed 25 take about 9 minutes per
way: only when asked by name, ``--sizes 64 --speed 25``).

Under speed 100 the three ways run side by side, each in its own client process with its own
endpoint process (``--one-at-a-time`` turns it off): there the client mostly waits for the
simulated cluster, so the three share the 2 CPUs with little contention, and 4 and 16 nodes at
speed 25 take 3 minutes instead of 8. Measured against one at a time on the same machine (4
nodes at speed 25, load 10): the same calls-free figures, and each way's time within the
run-to-run noise (clusterlib / CAU-style 1.090 and 1.109 side by side, 1.087 one at a time).

The physical lower bound (``lower_bound``), from the simulator's own parameters, never from the
moves a procedure chose. One node is out of service at a time, so every node's installer window,
``restarts`` reboots of ``reboot_time`` and ``join_time`` follow one another. A node's groups
must leave before it goes down, but only the first node's evacuation has nothing to overlap
with: the next node stays Up (and in service) while its groups move away during the current
node's install (drain ahead), so its drain need not be on the critical path. The least the first
evacuation can take is one ``move_time`` (the simulator limits only ``Suspend-ClusterNode
-Drain``'s own moves to ``drain_parallelism`` at a time; ``Move-ClusterGroup`` moves run side by
side), none when some node owns no group to move. After the last node is back, its groups go
home at full parallelism: one ``move_time``. Validation moves (two per node, one after another)
are the seed's requirement, not waste, and are shown apart: ``bound + validation`` adds each
clusterlib way's own.

Reported per configuration: simulated seconds (wall x speed) of each way, each way over the
bound, each clusterlib way over (bound + its validation moves) and over the CAU-style script,
pipelines (and command lines) per node, each way's *calls-free* time, clusterlib's calls counted
by first cmdlet, and each way's timeline (``benchmarks/_timeline.py``). *Calls-free* is each
way's physical work plus the sleeps between polls that left the cluster idle (``calls_free``): the
run as if calls cost nothing, an estimate of the ratio on a real cluster; the measured ratios
carry the per-call cost at that speed. A way measured under the bound, measured or calls-free,
makes the run fail: the bound would be wrong.

    python benchmarks/bench_upgrade_scaling.py                       # the full set (about 8 min)
    python benchmarks/bench_upgrade_scaling.py --quick               # 4 nodes at speed 400 (CI)
    python benchmarks/bench_upgrade_scaling.py --sizes 16 --speed 25 200
    python benchmarks/bench_upgrade_scaling.py --sizes 64 --speed 25  # about 9 min (27 one at a time)
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import attrs
from _common import PipelineCounter, parser, table, write
from _endpoint import RemoteSim
from _timeline import CallRecorder, Span, breakdown, describe, recording_sleeps

import clusterlib
from clusterlib import retry
from clusterlib.sim.releases import release
from clusterlib.upgrade import RemoteCommand, RollingUpgrade, UpgradeOptions

SETUP = r"D:\setup.exe /unattend"
GROUPS_PER_NODE = 10
FROM, TO = "2012R2", "2016"
POLL = 5.0  # the CAU-style script's polling interval (simulated seconds)
SETTLE_POLL = 1.0  # its wait for the last failback to finish (simulated seconds)
SPEEDS = (25.0, 200.0)
SIZES = (4, 16, 64)
# Below this speed a size above SLOW_MAX_NODES runs only when both are named: 64 nodes at speed
# 25 take about 9 minutes per way, and the full run_all.py must stay under 15 minutes.
SLOW_SPEED, SLOW_MAX_NODES = 100.0, 16
# Below this speed the ways run side by side (``--one-at-a-time`` turns it off): there the client
# mostly waits for the simulated cluster (a call of 20 ms against a node's 7 s of wall time), so
# three ways share 2 CPUs with little contention, and the full run fits in 15 minutes.
SIDE_BY_SIDE_UNDER = 100.0
QUICK = [(400.0, 4)]  # 4 nodes: drain ahead needs 2 nodes to carry the groups besides 2 out
#: The ways, in the order they run and are printed: JSON key -> column name.
WAYS = {"clusterlib": "clusterlib", "drain_ahead": "clusterlib drain-ahead", "cau": "CAU-style"}


def lower_bound(params: dict[str, Any]) -> dict[str, float]:
    """The physical lower bound in simulated seconds, by part (module docstring): the first
    node's evacuation, every node's install, restarts and join one after another, and the last
    node's groups going home.

    Why not every node's drain, as this bound charged before drain ahead: a node's groups can
    leave while the previous node installs (the node stays Up, so one node out of service at a
    time still holds), which takes the drains of every node but the first off the critical path.
    The first evacuation and the final redistribution each take one ``move_time`` at best (every
    group at once). That holds only when every move takes the same time, as in the benchmarks'
    clusters; with mixed durations the slowest group would set each part, so it is refused."""
    if params.get("move_time_min", params["move_time"]) != params["move_time"]:
        raise ValueError("lower_bound() needs every group to take the same move time")
    move = params["move_time"]
    first = min(move if o["ordinary"] else 0.0 for o in params["owned"].values())
    action = len(params["nodes"]) * (params["install_window"]
                                     + params["restarts"] * params["reboot_time"]
                                     + params["join_time"])
    return {"first evacuation": first, "install+reboot+join": action, "redistribution": move}


def drain_ahead_missing() -> str | None:
    """Why the drain-ahead way cannot run, or None when the library has the option."""
    if "drain_ahead" in attrs.fields_dict(UpgradeOptions):
        return None
    return "UpgradeOptions has no drain_ahead option in this tree"


def run_clusterlib(nodes: int, speed: float, **policies: Any) -> dict[str, Any]:
    """One run of ``RollingUpgrade`` with ``policies`` (UpgradeOptions fields) over the wire."""
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
                                     journal=Path(tmp) / "journal.json", target=release(TO),
                                     **policies)
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
        return {**_result(wall, speed, counts, nodes, where), "params": rs.params,
                "options": policies, "moves_by_purpose": dict(purposes),
                "sim_moves_by_reason": after["moves"],
                "endpoint_requests": after["requests"] - before["requests"],
                "endpoint_peak_rss_mb": after["peak_rss_mb"]}


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
        return {**_result(wall, speed, counts, nodes, where),
                "sim_moves_by_reason": after["moves"], "groups_not_home": sorted(moved),
                "endpoint_requests": after["requests"] - before["requests"]}


def calls_free(way: dict[str, Any]) -> float:
    """An estimate of the run if every call and the client's own work cost no time, as on a
    real cluster where a call takes milliseconds against a node's minutes: the physical work
    plus the sleeps between polls that left the cluster idle (simulated seconds)."""
    t = way["timeline"]
    return float(t["work_sim_s"] + t["idle_by_activity"].get("(sleep)", 0.0))


def _result(wall: float, speed: float, counts: Counter[str], nodes: int,
            timeline: dict[str, Any]) -> dict[str, Any]:
    calls = {k: v for k, v in counts.most_common() if k not in ("pipeline", "cmd")}
    way = {"wall_s": round(wall, 3), "sim_s": round(wall * speed, 1),
           "pipelines": counts["pipeline"], "cmd_lines": counts["cmd"],
           "pipelines_per_node": round(counts["pipeline"] / nodes, 1),
           "calls_by_first_cmdlet": calls, "timeline": timeline}
    return {**way, "calls_free_sim_s": round(calls_free(way), 1)}


def configurations(sizes: list[int] | None, speeds: list[float] | None,
                   quick: bool) -> list[tuple[float, int]]:
    """(speed, nodes) pairs in the order they run: every size at every speed, except that a
    size above SLOW_MAX_NODES at a speed under SLOW_SPEED runs only when both are named."""
    if quick and not (sizes or speeds):
        return list(QUICK)
    pairs = [(float(s), n) for s in (speeds or SPEEDS) for n in (sizes or SIZES)]
    if sizes and speeds:
        return pairs
    return [(s, n) for s, n in pairs if s >= SLOW_SPEED or n <= SLOW_MAX_NODES]


def _run_way(key: str, nodes: int, speed: float) -> dict[str, Any]:
    """One way (a key of WAYS) on a fresh cluster, with real waits: the script's polling and
    every bounded wait sleep as they would."""
    with retry.testing(wait=True):
        if key == "cau":
            return run_cau(nodes, speed)
        return run_clusterlib(nodes, speed, **({"drain_ahead": True} if key == "drain_ahead"
                                               else {}))


def run_ways(nodes: int, speed: float, keys: list[str], side_by_side: bool
             ) -> dict[str, dict[str, Any]]:
    """Each way in ``keys``: one after another, or side by side, each in its own client process
    with its own endpoint process (see SIDE_BY_SIDE_UNDER)."""
    if not side_by_side:
        return {k: _run_way(k, nodes, speed) for k in keys}
    with ProcessPoolExecutor(len(keys), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {k: pool.submit(_run_way, k, nodes, speed) for k in keys}
        return {k: f.result() for k, f in futures.items()}


def measure(nodes: int, speed: float, side_by_side: bool = False) -> dict[str, Any]:
    """The three ways on one configuration, and their figures against the bound and each other."""
    missing = drain_ahead_missing()
    keys = [k for k in WAYS if not (missing and k == "drain_ahead")]
    side_by_side = side_by_side and len(keys) > 1
    ran = run_ways(nodes, speed, keys, side_by_side)
    ways: dict[str, dict[str, Any] | None] = {k: ran.get(k) for k in WAYS}
    params = ways["clusterlib"]["params"]  # type: ignore[index]
    parts = lower_bound(params)
    bound = sum(parts.values())
    row: dict[str, Any] = {"nodes": nodes, "groups": nodes * GROUPS_PER_NODE, "speed": speed,
                           "bound_sim_s": bound, "bound_parts": parts,
                           "drain_ahead_skipped": missing, "side_by_side": side_by_side}
    cau = ways["cau"]
    assert cau is not None
    for key, way in ways.items():
        row[key] = way
        if way is None:
            continue
        way.pop("params", None)
        row[f"{key}_over_bound"] = round(way["sim_s"] / bound, 3)
        row[f"{key}_calls_free_over_bound"] = round(way["calls_free_sim_s"] / bound, 3)
        if key == "cau":
            continue
        validation = way["moves_by_purpose"].get("validation", 0) * params["move_time"]
        way["validation_sim_s"] = validation
        row[f"{key}_over_bound_plus_validation"] = round(way["sim_s"] / (bound + validation), 3)
        row[f"{key}_over_cau"] = round(way["sim_s"] / cau["sim_s"], 3)
        row[f"{key}_calls_free_over_cau"] = round(way["calls_free_sim_s"]
                                                  / cau["calls_free_sim_s"], 3)
    # The names the figures went by before drain ahead, kept for readers of older results.
    row["validation_sim_s"] = ways["clusterlib"]["validation_sim_s"]  # type: ignore[index]
    row["calls_free_over_cau"] = row["clusterlib_calls_free_over_cau"]
    return row


def under_bound(row: dict[str, Any]) -> list[str]:
    """Every way whose measured or calls-free time is under the bound (1 s of rounding allowed):
    none, or the bound is not a lower bound."""
    bad = []
    for key in WAYS:
        way = row[key]
        for what in ("sim_s", "calls_free_sim_s"):
            if way is not None and way[what] < row["bound_sim_s"] - 1.0:
                bad.append(f"{row['nodes']} nodes at speed {row['speed']:g}: {WAYS[key]}"
                           f" {what} {way[what]} < bound {row['bound_sim_s']}")
    return bad


def _cell(row: dict[str, Any], key: str, fmt: str = "{:.3f}") -> str:
    value = row.get(key)
    return "-" if value is None else fmt.format(value)


def _calls_cells(way: dict[str, Any] | None) -> list[str]:
    if way is None:
        return ["-", "-"]
    return [f"{way['pipelines_per_node']:.0f}", f"{way['calls_free_sim_s']:.0f}"]


def print_tables(results: list[dict[str, Any]]) -> None:
    times, calls, reads = [], [], []
    for r in results:
        cl, da, cau = r["clusterlib"], r["drain_ahead"], r["cau"]
        head = [f"{r['speed']:g}", r["nodes"], r["groups"], f"{r['bound_sim_s']:.0f}"]
        times.append([
            *head,
            f"{r['bound_sim_s'] + cl['validation_sim_s']:.0f}", f"{cl['sim_s']:.0f}",
            _cell(r, "clusterlib_over_bound"), "-" if da is None else f"{da['sim_s']:.0f}",
            _cell(r, "drain_ahead_over_bound"), f"{cau['sim_s']:.0f}",
            _cell(r, "cau_over_bound"), _cell(r, "clusterlib_over_cau"),
            _cell(r, "drain_ahead_over_cau"), _cell(r, "clusterlib_calls_free_over_cau"),
            _cell(r, "drain_ahead_calls_free_over_cau")])
        calls.append([*head, *_calls_cells(cl), *_calls_cells(da), *_calls_cells(cau)])
        where = f"{r['nodes']} nodes at speed {r['speed']:g}"
        top = list(cl["calls_by_first_cmdlet"].items())[:6]
        reads.append(f"{where}, clusterlib calls per node by first cmdlet: "
                     + ", ".join(f"{k} {v / r['nodes']:.1f}" for k, v in top))
        for key, way in (("clusterlib", cl), ("drain_ahead", da), ("cau", cau)):
            if way is None:
                reads.append(f"{where}, {WAYS[key]} skipped: {r['drain_ahead_skipped']}")
            else:
                reads.append(f"{where}, {WAYS[key]} {describe(way['timeline'])}")
    lead = ["speed", "nodes", "groups", "bound (sim s)"]
    print(table([*lead, "bound+valid.", "clusterlib (sim s)", "cl / bound",
                 "clusterlib drain-ahead (sim s)", "da / bound", "CAU-style (sim s)",
                 "CAU / bound", "cl / CAU", "da / CAU", "calls-free cl / CAU",
                 "calls-free da / CAU"], times))
    print()
    print(table([*lead, "cl pipes/node", "cl calls-free (sim s)", "da pipes/node",
                 "da calls-free (sim s)", "CAU pipes/node", "CAU calls-free (sim s)"], calls))
    print("(cl: clusterlib; da: clusterlib drain-ahead; calls-free: physical work + idle poll"
          " sleeps, as if every call cost nothing)")
    print("\n".join(reads))


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--speed", type=float, nargs="+", default=None,
                   help="simulator speed factors (default 25 200); 25 weighs a call about as a"
                        " real cluster does. Every size runs at every speed, except 64 nodes at"
                        " a speed under 100 (about 9 min, the three ways side by side), which runs"
                        " only when both are named: --sizes 64 --speed 25")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="cluster sizes in nodes (default 4 16 64; 10 groups per node)")
    p.add_argument("--one-at-a-time", action="store_true",
                   help="run the three ways one after another at every speed (by default they"
                        f" run side by side under speed {SIDE_BY_SIDE_UNDER:g}, each in its own"
                        " processes: there the client mostly waits)")
    args = p.parse_args(argv)
    if any(s <= 0 for s in args.speed or ()) or any(n < 2 for n in args.sizes or ()):
        p.error("--speed takes positive factors and --sizes at least 2 nodes")
    plan = configurations(args.sizes, args.speed, args.quick)
    results = [measure(nodes, speed, not args.one_at_a_time and speed < SIDE_BY_SIDE_UNDER)
               for speed, nodes in plan]
    print_tables(results)
    name = "upgrade-scaling-quick" if args.quick else "upgrade-scaling"
    speeds = sorted({s for s, _ in plan})
    print(f"wrote {write(name, {'speeds': speeds, 'results': results}, args.json)}")
    bad = [line for r in results for line in under_bound(r)]
    if bad:
        print("under the lower bound (the bound is wrong):\n" + "\n".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
