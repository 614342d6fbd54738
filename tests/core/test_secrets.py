"""Secrets never leak: a known password used against the loopback endpoint must not appear in any
output, log record, exception text, journal, report (JSON or HTML), or repr, in any of the forms
it travels in (plain, base64 of the Basic ``user:password`` header, base64, URL-encoded).

Every CLI command runs with ``--debug`` (the most talkative mode: library logging at DEBUG and
tracebacks on errors) while a root handler collects every log record of every library (pypsrp,
requests, urllib3 included) at DEBUG.
"""

from __future__ import annotations

import base64
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
import traceback
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import PASSWORD, wire_cluster

import clusterlib
from clusterlib.errors import ClusterError
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.upgrade import RemoteCommand, RollingUpgrade

cli_main = pytest.importorskip("clusterlib_cli.main")
from typer.testing import CliRunner  # noqa: E402

from clusterlib_cli import render  # noqa: E402

USER = "clusterlib"
WRONG = "Wr0ng-Passw0rd!y"
SPEED = 20_000.0


def forms(secret: str, user: str = USER) -> dict[str, str]:
    """Every shape the secret takes on its way: the header value is base64("user:password")."""
    return {"plain": secret,
            "basic-header": base64.b64encode(f"{user}:{secret}".encode()).decode(),
            "base64": base64.b64encode(secret.encode()).decode(),
            "url": urllib.parse.quote(secret, safe=""),
            "url-plus": urllib.parse.quote_plus(secret),
            "repr-escaped": repr(secret)[1:-1]}


def assert_clean(text: str, where: str, *secrets: str) -> None:
    for secret in secrets or (PASSWORD,):
        for name, form in forms(secret).items():
            assert form not in text, f"{name} form of a password found in {where}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # format() renders args, exc_info and stack_info: everything a real handler would write.
        self.lines.append(self.format(record))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[_Collect]:
    caplog.set_level(logging.DEBUG)
    handler = _Collect()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)
    render._SECRETS.clear()
    render.set_debug(False)
    # The library logger's own level and propagation are left as the CLI's --debug set them.
    logging.getLogger("clusterlib").setLevel(logging.NOTSET)
    logging.getLogger("clusterlib").propagate = True


@pytest.fixture
def served() -> Iterator[tuple[SimCluster, Any]]:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=SPEED)
    with sim.serve(password=PASSWORD, username=USER, receive_timeout=0.05) as ep:
        yield sim, ep


def _host(ep: Any) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(ep.port), "--no-ssl", "--auth", "basic",
            "--user", USER, "--time-scale", f"{SPEED:g}", "--debug"]


