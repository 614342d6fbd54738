"""Shared pieces of the chaos suites: a cluster over the loopback endpoint whose wire faults can be
switched, and the event-log audit that proves no action was re-sent blindly."""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import pytest

import clusterlib
from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint
from clusterlib.transports.winrm import WinRMTransport
from clusterlib.upgrade import CallableAction

PASSWORD = "S3cret-Passw0rd!x"  # the known test password the secrets suite hunts for

# The cmdlets that change a cluster: none of them may reach the simulator when a request is refused.
ACTION_CMDLETS = frozenset({"Move-ClusterGroup", "Suspend-ClusterNode", "Resume-ClusterNode",
                            "Start-ClusterGroup", "Stop-ClusterGroup", "Update-ClusterFunctionalLevel",
                            "Set-ClusterParameter", "Stop-ClusterNode", "Start-ClusterNode"})
# The same verbs on a cluster.exe line (read-only lines carry none of them).
ACTION_SWITCHES = ("/moveto", "/pause", "/resume", "/online", "/offline", "/stop", "/start")


def skip_unless_chaos(request: pytest.FixtureRequest) -> None:
    """The full chaos set is opt-in: ``pytest -m chaos`` (or CLUSTERLIB_CHAOS=1). A plain
    ``pytest`` runs the bounded versions, which share every assertion with the full ones."""
    if "chaos" not in (request.config.getoption("markexpr") or "") and \
            not os.environ.get("CLUSTERLIB_CHAOS"):
        pytest.skip("the full chaos set runs with -m chaos (or CLUSTERLIB_CHAOS=1)")


@contextlib.contextmanager
def wire_cluster(sim: SimCluster, **serve: Any) -> Iterator[tuple[clusterlib.Cluster, Endpoint]]:
    """A Cluster on ``sim`` through real pypsrp over the loopback endpoint, and the endpoint (to
    switch faults on after connecting: the chaos is in the run, not in the handshake)."""
    serve.setdefault("receive_timeout", 0.05)
    with sim.serve(**serve) as ep:
        options = ep.connect_options()
        time_scale = options.pop("time_scale")
        host = options.pop("target")
        transport = WinRMTransport(host, time_scale=time_scale, **options)
        cluster = clusterlib.connect(transport)
        try:
            yield cluster, ep
        finally:
            ep.set_faults(None)
            cluster.close()


def sim_installer(sim: SimCluster) -> CallableAction:
    """The upgrade action for wire tests. A RemoteCommand would need a per-node shell on the
    endpoint; the sim's own installer (reboot into ``upgrade_to``) keeps these tests about the
    cluster-level wire traffic, which is where a blind re-send could move a group twice."""
    return CallableAction(lambda node, _cluster: sim.upgrade_node(node), name="sim.upgrade_node")


@attrs.frozen
class MoveAudit:
    calls: collections.Counter[tuple[str, str]]
    duplicates: tuple[str, ...]  # Move-ClusterGroup sent while the group was already there/going
    in_flight: tuple[str, ...]   # Move-ClusterGroup sent while a move of that group was running


def audit_moves(sim: SimCluster, initial: Mapping[str, str | None]) -> MoveAudit:
    """Replay the simulator's event log: ownership changes at every ``move-start`` (drains and
    failovers included); a Move-ClusterGroup call is flagged when the group was already moving,
    or already owned by (or on its way to) the requested node, i.e. a re-sent move.

    A call the cluster refused (group moving, Win32 5908) still shows up as ``in_flight``: the
    engine must wait for a move to finish instead of sending it again, so that is flagged too.
    """
    owner = {g: (o or "").lower() for g, o in initial.items()}
    moving: set[str] = set()
    calls: collections.Counter[tuple[str, str]] = collections.Counter()
    dups: list[str] = []
    flying: list[str] = []
    for e in sim.events:
        if e.kind == "move-start":
            owner[e.subject] = str(e.detail["target"]).lower()
            moving.add(e.subject)
        elif e.kind in ("moved", "online-failed"):
            moving.discard(e.subject)
        elif e.kind == "call" and e.subject == "Move-ClusterGroup":
            params = e.detail["params"]
            group, target = str(params["Name"]), str(params.get("Node") or "")
            calls[(group, target.lower())] += 1
            if group in moving:
                flying.append(f"t={e.t}: {group} -> {target} while a move of it was running")
            elif target and owner.get(group) == target.lower():
                dups.append(f"t={e.t}: {group} -> {target}, already there")
    return MoveAudit(calls, tuple(dups), tuple(flying))


def recorded_attempts(moves: Sequence[Mapping[str, Any]]) -> collections.Counter[tuple[str, str]]:
    """Move attempts per (group, target) as the report recorded them."""
    out: collections.Counter[tuple[str, str]] = collections.Counter()
    for m in moves:
        out[(str(m["group"]), str(m["target"]).lower())] += int(m.get("attempts") or 1)
    return out


def action_calls(sim: SimCluster) -> list[str]:
    """Every command received that changes the cluster (cmdlet calls, cluster.exe calls with an
    action switch, and the installer), as text for assertion messages."""
    found = []
    for e in sim.events:
        if e.kind == "upgrade-start":
            found.append(f"installer on {e.subject}")
        if e.kind != "call":
            continue
        if e.subject in ACTION_CMDLETS:
            found.append(f"{e.subject} {dict(e.detail.get('params') or {})}")
        elif e.subject == "cluster.exe":
            # By token, as cluster.exe parsed the line: a quoted name that merely contains
            # "/moveto" is one argument, not a switch.
            argv = [str(a) for a in e.detail.get("argv") or []]
            if any(a.lower().startswith(ACTION_SWITCHES) for a in argv):
                found.append(str(e.detail.get("line") or argv))
    return found
