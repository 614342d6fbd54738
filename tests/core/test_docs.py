"""Every code block in README.md and docs/ runs: Python blocks execute, shell lines run or are checked.

A documented call that raises TypeError is the first bug a user meets, so the pages are executed
as written. Rules, per fenced block:

* ```python: every block of a page runs, in order, in one namespace, in a temporary directory.
  A call to ``clusterlib.connect("some.host", ...)`` with a real (non-loopback) host name is bound
  against the real WinRM transport's signature (so a wrong keyword fails here as it would for the
  user) and then served by a simulated cluster: tests never send traffic beyond loopback. The
  names ``secret`` and ``host`` are predefined, as a reader would have them.
* ```sh / ```console: each command line runs. ``clusterlib ...`` runs the installed CLI for real;
  ``pytest ...`` is collected (``--collect-only``: it must select at least one test); ``python
  benchmarks/X.py ...`` must exist and accept every flag the line uses (checked against its
  ``--help``). Virtualenv creation and ``pip install`` are CI's job (.ci/run runs the README's test
  command verbatim), so in an ``a && b && c`` chain only the parts after them run here.
* ```text, ```toml, ```powershell and bare fences are output samples, files or Windows commands:
  not executed (a ```toml block on a page that documents profiles is checked by the CLI's tests).
"""

from __future__ import annotations

import inspect
import ipaddress
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import clusterlib

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
BIN = Path(sys.executable).parent


def blocks(page: Path, langs: tuple[str, ...]) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        if m.group(1).lower() in langs:
            line = text.count("\n", 0, m.start()) + 1
            found.append((line, m.group(2)))
    return found


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _doc_connect(real: Any) -> Any:
    """clusterlib.connect for documentation: real hosts are checked, then simulated."""
    from clusterlib.sim import SimCluster
    from clusterlib.transports.winrm import WinRMTransport

    def connect(target: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(target, str) and not _is_loopback(target):
            # The documented call must be valid for the real thing: bind it to connect() and the
            # WinRM transport's own signature (raises TypeError on an unknown keyword).
            bound = inspect.signature(real).bind(target, *args, **kwargs)
            options = dict(bound.arguments.get("options", {}))
            inspect.signature(WinRMTransport).bind(target, **options)
            return real(SimCluster.classic(os="2016", speed=5000))
        return real(target, *args, **kwargs)

    return connect


PY_PAGES = [p for p in PAGES if blocks(p, ("python", "py"))]


@pytest.mark.parametrize("page", PY_PAGES, ids=[p.name for p in PY_PAGES])
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(clusterlib, "connect", _doc_connect(clusterlib.connect))
    namespace: dict[str, Any] = {"__name__": "__doc__", "secret": "doc-password",
                                 "host": "clu01.corp.example"}
    for line, code in blocks(page, ("python", "py")):
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)  # noqa: S102
        except Exception as exc:
            raise AssertionError(f"{page.relative_to(ROOT)} line {line}: the python block fails:"
                                 f" {type(exc).__name__}: {exc}") from exc


def _commands(code: str) -> list[str]:
    out = []
    for raw in code.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"\s+#\s.*$", "", line)  # a trailing comment explains, it does not run
        for part in line.split("&&"):
            part = part.strip()
            if re.match(r"^python3? -m venv\b", part) or re.search(r"(^|/)pip3? install\b", part):
                continue
            out.append(part)
    return out


def _run_command(cmd: str, cwd: Path) -> None:
    words = shlex.split(cmd)
    env = dict(os.environ)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    head = words[0]
    if head.endswith("/clusterlib") or head == "clusterlib":
        proc = subprocess.run([str(BIN / "clusterlib"), *words[1:]], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"{cmd!r} exited {proc.returncode}: {proc.stderr[-2000:]}"
        return
    if head == "pytest" or words[:3] in (["python", "-m", "pytest"], [".venv/bin/python", "-m", "pytest"]):
        args = words[1:] if head == "pytest" else words[3:]
        proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert proc.returncode == 0, f"{cmd!r} selects nothing or fails to collect: {proc.stdout[-1500:]}"
        assert re.search(r"\b[1-9]\d* tests? collected|^\S+::|^\S+\.py: [1-9]", proc.stdout, re.M), \
            proc.stdout[-500:]
        return
    if head in ("python", "python3") and len(words) > 1 and words[1].startswith("benchmarks/"):
        script = ROOT / words[1]
        assert script.is_file(), f"{cmd!r}: {words[1]} does not exist"
        proc = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        for flag in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
            assert flag in proc.stdout, f"{cmd!r}: {words[1]} has no option {flag}"
        return
    raise AssertionError(f"a shell line the docs test does not know how to run: {cmd!r}; write it"
                         " as one of the supported forms or move it to a ```text block")


SH_CASES = [(p, line, cmd) for p in PAGES for line, code in blocks(p, ("sh", "console", "bash"))
            for cmd in _commands(code)]


@pytest.mark.parametrize("page,line,cmd", SH_CASES,
                         ids=[f"{p.name}:{line}:{cmd[:40]}" for p, line, cmd in SH_CASES])
def test_shell_lines_run(page: Path, line: int, cmd: str, tmp_path: Path) -> None:
    _run_command(cmd, tmp_path)