def _invoke(*args: str, password: str = PASSWORD) -> Any:
    env = {"CLUSTERLIB_PASSWORD": password, "NO_COLOR": "1", "COLUMNS": "200",
           "CLUSTERLIB_DEBUG": "1"}
    return CliRunner().invoke(cli_main.app, list(args), env=env)


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_every_cli_command_keeps_the_password_out(served: tuple[SimCluster, Any], logs: _Collect,
                                                  caplog: pytest.LogCaptureFixture,
                                                  tmp_path: Path) -> None:
    sim, ep = served
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))  # the upgrade run stops at validation
    host = _host(ep)
    journal = tmp_path / "journal.json"
    html = tmp_path / "report.html"
    commands = [
        ["status", *host], ["status", "--json", *host], ["nodes", *host], ["groups", *host],
        ["node", "pause", "--yes", *host, "NODE2"], ["node", "resume", "--yes", *host, "NODE2"],
        ["group", "move", "--to", "NODE2", "--yes", *host, "SQL Group 1"],
        ["group", "move", "--to", "NODE1", "--yes", *host, "SQL Group 1"],
        ["upgrade", "plan", "--command", r"D:\setup.exe /unattend", *host],
        ["upgrade", "plan", "--json", "--command", r"D:\setup.exe /unattend", *host],
        # The installer runs on each node's own shell (--node-path on the loopback endpoint;
        # without it preflight refuses Basic over HTTP to the node hosts, before any change).
        # The validation move fails (fault below): the run stops safely (exit 4) with journal,
        # report and a resume hint, all of which must be clean too.
        ["upgrade", "run", "--yes", "--command", r"D:\setup.exe /unattend", "--journal",
         str(journal), "--html", str(html), *host, "--node-path", "wsman/node/{node}"],
        ["upgrade", "resume", "--yes", str(journal), *host, "--node-path", "wsman/node/{node}"],
        ["upgrade", "report", str(journal)], ["upgrade", "report", "--json", str(journal)],
        ["upgrade", "report", "--html", str(tmp_path / "report2.html"), str(journal)],
        ["lock", "show", *host], ["lock", "show", "--json", *host],
        ["demo", "--speed", f"{SPEED:g}", "--journal", str(tmp_path / "demo.json")],
    ]
    codes = {}
    for args in commands:
        result = _invoke(*args)
        codes[" ".join(args[:2])] = result.exit_code
        assert_clean(result.output, f"the output of {args[:3]}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            assert_clean(_exception_text(result.exception), f"the exception of {args[:3]}")
    # The commands did run (a test of nothing would pass the hunt too).
    assert codes["status --host"] == 0 and codes["node pause"] == 0 and codes["group move"] == 0
    assert codes["upgrade run"] in (0, 4) and journal.exists() and html.exists()
    assert sim.calls("Suspend-ClusterNode") and sim.calls("Move-ClusterGroup")

    # Wrong password and a dead port: the errors name host and user, never a password.
    wrong = _invoke("status", *host, password=WRONG)
    assert wrong.exit_code == 3
    assert_clean(wrong.output, "the wrong-password error", PASSWORD, WRONG)
    dead = _invoke("status", *[("1" if a == str(ep.port) else a) for a in host])
    assert dead.exit_code == 3
    assert_clean(dead.output, "the dead-port error")

    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_clean(path.read_text(encoding="utf-8", errors="replace"), str(path))
    assert logs.lines, "no log record was captured: the hunt would prove nothing"
    assert_clean("\n".join(logs.lines), "a log record", PASSWORD, WRONG)
    assert_clean("\n".join(r.getMessage() for r in caplog.records), "caplog", PASSWORD, WRONG)


def test_library_upgrade_over_the_wire_keeps_the_password_out(logs: _Collect,
                                                              tmp_path: Path) -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=SPEED)
    journal = tmp_path / "journal.json"
    with wire_cluster(sim, password=PASSWORD, username=USER) as (cluster, ep):
        upgrade = RollingUpgrade(cluster, RemoteCommand(r"D:\setup.exe /unattend"),
                                 journal=journal, target=sim.upgrade_to)
        report = upgrade.run()
        node_shell = cluster.transport.for_node("NODE1")  # type: ignore[attr-defined]
        try:
            reprs = [repr(cluster), repr(cluster.transport), repr(ep), repr(upgrade),
                     repr(node_shell), repr(report), str(vars(cluster.transport))]
        finally:
            node_shell.close()
    assert report.outcome == "completed"
    assert all(n.release.key == "2016" for n in sim.nodes.values())
    from clusterlib.upgrade.report_html import report_document

    for text, where in [("\n".join(reprs), "a repr"), (report.to_json(), "the JSON report"),
                        (report.to_text(), "the text report"),
                        (report_document(report), "the HTML report"),
                        (journal.read_text(), "the journal"),
                        ("\n".join(logs.lines), "a log record")]:
        assert_clean(text, where)
    assert logs.lines


@pytest.mark.parametrize("case", ["wrong-password", "dead-port"])
def test_connection_errors_keep_the_password_out(served: tuple[SimCluster, Any], logs: _Collect,
                                                 case: str) -> None:
    _sim, ep = served
    port = ep.port
    if case == "dead-port":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    password = WRONG if case == "wrong-password" else PASSWORD
    with pytest.raises(ClusterError) as info:
        clusterlib.connect("127.0.0.1", port=port, username=USER, password=password, auth="basic",
                           ssl=False, connect_timeout=2)
    assert_clean(_exception_text(info.value), f"the {case} exception", PASSWORD, WRONG)
    assert_clean("\n".join(logs.lines), f"the {case} logs", PASSWORD, WRONG)
    assert "127.0.0.1" in str(info.value)  # the error still says where it failed


def test_sim_serve_debug_log_keeps_the_password_out(tmp_path: Path) -> None:
    """The endpoint's own DEBUG log (every request it serves) in a real ``sim serve`` process."""
    pw_file = tmp_path / "pw"
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERLIB_PASSWORD"}
    env.update(NO_COLOR="1", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "clusterlib_cli", "sim", "serve", "--sim",
                             "classic-2012r2", "--password-file", str(pw_file), "--debug"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
            if lines[-1].strip().startswith("CLUSTERLIB_PASSWORD="):
                break
        command = shlex.split(lines[-1].strip())
        args = command[command.index("status") + 1:]
        password = pw_file.read_text().strip()
        ok = CliRunner().invoke(cli_main.app, ["nodes", *args, "--debug"],
                                env={"CLUSTERLIB_PASSWORD": password, "NO_COLOR": "1"})
        assert ok.exit_code == 0, ok.output
        assert_clean(ok.output, "the client output", password)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        render._SECRETS.clear()
        render.set_debug(False)
    assert "endpoint" in err or "POST" in err, "the server logged nothing at DEBUG"
    assert_clean("".join(lines) + out + err, "sim serve's output and DEBUG log", password)


# ---- Basic over plain HTTP, and where the password lives --------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open or resolve a connection fails the test: a refusal must come first."""
    import socket

    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError(f"a connection was attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.mark.parametrize("host", ["clu01.example.com", "10.0.0.5", "192.168.1.20", "::ffff:10.0.0.1",
                                  "fe80::1", "128.0.0.1"])
