"""A simulated cluster behind the loopback WinRM endpoint in its own process, for the benchmarks.

The parent (``RemoteSim``) starts ``python benchmarks/_endpoint.py --nodes N --groups G ...``; the
child builds ``SimCluster.build(...)``, serves it, and writes one JSON line: how to connect and
the simulator's parameters (for the lower bound). Each ``report`` line the parent sends is
answered with one JSON line: the simulator's state (releases, placement, moves by reason, the
event log's size, the process's peak RSS); a ``timeline`` line, with its clock and physical
events (``benchmarks/_timeline.py``). End of input ends the child. A separate process keeps
the endpoint's CPU and memory apart from the client's, as a real cluster's would be.

``BENCH_ENDPOINT_PROFILE=path.prof`` in the environment profiles the child with cProfile, every
thread included (the listener answers each request on a thread of its own), and writes the merged
statistics to that path when the child ends: where the endpoint's CPU goes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_rss_mb() -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import peak_rss_mb

    return peak_rss_mb()


def _params(sim: Any) -> dict[str, Any]:
    node = next(iter(sim.nodes.values()))
    owned: dict[str, dict[str, int]] = {n: {"ordinary": 0, "core": 0} for n in sim.nodes}
    for g in sim.groups.values():
        owned[g.owner]["core" if g.is_core else "ordinary"] += 1
    return {"nodes": list(sim.nodes), "owned": owned,
            "move_time": max(g.move_time for g in sim.groups.values()),
            "move_time_min": min(g.move_time for g in sim.groups.values()),
            "drain_parallelism": sim.drain_parallelism, "install_window": sim.install_window,
            "restarts": sim.restarts, "reboot_time": node.reboot_time,
            "join_time": node.join_time, "speed": sim.speed,
            "upgrade_to": sim.upgrade_to.key if sim.upgrade_to else None}


def _report(sim: Any) -> dict[str, Any]:
    moves = Counter(e.detail.get("reason", "?") for e in sim.events if e.kind == "move-start")
    # Drain moves per pause, in order (the cluster's own drains, batch by batch).
    drains: list[int] = []
    for e in sim.events:
        if e.kind == "paused":
            drains.append(0)
        elif e.kind == "move-start" and e.detail.get("reason") == "drain" and drains:
            drains[-1] += 1
    snap = sim.snapshot()
    return {"releases": {n.name: n.release.key for n in sim.nodes.values()},
            "placement": snap.placement(), "moves": dict(moves), "drain_moves": drains,
            "events": len(sim.events), "events_dropped": sim.events.dropped,
            "sim_now": sim.now(), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "cpu_s": time.process_time()}


def _timeline(sim: Any) -> dict[str, Any]:
    """The simulator's clock and its physical events, for benchmarks/_timeline.py."""
    node = next(iter(sim.nodes.values()))
    kinds = ("move-start", "upgrade-start", "joined")
    # The simulated clock is linear in time.monotonic: one reading of both places it.
    mono, now = time.monotonic(), sim.now()
    return {"speed": sim.speed, "t0": mono, "offset": now,
            "move_time": max(g.move_time for g in sim.groups.values()),
            "action_s": sim.install_window + sim.restarts * node.reboot_time + node.join_time,
            "events": [(e.t, e.kind, e.subject, e.detail.get("reason", ""))
                       for e in sim.events if e.kind in kinds],
            "events_dropped": sim.events.dropped}


def _profile_threads(path: str) -> Any:
    """Every thread started from now on runs under a cProfile of its own; the returned
    function merges them (and the main thread's) into ``path``."""
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    main.enable()

    def dump() -> None:
        main.disable()
        stats = pstats.Stats(main)
        with lock:
            for prof in profiles:
                try:
                    stats.add(prof)
                except TypeError:  # a thread that never ran a profiled call
                    pass
        stats.dump_stats(path)

    return dump


def child(argv: list[str]) -> int:
    import os

    dump = _profile_threads(os.environ["BENCH_ENDPOINT_PROFILE"]) \
        if os.environ.get("BENCH_ENDPOINT_PROFILE") else None
    try:
        return _child(argv)
    finally:
        if dump is not None:
            dump()


def _child(argv: list[str]) -> int:
    import argparse

    from clusterlib.sim import SimCluster
    from clusterlib.sim.endpoint import serve

    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--groups", type=int, required=True)
    p.add_argument("--speed", type=float, default=1e6)
    p.add_argument("--os", default="2016")
    p.add_argument("--upgrade-to", default=None)
    p.add_argument("--envelope", type=int, default=512_000)
    args = p.parse_args(argv)
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    sim = SimCluster.build(args.nodes, args.groups, os=args.os, upgrade_to=args.upgrade_to,
                           speed=args.speed)
    build_s = time.perf_counter() - started
    with serve(sim, max_envelope_size=args.envelope) as ep:
        hello = {"connect": ep.connect_options(), "params": _params(sim),
                 "build_s": round(build_s, 4), "rss_before_build_mb": round(rss_before, 1),
                 "rss_after_build_mb": round(_peak_rss_mb(), 1)}
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            if line.strip() == "report":
                print(json.dumps({**_report(sim), "requests": ep.requests}), flush=True)
            elif line.strip() == "timeline":
                print(json.dumps(_timeline(sim)), flush=True)
    return 0


class RemoteSim:
    """The parent's handle on a child endpoint: ``connect`` (WinRMTransport keyword arguments,
    password included: it stays in memory), ``params``, ``report()``."""

    def __init__(self, nodes: int, groups: int, *, speed: float = 1e6, os: str = "2016",
                 upgrade_to: str | None = None, envelope: int = 512_000) -> None:
        argv = [sys.executable, __file__, "--nodes", str(nodes), "--groups", str(groups),
                "--speed", repr(speed), "--os", os, "--envelope", str(envelope)]
        if upgrade_to:
            argv += ["--upgrade-to", upgrade_to]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(30)
            raise RuntimeError(f"the endpoint process ended (exit {self.proc.returncode})")
        hello = json.loads(line)
        self.connect: dict[str, Any] = hello.pop("connect")
        self.params: dict[str, Any] = hello.pop("params")
        self.startup: dict[str, Any] = hello

    def report(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())  # type: ignore[no-any-return]

    def timeline(self) -> dict[str, Any]:
        """The simulator's clock and physical events (``_timeline.breakdown`` reads them)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("timeline\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())  # type: ignore[no-any-return]

    def transport(self, **extra: Any) -> Any:
        from clusterlib.transports.winrm import WinRMTransport

        opts = dict(self.connect)
        opts.pop("time_scale")
        return WinRMTransport(opts.pop("target"), **opts, **extra)

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> RemoteSim:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(child(sys.argv[1:]))
