"""Admin-grade CLI details (CliRunner): --version, --output csv, errors that say what to do
(TLS trust, --no-ssl against HTTPS, --ssl against HTTP, a failed preflight one check per line)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import clusterlib
import clusterlib_cli.main as cli_main
from clusterlib.sim import SimCluster
from clusterlib_cli import options, render

app = cli_main.app
PS = ["--sim", "classic-2012r2"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    base = {"CLUSTERLIB_PASSWORD": "", "NO_COLOR": "1", "COLUMNS": "300", "CLUSTERLIB_HOST": "",
            "CLUSTERLIB_SIM": ""}
    return CliRunner().invoke(app, list(args), env={**base, **(env or {})})


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("clusterlib ") and "Python" in result.stdout


def test_csv_uses_the_json_field_names() -> None:
    doc = json.loads(invoke("groups", *PS, "--json").stdout)
    result = invoke("groups", *PS, "-o", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [*doc["groups"][0].keys(), "simulated"]
    sql = next(r for r in rows if r["name"] == "SQL Group 1")
    assert sql["owner"] == "NODE1" and sql["preferred_owners"] == "NODE1;NODE2"
    assert sql["simulated"] == "true"
    nodes = list(csv.DictReader(io.StringIO(invoke("nodes", *PS, "-o", "csv").stdout)))
    assert [n["name"] for n in nodes] == ["NODE1", "NODE2"]


def test_csv_cells_cannot_become_spreadsheet_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = SimCluster({"N1": ["=HYPERLINK(\"http://x\")", "ok"], "N2": []}, os="2012R2")
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    rows = list(csv.DictReader(io.StringIO(invoke("groups", *PS, "-o", "csv").stdout)))
    assert "'=HYPERLINK(\"http://x\")" in [r["name"] for r in rows]


def test_output_json_equals_json_flag_and_status_csv_is_refused() -> None:
    a = json.loads(invoke("nodes", *PS, "-o", "json").stdout)
    b = json.loads(invoke("nodes", *PS, "--json").stdout)
    assert a == b
    refused = invoke("status", *PS, "-o", "csv")
    assert refused.exit_code == 2 and "nodes -o csv" in refused.output


@pytest.fixture(scope="module")
def both_listeners() -> Iterator[tuple[Any, Any]]:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    with sim.serve(ssl=True) as https, sim.serve(ssl=False) as http:
        yield https, http


def _host(ep: Any, *extra: str) -> list[str]:
    return ["nodes", "--host", ep.host, "--port", str(ep.port), "--auth", "basic", "--user",
            ep.username, "--connect-timeout", "3", *extra]


def test_untrusted_certificate_names_ca_bundle_and_insecure(both_listeners: tuple[Any, Any]) -> None:
    https, _ = both_listeners
    result = invoke(*_host(https, "--ssl"), env={"CLUSTERLIB_PASSWORD": https.password})
    assert result.exit_code == 3
    assert "--ca-bundle" in result.stderr and "--insecure" in result.stderr
    assert https.password not in result.output
    trusted = invoke(*_host(https, "--ssl", "--ca-bundle", str(https.ca_bundle)),
                     env={"CLUSTERLIB_PASSWORD": https.password})
    assert trusted.exit_code == 0, trusted.output


def test_no_ssl_against_https_says_use_ssl(both_listeners: tuple[Any, Any]) -> None:
    https, _ = both_listeners
    result = invoke(*_host(https, "--no-ssl"), env={"CLUSTERLIB_PASSWORD": https.password})
    assert result.exit_code == 3
    assert "is an HTTPS listener" in result.stderr and "use --ssl" in result.stderr


def test_ssl_against_http_says_use_no_ssl(both_listeners: tuple[Any, Any]) -> None:
    _, http = both_listeners
    result = invoke(*_host(http, "--ssl", "--insecure"), env={"CLUSTERLIB_PASSWORD": http.password})
    assert result.exit_code == 3
    assert "--no-ssl" in result.stderr


def test_failed_preflight_prints_one_check_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    with clusterlib.connect(sim) as cluster:
        cluster.node("NODE1").pause(drain=False)
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    result = invoke("upgrade", "run", *PS, "--yes", "--order", "NODE1,NODE9")
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error: preflight failed"))
    checks = lines[start + 1:]
    assert len(checks) >= 2 and all(line.startswith("  - ") for line in checks), lines
    assert "nothing was changed" in lines[start]


# --- transport options: timeouts, client certificates, cleartext Basic --------------------------

def _captured_connect(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def fake(host: Any, **kwargs: Any) -> Any:
        seen.update(kwargs, host=host)
        raise SystemExit(0)

    monkeypatch.setattr(clusterlib, "connect", fake)
    return seen


def test_timeouts_and_certificate_reach_the_transport(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Any) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("cert", encoding="utf-8")
    key.write_text("key", encoding="utf-8")
    seen = _captured_connect(monkeypatch)
    result = invoke("status", "--host", "h1.example", "--auth", "certificate", "--cert-pem",
                    str(cert), "--cert-key-pem", str(key), "--read-timeout", "7",
                    env={"CLUSTERLIB_CALL_TIMEOUT": "40"})
    assert result.exit_code == 0, result.output
    assert seen["certificate_pem"] == str(cert) and seen["certificate_key_pem"] == str(key)
    assert seen["read_timeout"] == 7 and seen["call_timeout"] == 40
    assert seen["auth"] == "certificate" and "password" not in seen


@pytest.mark.parametrize("args, says", [
    (["--auth", "certificate"], "--cert-pem FILE and --cert-key-pem"),
    (["--auth", "ntlm", "--cert-pem", "{cert}"], "are for --auth certificate"),
])
def test_certificate_options_are_checked(tmp_path: Any, args: list[str], says: str) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("cert", encoding="utf-8")
    result = invoke("status", "--host", "h1.example",
                    *[a.replace("{cert}", str(cert)) for a in args])
    assert result.exit_code == 2 and says in result.output


def test_cleartext_basic_is_refused_before_any_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): nothing is ever sent there (the socket is patched).
    result = invoke("status", "--host", "192.0.2.10", "--no-ssl", "--auth", "basic", "--user",
                    "admin", env={"CLUSTERLIB_PASSWORD": "pw-not-sent"})
    assert result.exit_code == 1, result.output
    assert "cleartext" in result.stderr and "pw-not-sent" not in result.output
    assert "a connection was attempted" not in result.output


def test_cleartext_basic_opt_in_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _captured_connect(monkeypatch)
    result = invoke("status", "--host", "192.0.2.10", "--no-ssl", "--auth", "basic", "--user",
                    "admin", "--allow-cleartext-basic", env={"CLUSTERLIB_PASSWORD": "pw"})
    assert result.exit_code == 0, result.output
    assert seen["allow_cleartext_basic"] is True
    assert "warning: --allow-cleartext-basic" in result.stderr and "cleartext" in result.stderr


def test_a_missing_kerberos_ticket_explains_kinit() -> None:
    from clusterlib import errors
    from clusterlib_cli import options as opts

    target = opts.make_target(host="h1.example", auth=opts.Auth.kerberos)
    try:
        try:
            raise RuntimeError("SpnegoError (1): No Kerberos credentials available (default"
                               " cache: FILE:/tmp/krb5cc_0)")
        except RuntimeError as inner:
            raise errors.AuthenticationError("h1.example:5986: authentication failed") from inner
    except errors.AuthenticationError as exc:
        hint = render.connection_hint(exc, target)
    assert hint is not None and "kinit" in hint and "--auth ntlm" in hint
    ntlm = opts.make_target(host="h1.example", auth=opts.Auth.ntlm)
    assert render.connection_hint(errors.AuthenticationError("rejected"), ntlm) is None


# --- the OS keyring -------------------------------------------------------------------------------

class _MemoryKeyring:
    """A stand-in for the ``keyring`` package's API (get_password(service, account)), to see
    which accounts the CLI asks for; the real package is exercised end to end below."""

    def __init__(self, store: dict[tuple[str, str], str]) -> None:
        self.store = store
        self.asked: list[tuple[str, str]] = []

    def get_password(self, service: str, account: str) -> str | None:
        self.asked.append((service, account))
        return self.store.get((service, account))


def test_keyring_supplies_the_password_and_it_is_never_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sim = SimCluster.classic(os="2012R2")
    with sim.serve() as ep:
        backend = _MemoryKeyring({("clusterlib", f"{ep.username}@{ep.host}"): ep.password})
        monkeypatch.setitem(sys.modules, "keyring", backend)
        args = ["nodes", "--host", ep.host, "--port", str(ep.port), "--no-ssl", "--auth",
                "basic", "--user", ep.username, "--keyring", "--json"]
        ok = invoke(*args)
        assert ok.exit_code == 0, ok.output
        assert backend.asked[0] == ("clusterlib", f"{ep.username}@{ep.host}")
        assert ep.password not in ok.output
        backend.store.clear()
        missing = invoke(*args)
    assert missing.exit_code == 2
    assert "keyring set clusterlib" in missing.output and ep.password not in missing.output


def test_keyring_without_the_package_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    result = invoke("status", "--host", "h1.example", "--user", "u", "--keyring")
    assert result.exit_code == 2 and "pip install keyring" in result.output
    both = invoke("status", "--host", "h1.example", "--user", "u", "--keyring",
                  "--password-stdin")
    assert both.exit_code == 2 and "one password source" in both.output


def test_rejoin_and_move_timeouts_reach_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """--rejoin-timeout is a journaled run policy; --move-timeout is the handles' move wait."""
    from typer.testing import CliRunner

    from clusterlib.sim import SimCluster
    from clusterlib_cli import options
    from clusterlib_cli.main import app

    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=5000)
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    result = CliRunner().invoke(app, ["upgrade", "plan", "--sim", "classic-2012r2", "--json",
                                      "--rejoin-timeout", "120", "--move-timeout", "45"])
    assert result.exit_code == 0, result.output
    assert '"rejoin_timeout": 120.0' in result.output
    # The dialect's move command carries the move wait as Move-ClusterGroup -Wait.
    assert "-Wait 45" in result.output


