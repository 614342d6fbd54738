"""Groups go home while the next node installs (moves.homecoming): off the critical path, same placement."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from upgrade_helpers import assert_safe, connect, four_node, installer, online_at_start

from clusterlib.upgrade import RollingUpgrade


def _run(sim: object, tmp_path: Path) -> tuple[object, dict[str, str]]:
    cluster = connect(sim)  # type: ignore[arg-type]
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                            target=sim.upgrade_to).run()  # type: ignore[attr-defined]
    return report, sim.snapshot().placement()  # type: ignore[attr-defined]


def test_groups_of_finished_nodes_go_home_during_the_next_install(tmp_path: Path) -> None:
    sim = four_node()
    before = sim.snapshot().placement()
    online = online_at_start(sim)
    report, after = _run(sim, tmp_path)
    assert report.outcome == "completed"  # type: ignore[attr-defined]
    assert after == before  # the final placement is unchanged
    assert_safe(sim, online)
    moves = report.moves  # type: ignore[attr-defined]
    by_phase = Counter((m["purpose"], m["phase"]) for m in moves)
    early = [m for m in moves if m["purpose"] == "redistribute" and m["phase"] == "reboot"]
    late = [m for m in moves if m["phase"] == "redistribute"]
    assert early, by_phase
    order = [s["node"] for s in report.steps if s["kind"] == "drain"]  # type: ignore[attr-defined]
    for m in early:
        # Only groups whose home was finished, while another node installed; never onto it.
        assert m["target"] != m["node"]
        assert order.index(m["target"]) < order.index(m["node"]), m
    # What the end still moves: the last node's groups (and the core group), not everyone's.
    assert all(m["target"] == order[-1] or m["group"] == "Cluster Group" for m in late), late
    assert len(early) > len(late)