def test_basic_over_http_is_refused_off_loopback_before_any_connection(
        host: str, no_network: list[Any]) -> None:
    from clusterlib.errors import InsecureConnection, PreconditionFailed

    with pytest.raises(InsecureConnection) as info:
        clusterlib.connect(host, username=USER, password=PASSWORD, auth="basic", ssl=False)
    message = str(info.value)
    assert "\n" not in message and host in message
    assert "HTTPS" in message and "kerberos" in message.lower() and "negotiate" in message
    assert isinstance(info.value, PreconditionFailed)
    assert_clean(_exception_text(info.value), "the refusal")
    assert no_network == []


def test_basic_over_http_opt_in_warns_on_every_connect(no_network: list[Any]) -> None:
    from clusterlib.transports.winrm import WinRMTransport

    handler = _Collect()
    logger = logging.getLogger("clusterlib.transports.winrm")
    saved = logger.level, logger.disabled
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)  # the CLI tests before may have quietened the library
    logger.disabled = False
    try:
        for _ in range(2):
            with pytest.warns(UserWarning, match="cleartext"):
                tr = WinRMTransport("10.0.0.5", username=USER, password=PASSWORD, auth="basic",
                                    ssl=False, allow_cleartext_basic=True)
            tr.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.disabled = saved[1]
    assert sum("cleartext" in line and "WARNING" in line for line in handler.lines) == 2
    # HTTPS, message-encrypting auth and loopback are not refused, and do not warn about it.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kw in ({"ssl": True}, {"ssl": False, "auth": "negotiate"},
                   {"ssl": False, "host": "127.0.0.2"}, {"ssl": False, "host": "::1"},
                   {"ssl": False, "host": "localhost"}):
            options: dict[str, Any] = {"auth": "basic", "host": "10.0.0.5", **kw}
            WinRMTransport(options.pop("host"), username=USER, password=PASSWORD, **options)
    assert no_network == []


def test_the_password_is_not_reachable_from_the_transport(served: tuple[SimCluster, Any]) -> None:
    from clusterlib.transports.winrm import WinRMTransport
    from clusterlib.wire import Cmdlet, Pipeline

    _sim, ep = served
    tr = WinRMTransport("127.0.0.1", port=ep.port, username=USER, password=PASSWORD,
                        auth="basic", ssl=False)
    try:
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True))
        wsman = tr._wsman
        assert wsman is not None
        assert wsman.transport.password is None  # pypsrp's copy dropped once the session exists
        session = wsman.transport.session
        assert session is not None and session.auth is not None
        # requests still needs it to sign each request: there it is a str whose repr hides it.
        assert PASSWORD not in repr(vars(session.auth))
        assert_clean(repr(vars(tr)) + repr(vars(wsman.transport)) + repr(vars(wsman)),
                     "the transport's attributes")
    finally:
        tr.close()


def test_tracebacks_with_locals_do_not_show_the_password(served: tuple[SimCluster, Any]) -> None:
    from clusterlib.transports.winrm import WinRMTransport
    from clusterlib.wire import Cmdlet, Pipeline

    _sim, ep = served
    tr = WinRMTransport("127.0.0.1", port=ep.port, username=USER, password=WRONG, auth="basic",
                        ssl=False)
    with pytest.raises(ClusterError) as info:
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True))
    # What a crash reporter or `pytest --showlocals` prints: every frame's locals, repr'd.
    text = "".join(traceback.TracebackException.from_exception(
        info.value, capture_locals=True).format())
    assert "_translate" in text or "run_pipeline" in text  # the locals were there to look at
    assert_clean(text, "a traceback with locals", WRONG)
    # A refusal raised inside the constructor: its frame held the password argument.
    from clusterlib.errors import InsecureConnection

    with pytest.raises(InsecureConnection) as refused:
        WinRMTransport("10.0.0.5", username=USER, password=PASSWORD, auth="basic", ssl=False)
    text = "".join(traceback.TracebackException.from_exception(
        refused.value, capture_locals=True).format())
    assert "__init__" in text and "password = None" in text
    assert_clean(text, "a traceback with the constructor's locals")
