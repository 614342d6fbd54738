"""The CLI as a real process: sim serve + --host, `clusterlib demo`, Ctrl-C during `upgrade run` in a pty."""

from __future__ import annotations

import importlib.util
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("clusterlib_cli.main",
                    reason="clusterlib_cli is not installed (pyproject must map clusterlib_cli -> cli)")

from clusterlib_cli.main import app

CLI = [sys.executable, "-m", "clusterlib_cli"]


def _has_engine() -> bool:
    if importlib.util.find_spec("clusterlib.upgrade") is None:
        return False
    import clusterlib.upgrade

    return hasattr(clusterlib.upgrade, "RollingUpgrade")


needs_engine = pytest.mark.skipif(not _has_engine(), reason="clusterlib.upgrade.RollingUpgrade"
                                  " (the upgrade engine) has not landed yet")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLUSTERLIB_PASSWORD",)}
    env.update({"NO_COLOR": "1", "COLUMNS": "120"}, **extra)
    return env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """``clusterlib sim serve`` in the background: (the options to reach it, its password)."""
    pw_file = tmp_path / "pw"
    proc = subprocess.Popen([*CLI, "sim", "serve", "--sim", "classic-2012r2", "--password-file",
                             str(pw_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        lines = []
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip().startswith("CLUSTERLIB_PASSWORD="):
                break
        else:
            pytest.fail("sim serve printed no connect line: " + "".join(lines))
        assert oct(pw_file.stat().st_mode & 0o777) == "0o600"
        command = shlex.split(lines[-1].strip())
        args = command[command.index("status") + 1:]
        password = pw_file.read_text().strip()
        assert password not in "".join(lines)  # written to the file, not shown
        yield args, password
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_sim_serve_then_connect_with_host(served: tuple[list[str], str]) -> None:
    args, password = served
    result = CliRunner().invoke(app, ["nodes", *args, "--json"],
                                env={"CLUSTERLIB_PASSWORD": password, "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert '"NODE1"' in result.stdout
    wrong = CliRunner().invoke(app, ["nodes", *args],
                               env={"CLUSTERLIB_PASSWORD": "not-" + password, "NO_COLOR": "1"})
    assert wrong.exit_code == 3 and password not in wrong.output


def test_status_acceptance_command_as_a_process() -> None:
    done = subprocess.run([*CLI, "status", "--sim", "classic-2012r2", "--json"],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"schema": "clusterlib.status/1"' in done.stdout


def test_help_imports_nothing_heavy() -> None:
    probe = ("import sys\nsys.argv = ['clusterlib', '--help']\n"
             "from clusterlib_cli.main import run\n"
             "try:\n    run()\nexcept SystemExit:\n    pass\n"
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=_env(), timeout=60, check=True).stdout.splitlines()[-1].split()
    assert not {"clusterlib", "pypsrp", "psrpcore", "requests", "rich"} & set(out)


@needs_engine
def test_demo_runs_the_classic_upgrade(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    done = subprocess.run([*CLI, "demo", "--speed", "2000", "--html", str(html)],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED" in done.stdout
    assert "NODE1" in done.stdout and "NODE2" in done.stdout
    assert html.read_text().startswith("<!DOCTYPE html>")


@needs_engine
@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_during_upgrade_run_leaves_a_resumable_journal(tmp_path: Path) -> None:
    import pty

    journal = tmp_path / "journal.json"
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "upgrade", "run", "--sim", "classic-2012r2", "--speed", "25", "--yes",
         "--journal", str(journal)],
        stdin=secondary, stdout=secondary, stderr=secondary, env=_env(TERM="xterm"),
        start_new_session=False)
    os.close(secondary)
    seen = b""
    interrupted = False
    deadline = time.monotonic() + 45
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            if not interrupted and re.search(rb"NODE\d", seen) and b"drain" in seen \
                    and journal.exists():
                proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
                interrupted = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    text = seen.decode("utf-8", "replace")
    assert interrupted, text
    assert code == 4, text
    assert "clusterlib upgrade resume" in text
    assert journal.exists()
    resume = re.search(r"clusterlib upgrade resume (.+)", text)
    assert resume is not None
    args = shlex.split(resume.group(1).strip())
    done = subprocess.run([*CLI, "upgrade", "resume", *args, "--yes"], capture_output=True,
                          text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED" in done.stdout
