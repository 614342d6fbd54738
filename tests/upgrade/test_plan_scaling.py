"""The plan and preflight stay linear in groups: 4x the groups may cost at most 5x the time."""

from __future__ import annotations

import gc

from perf_timing import cpu_clock

from clusterlib.dialects.base import Capabilities
from clusterlib.dialects.powershell_dialect import PowerShellDialect
from clusterlib.model import ClusterSnapshot, GroupInfo, GroupState, NodeInfo, NodeState
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.plan import build_steps
from clusterlib.upgrade.preflight import resolve_order, run_checks

NODES = 8


def snapshot(groups: int) -> ClusterSnapshot:
    """Records built directly (no simulator): a core group, groups spread over the nodes, every
    50th in an anti-affinity class, every 7th with preferred owners."""
    nodes = tuple(NodeInfo(f"NODE{i + 1}", NodeState.Up, id=str(i + 1)) for i in range(NODES))
    names = [n.name for n in nodes]
    items = [GroupInfo("Cluster Group", GroupState.Online, "NODE1", is_core=True)]
    items += [GroupInfo(f"Group {j}", GroupState.Online, names[j % NODES],
                        priority=(1000, 2000, 3000)[j % 3],
                        anti_affinity=("sql",) if j % 50 == 0 else (),
                        preferred_owners=(names[(j + 1) % NODES],) if j % 7 == 0 else ())
              for j in range(groups - 1)]
    return ClusterSnapshot("C", nodes, tuple(items), quorum_type="NodeMajority")


def plan_once(snap: ClusterSnapshot) -> float:
    """Resolve the order, run every preflight check, build every step, on a fresh record (so
    nothing is cached from an earlier round): its CPU seconds (perf_timing.cpu_clock), so time
    the scheduler gave to other processes on a loaded machine is not counted."""
    snap = snap.evolve()
    opts = UpgradeOptions(target="9.3")
    dialect = PowerShellDialect(None, Capabilities("powershell", True, True, True))  # type: ignore[arg-type]
    gc.collect()
    start = cpu_clock()
    order = resolve_order(snap, opts)
    checks = run_checks(snap, opts, order=order, lock=None, lock_error=None, run_id=None,
                        action_problem=None, functional_level_supported=True)
    steps = build_steps(snap, opts, order, dialect, None)
    seconds = cpu_clock() - start
    assert checks and steps  # the work was done, not skipped
    return seconds


def growth(small: ClusterSnapshot, large: ClusterSnapshot) -> tuple[float, float]:
    """Best of 3 each, interleaved so a burst of load on this shared machine hits both sizes."""
    plan_once(small)  # warm-up: imports, first-call costs
    t_small = t_large = float("inf")
    for _ in range(3):
        t_small = min(t_small, plan_once(small))
        t_large = min(t_large, plan_once(large))
    return t_small, t_large


def test_plan_and_preflight_grow_linearly_with_groups() -> None:
    small, large = snapshot(2000), snapshot(8000)
    # Collection of the many short-lived records would add noise that has nothing to do with the
    # algorithm; measure the algorithm.
    gc.disable()
    try:
        t_small, t_large = growth(small, large)
        if t_large / t_small > 5:
            # Once more before failing: quadratic growth (16x here) fails both times, a load
            # spike on a shared machine does not.
            t_small, t_large = growth(small, large)
    finally:
        gc.enable()
    assert t_large / t_small <= 5, (f"8,000 groups took {t_large:.3f}s, 2,000 took"
                                    f" {t_small:.3f}s: {t_large / t_small:.1f}x, not linear")


def test_the_plan_reads_every_group_once_per_node_not_per_group() -> None:
    """Structural twin of the timing test: the name index is built once per snapshot."""
    snap = snapshot(500)
    assert snap.group("Group 7") is snap.group("group 7")
    assert snap._lookup() is snap._lookup()
