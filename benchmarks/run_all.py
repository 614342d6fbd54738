"""Run every benchmark as a subprocess, print one combined report, and write results/all.json.

    python benchmarks/run_all.py            # full sizes (about 15 minutes on 2 shared CPUs)
    python benchmarks/run_all.py --quick    # small sizes (CI, well under a minute)

Each benchmark runs in its own interpreter (no warm caches or imports shared between them), with
``--quick`` when asked. Its printed table is shown under its name; the summary table says how
each ended and how long it took. ``all.json`` (``all-quick.json`` with ``--quick``) holds the
machine, every benchmark's output, the JSON results each wrote, and the whole run's seconds.
The full run must stay under 15 minutes on a 2-CPU machine (docs/performance.md); the largest
share is bench_upgrade_scaling.py (about 8 of them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine, parser, table

HERE = Path(__file__).resolve().parent

# name -> (script, accepts --json PATH). Scripts that do not take --json write their own file
# into results/ (found by modification time) or print only.
BENCHMARKS: dict[str, tuple[str, bool]] = {
    "snapshot": ("bench_snapshot.py", True),
    "upgrade": ("bench_upgrade.py", True),
    "upgrade-scaling": ("bench_upgrade_scaling.py", True),
    "plan": ("bench_plan.py", True),
    "drain": ("bench_drain.py", True),
    "parse": ("bench_parse.py", True),
    "cli-startup": ("bench_cli_startup.py", False),
    "fleet": ("bench_fleet.py", True),
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def run_one(name: str, script: str, takes_json: bool, quick: bool, out_dir: Path,
            timeout: float) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / script)]
    if quick:
        argv.append("--quick")
    own_json = out_dir / f"{name}{'-quick' if quick else ''}.json"
    if takes_json:
        argv += ["--json", str(own_json)]
    started_wall = time.time()
    t0 = time.perf_counter()
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=HERE.parent)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code = -1
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {timeout:g} s"
    seconds = time.perf_counter() - t0
    files = [own_json] if takes_json and own_json.exists() else sorted(
        p for p in RESULTS.glob("*.json")
        if p.stat().st_mtime >= started_wall and not p.name.startswith("all"))
    results = {}
    for path in files:
        try:
            results[path.name] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            results[path.name] = {"error": str(exc)}
    return {"name": name, "argv": argv[1:], "exit": code, "seconds": round(seconds, 2),
            "stdout": out, "stderr": err[-4000:], "results_files": [str(p) for p in files],
            "results": results}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", action="append", choices=sorted(BENCHMARKS),
                   help="run only this benchmark (repeatable)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    args = p.parse_args(argv)
    target: Path = args.json or RESULTS / ("all-quick.json" if args.quick else "all.json")
    out_dir = target.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    names = args.only or list(BENCHMARKS)
    runs = []
    started = time.perf_counter()
    for name in names:
        script, takes_json = BENCHMARKS[name]
        if not (HERE / script).exists():
            print(f"== {name}: {script} not found, skipped\n")
            continue
        print(f"== {name} ({script}{' --quick' if args.quick else ''})", flush=True)
        run = run_one(name, script, takes_json, args.quick, out_dir, args.timeout)
        runs.append(run)
        print(run["stdout"].rstrip())
        if run["exit"] != 0:
            print(f"[exit {run['exit']}] {run['stderr'].strip()[-2000:]}")
        print(flush=True)
    info = {**machine(), "cpu_model": cpu_model()}
    print(table(["benchmark", "mode", "exit", "seconds", "results"],
                [[r["name"], "quick" if args.quick else "full", r["exit"], r["seconds"],
                  ", ".join(Path(f).name for f in r["results_files"]) or "(printed only)"]
                 for r in runs]))
    total = round(time.perf_counter() - started, 1)
    print(f"total: {total:g} s ({int(total // 60)} min {total % 60:.0f} s)")
    print(f"machine: {info['cpus']} cpus, {info['cpu_model']}, Python {info['python']},"
          f" {info['platform']}")
    target.write_text(json.dumps({"benchmark": "all", "mode": "quick" if args.quick else "full",
                                  "machine": info, "seconds": total, "runs": runs}, indent=2))
    print(f"wrote {target}")
    return 0 if all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
