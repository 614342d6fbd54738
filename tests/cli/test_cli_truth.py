"""The CLI never claims what did not happen: no implicit simulator, SIMULATED on every simulated
output, CLUSTERLIB_* variables, validated profiles, and cluster-supplied names that cannot drive
the terminal (CliRunner)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import clusterlib
import clusterlib_cli.main as cli_main
from clusterlib.sim import SimCluster
from clusterlib_cli import connect, options, profiles, render

app = cli_main.app
PS = ["--sim", "classic-2012r2"]
BASE_ENV = {"CLUSTERLIB_PASSWORD": "", "CLUSTERLIB_DEBUG": "", "NO_COLOR": "1", "COLUMNS": "300"}
# Every CLUSTERLIB_* connection variable blanked, so the developer's own environment cannot leak
# into a test (Click treats an empty variable as unset).
CONN_VARS = ["CLUSTERLIB_HOST", "CLUSTERLIB_SIM", "CLUSTERLIB_PROFILE", "CLUSTERLIB_PORT",
             "CLUSTERLIB_SSL", "CLUSTERLIB_USER", "CLUSTERLIB_AUTH", "CLUSTERLIB_CA_BUNDLE",
             "CLUSTERLIB_INSECURE", "CLUSTERLIB_DIALECT", "CLUSTERLIB_CONNECT_TIMEOUT",
             "CLUSTERLIB_SPEED", "CLUSTERLIB_TIME_SCALE", "CLUSTERLIB_NODE_PATH",
             "CLUSTERLIB_CLUSTER", "CLUSTERLIB_PASSWORD_STDIN", "CLUSTERLIB_PROFILES",
             "CLUSTERLIB_READ_TIMEOUT", "CLUSTERLIB_CALL_TIMEOUT", "CLUSTERLIB_CERT_PEM",
             "CLUSTERLIB_CERT_KEY_PEM", "CLUSTERLIB_ALLOW_CLEARTEXT_BASIC", "CLUSTERLIB_KEYRING"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    full = {**{v: "" for v in CONN_VARS}, **BASE_ENV, **(env or {})}
    return CliRunner().invoke(app, list(args), env=full)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- no implicit simulator -------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["status"], ["nodes"], ["groups", "--json"], ["node", "pause", "NODE1", "--yes"],
    ["node", "resume", "NODE1", "--yes"], ["group", "move", "SQL Group 1", "--yes"],
    ["upgrade", "plan"], ["upgrade", "run", "--yes"], ["lock", "show"],
])
def test_no_host_and_no_sim_is_a_one_line_usage_error(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for way in ("--host", "CLUSTERLIB_HOST", "--profile", "--sim classic"):
        assert way in lines[0]
    assert result.stdout == ""


def test_clusterlib_host_is_read_from_the_environment() -> None:
    port = closed_port()
    result = invoke("status", env={"CLUSTERLIB_HOST": "127.0.0.1", "CLUSTERLIB_PORT": str(port),
                                   "CLUSTERLIB_SSL": "0", "CLUSTERLIB_AUTH": "basic",
                                   "CLUSTERLIB_USER": "u", "CLUSTERLIB_PASSWORD": "pw",
                                   "CLUSTERLIB_CONNECT_TIMEOUT": "2"})
    assert result.exit_code == 3, result.output  # it really went to 127.0.0.1:port
    assert f"127.0.0.1:{port}" in result.stderr


def test_clusterlib_sim_from_the_environment_and_typed_sim_beats_an_env_host() -> None:
    result = invoke("nodes", "--json", env={"CLUSTERLIB_SIM": "classic-2012r2"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["simulated"] is True
    typed = invoke("nodes", "--json", *PS, env={"CLUSTERLIB_HOST": "cluster.example"})
    assert typed.exit_code == 0, typed.output
    assert json.loads(typed.stdout)["simulated"] is True
    both_typed = invoke("nodes", *PS, "--host", "h1")
    assert both_typed.exit_code == 2 and "not both" in both_typed.output


def test_every_connection_option_shows_its_variable_in_help() -> None:
    result = invoke("status", "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.stdout)
    for var in ("CLUSTERLIB_HOST", "CLUSTERLIB_CLUSTER", "CLUSTERLIB_USER", "CLUSTERLIB_AUTH",
                "CLUSTERLIB_SSL", "CLUSTERLIB_PORT", "CLUSTERLIB_CA_BUNDLE",
                "CLUSTERLIB_INSECURE", "CLUSTERLIB_DIALECT", "CLUSTERLIB_CONNECT_TIMEOUT",
                "CLUSTERLIB_PASSWORD", "CLUSTERLIB_PROFILE", "CLUSTERLIB_SIM",
                "CLUSTERLIB_SPEED", "CLUSTERLIB_TIME_SCALE", "CLUSTERLIB_NODE_PATH",
                "CLUSTERLIB_READ_TIMEOUT", "CLUSTERLIB_CALL_TIMEOUT", "CLUSTERLIB_CERT_PEM",
                "CLUSTERLIB_CERT_KEY_PEM", "CLUSTERLIB_ALLOW_CLEARTEXT_BASIC", "CLUSTERLIB_KEYRING"):
        assert var in text, var


def _profiles(tmp_path: Path, body: str) -> dict[str, str]:
    path = tmp_path / "profiles.toml"
    path.write_text(body, encoding="utf-8")
    return {"CLUSTERLIB_PROFILES": str(path)}


def test_profile_with_a_misspelt_key_is_refused_naming_it(tmp_path: Path) -> None:
    env = _profiles(tmp_path, '[profiles.prod]\nhots = "cluster.example"\n')
    result = invoke("node", "pause", "NODE1", "--yes", "--profile", "prod", env=env)
    assert result.exit_code == 2, result.output
    assert "'hots'" in result.output and "valid keys" in result.output
    assert "host" in result.output.split("valid keys")[1]


def test_profile_with_a_bad_value_is_refused(tmp_path: Path) -> None:
    env = _profiles(tmp_path, '[profiles.lab]\nhost = "h"\nauth = "telepathy"\n')
    result = invoke("status", "--profile", "lab", env=env)
    assert result.exit_code == 2 and "telepathy" in result.output and "negotiate" in result.output
    env = _profiles(tmp_path, '[profiles.lab]\nhost = "h"\nport = "many"\n')
    result = invoke("status", "--profile", "lab", env=env)
    assert result.exit_code == 2 and "'port'" in result.output


def test_profile_may_choose_the_simulator_and_the_command_line_overrides_it(
        tmp_path: Path) -> None:
    env = _profiles(tmp_path, '[profiles.lab]\nsim = "build:3x2"\n')
    doc = json.loads(invoke("nodes", "--json", "--profile", "lab", env=env).stdout)
    assert doc["simulated"] is True and len(doc["nodes"]) == 3
    port = closed_port()
    env = _profiles(tmp_path, f'[profiles.lab]\nhost = "127.0.0.1"\nport = {port}\nssl = false\n'
                    'auth = "basic"\nuser = "u"\nconnect-timeout = 2\n')
    real = invoke("status", "--profile", "lab", env={**env, "CLUSTERLIB_PASSWORD": "pw"})
    assert real.exit_code == 3 and f"127.0.0.1:{port}" in real.stderr
    # --sim typed on the command line wins over the profile's host (and its companions).
    typed = invoke("nodes", "--json", "--profile", "lab", *PS, env=env)
    assert typed.exit_code == 0, typed.output
    assert json.loads(typed.stdout)["simulated"] is True


# --- simulated outputs say so ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["status"], ["nodes"], ["groups"], ["node", "pause", "NODE2", "--yes"],
    ["group", "move", "SQL Group 1", "--to", "NODE2", "--yes"],
])
def test_simulated_text_says_simulated(args: list[str]) -> None:
    result = invoke(*args, *PS)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("SIMULATED: embedded simulator (classic-2012r2)")


@pytest.mark.parametrize("args", [
    ["status"], ["nodes"], ["groups"], ["node", "pause", "NODE2", "--yes"],
    ["group", "move", "SQL Group 1", "--to", "NODE2", "--yes"],
])
def test_simulated_json_says_simulated(args: list[str]) -> None:
    result = invoke(*args, *PS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["simulated"] is True


def test_a_host_is_not_marked_simulated() -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    with sim.serve() as ep:
        host = ["--host", ep.host, "--port", str(ep.port), "--no-ssl", "--auth", "basic",
                "--user", ep.username]
        env = {"CLUSTERLIB_PASSWORD": ep.password}
        doc = invoke("nodes", "--json", *host, env=env)
        text = invoke("nodes", *host, env=env)
    assert doc.exit_code == 0, doc.output
    assert json.loads(doc.stdout)["simulated"] is False
    assert text.exit_code == 0 and "SIMULATED" not in text.stdout


# --- terminal escapes ----------------------------------------------------------------------------

HOSTILE_NODE = "N\x1b]0;pwned\x07X"
HOSTILE_GROUP = "G\x1b[2J\u202eevil\x9b31m\r"
RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\r")


def _hostile_sim() -> SimCluster:
    return SimCluster({HOSTILE_NODE: [HOSTILE_GROUP, "Plain"], "OTHER": []}, os="2012R2",
                      upgrade_to="2016", speed=50_000.0)


def _assert_visible(text: str) -> None:
    for ch in RAW:
        assert ch not in text, (ch, text)


@pytest.mark.parametrize("args", [
    ["status", *PS], ["nodes", *PS], ["groups", *PS],
    ["node", "pause", "--yes", *PS, "--", HOSTILE_NODE],
    ["group", "move", "--to", "OTHER", "--yes", *PS, "--", HOSTILE_GROUP],
    ["upgrade", "plan", *PS],
])
def test_hostile_names_are_shown_not_obeyed(monkeypatch: pytest.MonkeyPatch,
                                            args: list[str]) -> None:
    sim = _hostile_sim()
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    _assert_visible(result.stdout)
    _assert_visible(result.stderr)
    assert "\\x1b" in result.stdout + result.stderr  # shown, as an escape


def test_hostile_names_through_node_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _hostile_sim()
    with clusterlib.connect(sim) as cluster:
        cluster.node(HOSTILE_NODE).pause()
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    result = invoke("node", "resume", "--yes", *PS, "--", HOSTILE_NODE)
    assert result.exit_code == 0, result.output
    _assert_visible(result.output)
    assert "N\\x1b]0;pwned\\x07X is Up" in result.stdout


def test_hostile_names_in_an_unknown_name_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _hostile_sim()
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    result = invoke("node", "pause", "--yes", *PS, "--", "NOPE\x1b[5m")
    assert result.exit_code == 1
    _assert_visible(result.output)
    assert "\\x1b" in result.stderr


def test_visible_escapes_every_kind() -> None:
    assert render.visible("a\x1b[31mb") == "a\\x1b[31mb"
    assert render.visible("x\u202ey\u2066z\u200b") == "x\\u202ey\\u2066z\\u200b"
    assert render.visible("\x00\x7f\x85\t\n") == "\\x00\\x7f\\x85\\x09\\x0a"
    assert render.visible("Zürich Ω データ") == "Zürich Ω データ"  # printable Unicode stays
    assert render.visible_lines("one\x1b\ntwo") == "one\\x1b\ntwo"


def test_hostile_names_through_an_upgrade_run_and_its_text_report(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sim = _hostile_sim()
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal))
    _assert_visible(result.stdout)
    _assert_visible(result.stderr)
    assert "N\\x1b]0;pwned\\x07X" in result.stderr  # the progress lines name the node, shown
    assert "N\\x1b]0;pwned\\x07X" in result.stdout  # and so does the report
    report = invoke("upgrade", "report", str(journal))
    assert report.exit_code == 0, report.output
    _assert_visible(report.stdout)
    assert "\\x1b" in report.stdout


@pytest.mark.parametrize("args", [["status", "--help"], ["sim", "serve", "--help"],
                                  ["upgrade", "run", "--help"]])
def test_sim_help_lists_the_layouts(args: list[str]) -> None:
    result = invoke(*args, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.stdout)
    for layout in ("classic (Windows 2000 -> 2003", "classic-2012r2", "build:NxM[@OS]"):
        assert layout in text, layout


# --- the resume command carries every connection option ---------------------------------------------

def test_resume_command_round_trips_every_connection_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the printed command's options parse to is the target the run used, whatever gave
    the values (command line, CLUSTERLIB_* variables or a profile), and it holds no secret."""
    import shlex

    from clusterlib_cli import upgrade_drive

    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    profiles = _profiles(tmp_path, '[profiles.prod]\nhost = "mgmt1.corp.example"\nport = 5986\n'
                         f'auth = "ntlm"\nca-bundle = "{bundle}"\nconnect-timeout = 12\n')
    seen: dict[str, Any] = {}

    def capture(target: Any, sim: Any = None) -> Any:
        seen["target"] = target
        raise SystemExit(0)

    monkeypatch.setattr(connect, "open_cluster", capture)
    result = invoke("status", "--profile", "prod", "--cluster", "CL1", "--dialect",
                    "clusterexe", "--password", "hunter2-secret",
                    env={**profiles, "CLUSTERLIB_USER": "CORP\\admin",
                         "CLUSTERLIB_NODE_PATH": "wsman/node/{node}"})
    assert result.exit_code == 0, result.output
    first = seen.pop("target")
    line = upgrade_drive.resume_command(tmp_path / "j.json", first,
                                       ["--command", r"D:\setup.exe /q"])
    assert "hunter2-secret" not in line
    argv = shlex.split(line)
    assert argv[:4] == ["clusterlib", "upgrade", "resume", str(tmp_path / "j.json")]
    assert argv[-2:] == ["--command", r"D:\setup.exe /q"]
    # The same options, given to a command, make the same target (password aside).
    again = invoke("status", *argv[4:-2], env={**profiles, "CLUSTERLIB_PASSWORD": "x"})
    assert again.exit_code == 0, again.output
    second = seen.pop("target")
    for field in ("host", "cluster", "user", "auth", "ssl", "port", "insecure", "dialect",
                  "connect_timeout", "node_path", "profile", "time_scale"):
        assert getattr(first, field) == getattr(second, field), field
    assert Path(str(first.ca_bundle)).resolve() == Path(str(second.ca_bundle)).resolve()
    assert first.host == "mgmt1.corp.example" and first.user == "CORP\\admin"
    assert first.connect_timeout == 12 and second.password is None


