"""The CLI as a real process: sim serve + --host, `clusterlib demo`, Ctrl-C during `upgrade run` in a pty."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clusterlib_cli.main import app

CLI = [sys.executable, "-m", "clusterlib_cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLUSTERLIB_PASSWORD",)}
    env.update({"NO_COLOR": "1", "COLUMNS": "120"}, **extra)
    return env


@contextlib.contextmanager
def _serving(pw_file: Path, *options: str,
             wait: float = 30) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``clusterlib sim serve OPTIONS --password-file PW_FILE`` in the background until the block
    ends (then Ctrl-C, unless the block stopped it): the process and the lines it printed up to
    its connect line."""
    proc = subprocess.Popen([*CLI, "sim", "serve", *options, "--password-file", str(pw_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        lines = []
        deadline = time.monotonic() + wait
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip().startswith("CLUSTERLIB_PASSWORD="):
                break
        else:
            pytest.fail("sim serve printed no connect line: " + "".join(lines))
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _connect_args(lines: list[str]) -> list[str]:
    """The options of the connect line ``sim serve`` printed (what follows ``status``)."""
    command = shlex.split(lines[-1].strip())
    return command[command.index("status") + 1:]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """``clusterlib sim serve`` in the background: (the options to reach it, its password)."""
    pw_file = tmp_path / "pw"
    with _serving(pw_file, "--sim", "classic-2012r2", wait=20) as (_, lines):
        assert oct(pw_file.stat().st_mode & 0o777) == "0o600"
        password = pw_file.read_text().strip()
        assert password not in "".join(lines)  # written to the file, not shown
        yield _connect_args(lines), password


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


def test_demo_runs_the_classic_upgrade(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    done = subprocess.run([*CLI, "demo", "--speed", "2000", "--html", str(html)],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED" in done.stdout and "SIMULATED" in done.stdout
    assert "NODE1" in done.stdout and "NODE2" in done.stdout
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "SIMULATED" in page
    # The journal went to a temporary folder the demo named, and removed.
    named = re.search(r"journal: (\S+) \(a temporary folder", done.stderr)
    assert named is not None, done.stderr
    assert not Path(named.group(1)).parent.exists()
    assert f"removed the demo's temporary folder {Path(named.group(1)).parent}" in done.stderr
    # Node 1 first, as the seed's procedure, its installer started through WMI when the
    # library offers it (Windows 2000 has no WinRM).
    assert done.stderr.index("[NODE1 drain]") < done.stderr.index("[NODE2 drain]")
    import clusterlib.upgrade

    if hasattr(clusterlib.upgrade, "WmiCommand"):
        assert 'wmic /node:"NODE1" process call create' in done.stdout


def _pty_run(argv: list[str], env: dict[str, str], *, deadline: float,
             on_output: Any) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal (stdin, stdout and stderr): ``on_output(text, proc)``
    sees everything printed so far after every read. Returns (exit code, output)."""
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    seen = b""
    end = time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                on_output(seen.decode("utf-8", "replace"), proc, primary)
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(primary)
    return code, seen.decode("utf-8", "replace")


@pytest.fixture
def served_https(tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """``clusterlib sim serve --ssl`` in the background: (its printed connect options, password)."""
    pw_file = tmp_path / "pw"
    with _serving(pw_file, "--sim", "classic-2012r2", "--ssl", "--speed", "300") as (_, lines):
        args = _connect_args(lines)
        assert "--ca-bundle" in args and "--ssl" in args
        yield args, pw_file.read_text().strip()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_then_the_printed_resume_command_verbatim_over_https(
        tmp_path: Path, served_https: tuple[list[str], str]) -> None:
    """Ctrl-C in a terminal stops at a step boundary (exit 4) and prints a resume command with
    every connection option (--ca-bundle included); that exact command, run as printed (a person
    answers its confirmation at the terminal), finishes the run."""
    args, password = served_https
    journal = tmp_path / "journal.json"
    env = _env(TERM="xterm", CLUSTERLIB_PASSWORD=password)
    state = {"sent": False}

    def interrupt(text: str, proc: subprocess.Popen[bytes], fd: int) -> None:
        if not state["sent"] and re.search(r"NODE\d drain", text) and journal.exists():
            proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
            state["sent"] = True

    code, text = _pty_run([*CLI, "upgrade", "run", *args, "--yes", "--journal", str(journal),
                           "--command", r"D:\setup.exe /unattend"], env, deadline=90,
                          on_output=interrupt)
    assert state["sent"], text
    assert code == 4, text
    assert "stopped safely between two steps at your request (Ctrl-C)" in text
    assert "STOPPED" in text
    found = re.search(r"Resume with: (clusterlib upgrade resume .+?)(?:   \(password|\r?\n)", text)
    assert found is not None, text
    printed = shlex.split(found.group(1))
    assert printed[:3] == ["clusterlib", "upgrade", "resume"]
    assert "--ca-bundle" in printed and "--ssl" in printed and password not in found.group(1)
    state2 = {"answered": False}

    def answer(text: str, proc: subprocess.Popen[bytes], fd: int) -> None:
        if not state2["answered"] and "[y/N]" in text:
            os.write(fd, b"y\n")
            state2["answered"] = True

    code, text = _pty_run([*CLI, *printed[1:]], env, deadline=120, on_output=answer)
    assert code == 0, text
    assert "COMPLETED" in text


def _terminated_run(journal: Path, speed: str, ready: Callable[[], bool], *,
                    signals: int) -> tuple[int, str, str]:
    """``upgrade run --sim classic-2012r2`` as a process, sent SIGTERM ``signals`` times (50 ms
    apart) once ``ready()``: (exit code, stdout, stderr)."""
    proc = subprocess.Popen([*CLI, "upgrade", "run", "--sim", "classic-2012r2", "--speed", speed,
                             "--yes", "--journal", str(journal)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env())
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ready():
            time.sleep(0.05)
        assert ready()
        for i in range(signals):
            if i:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)  # what kill, systemd and container runtimes send
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def test_sigterm_stops_at_a_boundary_and_says_a_fresh_simulator_cannot_resume(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    code, out, err = _terminated_run(journal, "25", journal.exists, signals=1)
    text = out + err
    assert code == 4, text
    assert "SIGTERM: stopping after the current step" in text
    assert "stopped safely between two steps at your request (SIGTERM)" in text
    assert "cannot be resumed" in text and "clusterlib sim serve --sim classic-2012r2" in text
    assert "Resume with:" not in text  # no command that would resume a fresh, unchanged cluster
    assert "SIMULATED" in out


def test_sim_serve_stops_cleanly_on_sigterm_and_removes_its_key_folder(tmp_path: Path) -> None:
    with _serving(tmp_path / "pw", "--sim", "classic-2012r2", "--ssl") as (proc, lines):
        args = _connect_args(lines)
        bundle = Path(args[args.index("--ca-bundle") + 1])
        assert bundle.exists()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert proc.returncode == 0
    assert not bundle.parent.exists()


@pytest.mark.chaos
@pytest.mark.skipif(sys.platform == "win32", reason="the runbook is a bash script")
def test_classic_runbook_against_a_served_windows_2000_cluster(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """examples/classic_runbook.sh, configured only through CLUSTERLIB_* variables, against
    `sim serve --sim classic` over HTTPS with its CA bundle. Opt-in (about 15 s: four CLI
    processes): ``pytest -m chaos`` or CLUSTERLIB_CHAOS=1."""
    import shutil

    from chaos_helpers import skip_unless_chaos

    skip_unless_chaos(request)

    if shutil.which("bash") is None:
        pytest.skip("no bash")
    pw_file = tmp_path / "pw"
    with _serving(pw_file, "--sim", "classic", "--ssl", "--speed", "3000") as (_, lines):
        args, password = _connect_args(lines), pw_file.read_text().strip()
        opt = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")
               and not args[i + 1].startswith("--")}
        env = _env(CLUSTERLIB_HOST=opt["--host"], CLUSTERLIB_PORT=opt["--port"],
                   CLUSTERLIB_SSL="1", CLUSTERLIB_AUTH="basic", CLUSTERLIB_USER=opt["--user"],
                   CLUSTERLIB_CA_BUNDLE=opt["--ca-bundle"],
                   CLUSTERLIB_TIME_SCALE=opt["--time-scale"],
                   CLUSTERLIB_NODE_PATH=opt["--node-path"], CLUSTERLIB_PASSWORD=password,
                   JOURNAL=str(tmp_path / "j.json"), REPORT=str(tmp_path / "r.html"))
        bindir = tmp_path / "bin"  # `clusterlib` on the PATH, as after pip install
        bindir.mkdir()
        shim = bindir / "clusterlib"
        shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m clusterlib_cli \"$@\"\n")
        shim.chmod(0o755)
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        root = Path(__file__).resolve().parents[2]
        done = subprocess.run(["bash", str(root / "examples" / "classic_runbook.sh")],
                              capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED" in done.stdout
    assert "SIMULATED" not in done.stdout  # over --host the CLI cannot know; it does not guess
    assert done.stdout.count("5.2.3790") >= 2  # both nodes on Windows Server 2003 at the end
    assert (tmp_path / "r.html").exists()


def test_shell_completion_completes_commands_and_options() -> None:
    """Typer's own completion: the script for bash, and the answers it asks the CLI for."""
    # Typer's own switch for naming the shell instead of detecting the parent process's.
    script = subprocess.run([*CLI, "--show-completion", "bash"], capture_output=True, text=True,
                            env=_env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"), timeout=60)
    assert script.returncode == 0 and "_clusterlib_completion" in script.stdout
    for words, expect in (("clusterlib upgrade r", {"run", "resume", "report"}),
                          ("clusterlib status --s", {"--ssl", "--sim", "--speed"})):
        done = subprocess.run([*CLI], capture_output=True, text=True, timeout=60,
                              env=_env(_CLUSTERLIB_COMPLETE="complete_bash", COMP_WORDS=words,
                                       COMP_CWORD=str(len(words.split()) - 1)))
        assert done.returncode == 0, done.stderr
        assert expect <= set(done.stdout.split()), done.stdout


def _a_step_is_running(journal: Path) -> bool:
    import json as json_module

    try:
        body = json_module.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    body = body.get("journal", body)  # the journal's file layout: {"plan": ..., "journal": ...}
    return any(step.get("status") == "running" for step in body.get("steps", []))


def test_a_second_sigterm_interrupts_mid_step_and_says_so(tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    # Both signals must land inside a step (the drain takes a while at speed 10): wait until
    # the journal says a step is running, or a busy machine lets the run reach a boundary
    # between the two signals and end there.
    code, out, err = _terminated_run(journal, "10", lambda: _a_step_is_running(journal),
                                     signals=2)
    text = out + err
    assert code == 4, text
    assert "interrupted mid-step (SIGTERM twice)" in text
    assert "stopped safely" not in text
    import json as json_module

    body = json_module.loads(journal.read_text(encoding="utf-8"))["journal"]
    assert body["outcome"] == "stopped" or body["stopped_at"] is not None, body["outcome"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_live_progress_on_a_terminal_ticks_while_a_phase_waits(tmp_path: Path) -> None:
    """On a terminal the progress table redraws while a phase waits: the reboot row's elapsed
    time takes many values before the phase ends, and the title counts the plan's steps."""
    code, text = _pty_run([*CLI, "upgrade", "run", "--sim", "classic-2012r2", "--speed", "300",
                           "--yes", "--journal", str(tmp_path / "j.json")],
                          _env(TERM="xterm"), deadline=90,
                          on_output=lambda text, proc, fd: None)
    assert code == 0, text[-2000:]
    clean = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    elapsed = set(re.findall(r"reboot\s*│\s*(\d+) s", clean))
    assert len(elapsed) >= 5, sorted(elapsed)  # it kept moving during the wait
    flat = re.sub(r"\s+", " ", clean)  # the title wraps at the table's width
    assert re.search(r"Rolling upgrade of CLUSTER1: step \d+ of \d+", flat)
    assert "COMPLETED" in clean