@pytest.mark.parametrize("command", ["status", "nodes", "groups"])
def test_yaml_output_is_the_json_document(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """-o yaml carries exactly the JSON document, whatever the names look like to YAML."""
    import json as json_module

    yaml = pytest.importorskip("yaml")  # PyYAML comes with the test extra (ansible-core)
    from typer.testing import CliRunner

    from clusterlib.sim import SimCluster
    from clusterlib_cli import options
    from clusterlib_cli.main import app

    tricky = ["yes", "- x", "a: b", "0x10", "null", "#hash", 'say "hi"\nthen', "~", "ÄÖ 中文"]

    def build(target: object) -> SimCluster:
        sim = SimCluster.classic(os="2016", speed=5000)
        for i, name in enumerate(tricky):
            sim.add_group(name, owner="NODE1" if i % 2 else "NODE2")
        return sim

    monkeypatch.setattr(options, "build_sim", build)
    runner = CliRunner()
    as_json = runner.invoke(app, [command, "--sim", "classic-2016", "-o", "json"])
    as_yaml = runner.invoke(app, [command, "--sim", "classic-2016", "-o", "yaml"])
    assert as_json.exit_code == 0 and as_yaml.exit_code == 0, as_yaml.output
    assert yaml.safe_load(as_yaml.output) == json_module.loads(as_json.output)


def test_keyring_through_the_real_package_in_a_process(tmp_path: Path) -> None:
    """--keyring through the installed keyring package, its backend chosen the package's own way
    (PYTHON_KEYRING_BACKEND): the password is found, used, and never printed."""
    import json as json_module
    import os
    import subprocess
    import sys

    pytest.importorskip("keyring")
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    sim = SimCluster.classic(os="2012R2")
    with sim.serve() as ep:
        store = tmp_path / "vault.json"
        store.write_text(json_module.dumps({f"clusterlib/{ep.username}@{ep.host}": ep.password}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERLIB_")}
        env.update(PYTHON_KEYRING_BACKEND="file_keyring.FileKeyring",
                   CLUSTERLIB_TEST_KEYRING_FILE=str(store),
                   PYTHONPATH=os.pathsep.join([str(fixtures), env.get("PYTHONPATH", "")]))
        done = subprocess.run([sys.executable, "-m", "clusterlib_cli", "nodes", "--host", ep.host,
                               "--port", str(ep.port), "--no-ssl", "--auth", "basic", "--user",
                               ep.username, "--keyring", "--json"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json_module.loads(done.stdout)["nodes"][0]["name"] == "NODE1"
    assert ep.password not in done.stdout + done.stderr
