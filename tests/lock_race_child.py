"""Lock-race helper: one contender process of tests/chaos/test_lock_race.py (a run or a resume).

``python lock_race_child.py run|resume --journal J --go GO --hold HOLD (--port P | --winrm)
[--dialect D]``: connects (RPC transport to the test's simulator server, authkey in
$UPGRADE_CHILD_AUTHKEY; or the loopback WinRM endpoint, options as JSON in $LOCK_RACE_WINRM),
prepares the run or the resume, prints ``READY``, waits until the file GO exists (so every
contender starts at the same instant), then runs. A contender that gets past the lock holds
after its first step until the file HOLD exists, then stops on request, so a late contender can
never start after the winner has finished. Prints one JSON line ``{"result": "proceeded" |
"refused" | "lost" | "error", "text": ...}`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETUP = r"D:\setup.exe /unattend"


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > end:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("run", "resume"))
    parser.add_argument("--journal", required=True)
    parser.add_argument("--go", required=True)
    parser.add_argument("--hold", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--winrm", action="store_true")
    parser.add_argument("--dialect", default="auto")
    parser.add_argument("--speed", type=float, default=5000.0)
    args = parser.parse_args()

    import clusterlib
    from clusterlib.upgrade import (
        LockHeld,
        PreflightFailed,
        RollingUpgrade,
        UpgradeStopped,
        default_action,
    )
    from clusterlib.upgrade.errors import LockLost

    if args.winrm:
        options: dict[str, Any] = json.loads(os.environ["LOCK_RACE_WINRM"])
        cluster = clusterlib.connect(options.pop("target"), dialect=args.dialect, **options)
    else:
        from upgrade_child import RPCTransport

        transport = RPCTransport(args.port, speed=args.speed)
        cluster = clusterlib.connect(transport, dialect=args.dialect)
    if args.mode == "run":
        # WMI on a Windows 2000 layout (no WinRM listener on its nodes), else WinRM.
        upgrade = RollingUpgrade(cluster, action=default_action(SETUP, cluster.snapshot()),
                                 journal=args.journal)
    else:
        upgrade = RollingUpgrade.from_journal(cluster, journal=args.journal)
    held = False

    def on_event(event: Any) -> None:
        nonlocal held
        if type(event).__name__ == "PhaseFinished" and not held:
            held = True
            _wait_for(Path(args.hold))
            upgrade.request_stop()

    upgrade.subscribe(on_event)
    print("READY", flush=True)
    _wait_for(Path(args.go))
    result: dict[str, Any]
    try:
        upgrade.run()
        result = {"result": "proceeded", "text": "completed"}
    except LockLost as exc:
        result = {"result": "lost", "text": str(exc)}
    except UpgradeStopped as exc:
        result = {"result": "proceeded" if held else "error", "text": str(exc)}
    except (LockHeld, PreflightFailed) as exc:
        result = {"result": "refused", "text": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:
        result = {"result": "error", "text": f"{type(exc).__name__}: {exc}"}
    finally:
        cluster.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
