"""Soak: snapshots and moves against the loopback endpoint keep client and server memory flat.

The endpoint runs in its own process (so its memory is its own), the client in this one. After a
warm-up that fills every bounded buffer (the simulator's event log, pypsrp's pools, caches), the
resident memory of both is sampled; it must not grow by more than 5 % by the end.

The default run soaks for ``CLUSTERLIB_SOAK_SECONDS`` (20 s) with a small event log so that it is
full after the warm-up; ``pytest -m chaos tests/chaos/test_soak.py`` soaks for 30 minutes with the
simulator's default event-log size. Figures are printed (``-s``) for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_helpers import skip_unless_chaos

import clusterlib

CHILD = r"""
import json, sys
from clusterlib.sim import SimCluster
sim = SimCluster.classic(os="2016", speed=2000, event_log_size=int(sys.argv[1]))
with sim.serve() as ep:
    print(json.dumps(ep.connect_options()), flush=True)
    sys.stdin.read()   # serve until the test closes our stdin
"""


def _rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc")


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    log_size = getattr(request, "param", 2000)
    if log_size != 2000:
        # The 30-minute soak: opt-in, decided before its endpoint process starts.
        skip_unless_chaos(request)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(log_size)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the endpoint process printed nothing"
        yield proc, json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def soak(proc: subprocess.Popen[str], options: dict[str, object], seconds: float) -> dict[str, float]:
    cluster = clusterlib.connect(**options)  # type: ignore[arg-type]
    group = cluster.group("SQL Group 1")
    nodes = ("NODE2", "NODE1")
    ops = 0

    def work(until: float) -> None:
        nonlocal ops
        while time.monotonic() < until:
            cluster.snapshot()
            group.move(nodes[ops % 2])
            ops += 1

    try:
        warm = max(5.0, seconds * 0.25)
        work(time.monotonic() + warm)
        server0, client0, ops0 = _rss_kib(proc.pid), _rss_kib(), ops
        work(time.monotonic() + seconds - warm)
        server1, client1 = _rss_kib(proc.pid), _rss_kib()
    finally:
        cluster.close()
    figures = {"seconds": seconds, "ops_measured": ops - ops0, "server_kib_start": server0,
               "server_kib_end": server1, "client_kib_start": client0, "client_kib_end": client1,
               "server_growth": (server1 - server0) / server0,
               "client_growth": (client1 - client0) / client0}
    print("soak:", json.dumps(figures))
    return figures


def _check(figures: dict[str, float]) -> None:
    assert figures["ops_measured"] > 10, figures
    assert figures["server_growth"] < 0.05, f"the endpoint grew: {figures}"
    assert figures["client_growth"] < 0.05, f"the client grew: {figures}"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc")
def test_soak_bounded(endpoint: tuple[subprocess.Popen[str], dict[str, object]]) -> None:
    proc, options = endpoint
    _check(soak(proc, options, float(os.environ.get("CLUSTERLIB_SOAK_SECONDS", "20"))))


@pytest.mark.chaos
@pytest.mark.parametrize("endpoint", [50_000], indirect=True)  # the simulator's default log size
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc")
def test_soak_30_minutes(endpoint: tuple[subprocess.Popen[str], dict[str, object]]) -> None:
    proc, options = endpoint
    _check(soak(proc, options, float(os.environ.get("CLUSTERLIB_SOAK_SECONDS", "1800"))))
