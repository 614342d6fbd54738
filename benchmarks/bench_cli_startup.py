"""Startup time of `clusterlib --help` and `python -m clusterlib_cli --help` against `python -c pass`.

All variants run interleaved in the same process tree and the same minute, so machine noise
hits them alike; the table shows median and best wall time and the overhead over bare Python.
Also listed: what ``--help`` imported that it should not (the library, the simulator, pypsrp,
psrpcore, requests, rich).

    python benchmarks/bench_cli_startup.py            # 15 rounds
    python benchmarks/bench_cli_startup.py --quick    # 3 rounds
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("clusterlib", "pypsrp", "psrpcore", "requests", "rich")


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("clusterlib")
    if beside.exists():
        return str(beside)
    return shutil.which("clusterlib")


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def heavy_imports_on_help() -> list[str]:
    """Top-level packages from HEAVY that ``--help`` imported (should be none)."""
    probe = ("import sys\nsys.argv = ['clusterlib', '--help']\n"
             "from clusterlib_cli.main import run\n"
             "try:\n    run()\nexcept SystemExit:\n    pass\n"
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1].split()
    return [m for m in HEAVY if m in out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 15")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)

    variants: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -m clusterlib_cli --help": [sys.executable, "-m", "clusterlib_cli", "--help"],
    }
    script = _console_script()
    if script:
        variants["clusterlib --help"] = [script, "--help"]
    variants["python -c 'import clusterlib'"] = [sys.executable, "-c", "import clusterlib"]

    for cmd in variants.values():  # warm the file cache and the .pyc files once
        _time(cmd)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, cmd in variants.items():
            samples[name].append(_time(cmd))

    base = statistics.median(samples["python -c pass"])
    width = max(len(n) for n in variants)
    print(f"{'command'.ljust(width)}  median ms  best ms  over python ms   ({rounds} rounds,"
          f" {os.cpu_count()} cpus, Python {sys.version.split()[0]})")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"{name.ljust(width)}  {med * 1000:9.0f}  {min(values) * 1000:7.0f}"
              f"  {(med - base) * 1000:14.0f}")
    heavy = heavy_imports_on_help()
    print(f"heavy modules imported by --help: {', '.join(heavy) if heavy else 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
