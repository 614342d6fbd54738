"""Shared helpers for the benchmarks: argument parsing, a printed table, JSON results, the machine."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult

RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small configurations only (CI)")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    return p


def machine() -> dict[str, Any]:
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.1f}"
    return str(value)


def write(name: str, payload: dict[str, Any], path: Path | None) -> Path:
    target = path or RESULTS / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2))
    return target


def save(name: str, quick: bool, payload: dict[str, Any], path: Path | None) -> None:
    """Write a benchmark's results (``<name>-quick.json`` for a quick run) and say where."""
    print(f"wrote {write(name + ('-quick' if quick else ''), payload, path)}")


def first_word(call: Pipeline | CmdLine) -> str:
    """What a call is, for counting: a pipeline's first cmdlet (``Get-ClusterNode``; a snapshot
    starts with ``Get-Cluster``), and the second when it is a cluster cmdlet too
    (``Get-Cluster | Get-ClusterParameter``: the upgrade lock's listing); a command line's
    program (``cmd:setup.exe``)."""
    if isinstance(call, CmdLine):
        word = call.line.split()[0] if call.line.split() else ""
        return "cmd:" + word.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if not call.statements:
        return "(empty)"
    names = [c.name for c in call.statements[0].commands[:2]]
    if len(names) == 2 and "-Cluster" in names[1]:
        return " | ".join(names)
    return names[0]


class PipelineCounter:
    """Any transport (in-process or WinRM), with every call crossing it counted by
    :func:`first_word`, node shells included; ``counts["pipeline"]`` and ``counts["cmd"]`` are
    the totals."""

    def __init__(self, inner: Any, counts: Counter[str]) -> None:
        self.inner = inner
        self.counts = counts

    def __getattr__(self, name: str) -> Any:  # endpoint, time_scale, ...: the inner's
        return getattr(self.inner, name)

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self.counts["pipeline"] += 1
        self.counts[first_word(pipeline)] += 1
        return self.inner.run_pipeline(pipeline)  # type: ignore[no-any-return]

    def run_cmd(self, line: CmdLine) -> CmdResult:
        self.counts["cmd"] += 1
        self.counts[first_word(line)] += 1
        return self.inner.run_cmd(line)  # type: ignore[no-any-return]

    def for_node(self, node: str) -> PipelineCounter:
        return PipelineCounter(self.inner.for_node(node), self.counts)

    def close(self) -> None:
        self.inner.close()


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB. Not ``getrusage``'s ru_maxrss: Linux
    carries that over from the parent through fork and exec, so a child would report its
    parent's peak when that is higher."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