def test_profiles_live_in_the_platform_config_folder_and_the_example_parses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    folder = tmp_path / "xdg" / "clusterlib"
    folder.mkdir(parents=True)
    example = Path(__file__).resolve().parents[2] / "examples" / "profiles.toml"
    shutil.copy(example, folder / "profiles.toml")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CLUSTERLIB_PROFILES": ""}
    lab = invoke("nodes", "--json", "--profile", "lab", env=env)
    assert lab.exit_code == 0, lab.output
    assert json.loads(lab.stdout)["simulated"] is True
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLUSTERLIB_PROFILES", raising=False)
    for name in ("prod", "legacy"):
        target = options.make_target(profile=name)
        assert target.host is not None and not target.is_sim


def test_a_typed_false_flag_beats_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def capture(target: Any, sim: Any = None) -> Any:
        seen["target"] = target
        raise SystemExit(0)

    monkeypatch.setattr(connect, "open_cluster", capture)
    env = _profiles(tmp_path, '[profiles.p]\nhost = "h1.example"\nssl = true\nport = 5986\n')
    assert invoke("status", "--profile", "p", "--no-ssl", "--port", "5985", env=env).exit_code == 0
    assert seen["target"].ssl is False and seen["target"].port == 5985
    assert invoke("status", "--profile", "p", env={**env, "CLUSTERLIB_SSL": "0"}).exit_code == 0
    assert seen["target"].ssl is False  # the environment beats the profile too
    assert invoke("status", "--profile", "p", env=env).exit_code == 0
    assert seen["target"].ssl is True and seen["target"].host == "h1.example"


def test_every_profile_shown_in_the_docs_is_valid(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```toml blocks of docs/cli.md are profiles files: each profile must pass the same
    validation as a real one (known keys, right kinds, no password)."""
    import re as re_module

    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    blocks = re_module.findall(r"^```toml\n(.*?)^```", page, re_module.M | re_module.S)
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"p{i}.toml"
        path.write_text(block, encoding="utf-8")
        monkeypatch.setenv("CLUSTERLIB_PROFILES", str(path))
        import tomllib

        for name in tomllib.loads(block).get("profiles", {}):
            loaded = profiles.load_profile(name)
            for key, value in loaded.items():
                profiles.coerce_value(key, value)
