"""A rolling upgrade for automation (cron, a CI job, an orchestrator): resumable, with exit codes.

Runs the upgrade, or resumes it when its journal says it was stopped, and exits like the CLI:
0 completed, 1 refused or failed (the message says which), 3 could not connect, 4 stopped
safely (run the same command again once the cause is fixed: it resumes from the journal),
5 finished with problems (the report says "degraded" or "incomplete").
Without ``--host`` it rehearses on the embedded simulator and says so.

    python examples/automation.py --journal upgrade.json                # simulator rehearsal
    CLUSTERLIB_PASSWORD=... python examples/automation.py --host mgmt1.corp.example \\
        --user 'CORP\\admin' --installer 'D:\\setup.exe /unattend' --journal upgrade.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import clusterlib
from clusterlib.upgrade import (
    PreflightFailed,
    RollingUpgrade,
    UpgradeOptions,
    UpgradeStopped,
    default_action,
)


def _connect(args: argparse.Namespace) -> tuple[clusterlib.Cluster, bool]:
    if args.host:
        # The password comes from $CLUSTERLIB_PASSWORD (never a command-line argument).
        return clusterlib.connect(args.host, username=args.user, auth=args.auth), False
    from clusterlib.sim import SimCluster

    return clusterlib.connect(SimCluster.classic(os="2012R2", upgrade_to="2016",
                                                 speed=args.speed)), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="management host or node (default: the simulator)")
    parser.add_argument("--user")
    parser.add_argument("--auth", default="negotiate")
    parser.add_argument("--installer", default=r"D:\setup.exe /unattend")
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--speed", type=float, default=2000.0, help="simulator speed")
    args = parser.parse_args(argv)

    try:
        cluster, simulated = _connect(args)
    except clusterlib.ConnectionFailed as exc:
        print(f"could not connect: {exc}", file=sys.stderr)
        return 3
    with cluster:
        if simulated:
            print("SIMULATED: embedded simulator; no real cluster is touched")
        if simulated and args.journal.exists():
            # A fresh simulator is a new, unchanged cluster: the journal's run is not on it.
            print(f"{args.journal} exists, and a fresh simulator cannot resume it: remove it to"
                  " rehearse again, or resume against a `clusterlib sim serve` endpoint",
                  file=sys.stderr)
            return 1
        action = default_action(args.installer, cluster.snapshot())
        try:
            if args.journal.exists():
                # Resume only the run the journal records, with the same installer line (the
                # library refuses a different one, and a journal it cannot trust).
                upgrade = RollingUpgrade.from_journal(cluster, journal=args.journal,
                                                      action=action)
            else:
                upgrade = RollingUpgrade(cluster, action=action, journal=args.journal,
                                         options=UpgradeOptions(target=getattr(
                                             getattr(cluster.transport, "sim", None),
                                             "upgrade_to", None)))
            report = upgrade.run()
        except PreflightFailed as exc:
            for check in exc.failed:
                print(f"preflight {check.name}: {check.message}", file=sys.stderr)
            return 1
        except UpgradeStopped as exc:
            print(exc.report.to_text())
            print(f"stopped safely: {exc}. Run the same command again to resume.",
                  file=sys.stderr)
            return 4
        except clusterlib.PreconditionFailed as exc:
            print(f"refused, nothing changed: {exc}", file=sys.stderr)
            return 1
        except clusterlib.ConnectionFailed as exc:
            print(f"lost the connection: {exc}. Run the same command again to resume.",
                  file=sys.stderr)
            return 3
        except clusterlib.ClusterError as exc:
            print(f"failed: {type(exc).__name__}: {exc}. The journal {args.journal} holds where"
                  " the run is; run the same command again to resume.", file=sys.stderr)
            return 1
    summary = json.loads(report.to_json())
    print(report.to_text())
    print(json.dumps({"outcome": summary["outcome"], "simulated": simulated,
                      "journal": str(args.journal)}))
    return {"completed": 0, "degraded": 5, "incomplete": 5}.get(report.outcome, 4)


if __name__ == "__main__":
    sys.exit(main())
