"""Serves simulated clusters on loopback endpoints for the fleet tests, so they outlive a killed fleet run.

    python fleet_serve_child.py OUT.json SPEED LAYOUT[+FAULT] ...

FAULT: installer-fails (on the first node) or never-returns (the first node stays Down after its
reboot). The password is $FLEET_TEST_PASSWORD. OUT.json gets [{"port", "time_scale", "layout",
"target"}, ...]; the child serves until its standard input closes (or it is killed).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from clusterlib.sim import InstallerFails, NodeNeverReturns
from clusterlib.sim.endpoint import serve
from clusterlib_cli.options import Target, build_sim


def main() -> None:
    out, speed, specs = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    password = os.environ["FLEET_TEST_PASSWORD"]
    with contextlib.ExitStack() as stack:
        served = []
        for spec in specs:
            layout, _, fault = spec.partition("+")
            sim = build_sim(Target(sim=layout, speed=speed))
            first = sorted(sim.nodes)[0]
            if fault == "installer-fails":
                sim.inject(InstallerFails(node=first))
            elif fault == "never-returns":
                sim.inject(NodeNeverReturns(node=first))
            ep = stack.enter_context(serve(sim, password=password))
            served.append({"port": ep.port, "time_scale": ep.time_scale, "layout": layout,
                           "fault": fault, "target": str(sim.upgrade_to.highest)})
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(served), encoding="utf-8")
        tmp.replace(out)
        sys.stdin.read()  # until the test closes our stdin


if __name__ == "__main__":
    main()
