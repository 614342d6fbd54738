"""Pause, drain, move and resume on the embedded two-node simulator, printing what happened."""

from __future__ import annotations

import clusterlib
from clusterlib.sim import SimCluster


def main() -> int:
    # The classic two-node layout, on an OS with the FailoverClusters module. speed: simulated
    # seconds per wall second, so the demo's minutes of moves take a moment.
    sim = SimCluster.classic(os="2012R2", speed=2000)
    with clusterlib.connect(sim) as cluster:
        cluster.subscribe(lambda event, d: event == "move" and print(
            f"  moved {d['group']!r}: {d['source']} -> {d['target']} ({d['state']},"
            f" {d['attempts']} attempt(s))"))
        snap = cluster.snapshot()
        print(f"cluster {snap.name} via {cluster.dialect}: {snap.health()}")
        for g in snap.groups:
            print(f"  {g.name:<14} {g.state.name:<8} on {g.owner}")

        print("pause NODE1 and drain it:")
        before = snap.placement()
        snap = cluster.node("NODE1").pause(drain=True)
        for group, owner in snap.placement().items():
            if owner != before[group] and group != "Cluster Group":
                print(f"  drained {group!r}: {before[group]} -> {owner}")
        owned = len(snap.groups_on("NODE1"))
        print(f"  NODE1 is {snap.node('NODE1').state.name}; it owns {owned} groups")

        print("move 'File Group 3' to NODE1 while it is paused (refused, nothing sent):")
        try:
            cluster.group("File Group 3").move("NODE1")
        except clusterlib.PreconditionFailed as exc:
            print(f"  refused: {exc}")

        print("resume NODE1 with failback:")
        snap = cluster.node("NODE1").resume(failback="Immediate")
        print(f"  NODE1 is {snap.node('NODE1').state.name}")

        print("move 'SQL Group 2' to NODE2 and back:")
        cluster.group("SQL Group 2").move("NODE2")
        snap = cluster.group("SQL Group 2").move("NODE1")

        print("final placement:")
        for group, owner in snap.placement().items():
            print(f"  {group:<14} on {owner}")
        print(f"health: {snap.health()}")
        return 0 if snap.health().ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
