"""The CLI's read and action commands, option validation, exit codes and error presentation (CliRunner)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import clusterlib
import clusterlib_cli.main as cli_main
from clusterlib.sim import SimCluster
from clusterlib_cli import options

app = cli_main.app
PS = ["--sim", "classic-2012r2"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None,
           input: str | None = None) -> Any:
    base = {"CLUSTERLIB_PASSWORD": "", "CLUSTERLIB_DEBUG": "", "NO_COLOR": "1"}
    return runner.invoke(app, list(args), env={**base, **(env or {})}, input=input)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- reads -------------------------------------------------------------------------------------------

def test_status_json_has_the_documented_fields(runner: CliRunner) -> None:
    result = invoke(runner, "status", *PS, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "clusterlib.status/1"
    assert set(doc) >= {"cluster", "endpoint", "dialect", "functional_level", "quorum",
                        "mixed_version", "health", "nodes", "groups"}
    assert doc["dialect"] == "powershell" and doc["health"] == {"ok": True, "problems": []}
    node1 = next(n for n in doc["nodes"] if n["name"] == "NODE1")
    assert set(node1) == {"name", "id", "state", "drain_status", "os_version", "service_version",
                          "lowest_version", "node_weight", "dynamic_weight", "groups"}
    assert node1["state"] == "Up" and "SQL Group 1" in node1["groups"]
    sql = next(g for g in doc["groups"] if g["name"] == "SQL Group 1")
    assert set(sql) == {"name", "state", "owner", "type", "priority", "is_core",
                        "preferred_owners", "possible_owners"}
    assert sql["owner"] == "NODE1" and sql["preferred_owners"] == ["NODE1", "NODE2"]


def test_status_table_for_people(runner: CliRunner) -> None:
    result = invoke(runner, "status", *PS)
    assert result.exit_code == 0, result.output
    for word in ("CLUSTER1", "healthy", "NODE1", "NODE2", "SQL Group 1", "File Group 4",
                 "powershell", "8.9600"):
        assert word in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_status_classic_is_the_windows_2000_cluster(runner: CliRunner) -> None:
    result = invoke(runner, "status", "--sim", "classic", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dialect"] == "clusterexe"
    assert {n["os_version"].split(" ")[0] for n in doc["nodes"]} == {"5.0.2195"}


def test_nodes_and_groups_json(runner: CliRunner) -> None:
    nodes = json.loads(invoke(runner, "nodes", "--sim", "build:3x7", "--json").stdout)
    assert nodes["schema"] == "clusterlib.nodes/1"
    assert [n["name"] for n in nodes["nodes"]] == ["NODE01", "NODE02", "NODE03"]
    groups = json.loads(invoke(runner, "groups", "--sim", "build:3x7", "--json").stdout)
    assert groups["schema"] == "clusterlib.groups/1"
    assert len(groups["groups"]) == 8  # seven plus the core group


def test_nodes_and_groups_tables(runner: CliRunner) -> None:
    assert "NODE2" in invoke(runner, "nodes", *PS).stdout
    out = invoke(runner, "groups", *PS).stdout
    assert "File Group 3" in out and "(core)" in out


# --- actions -------------------------------------------------------------------------------------------

def test_node_pause_drains_and_reports_moves(runner: CliRunner) -> None:
    result = invoke(runner, "node", "pause", "node1", *PS, "--yes", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "clusterlib.action/1" and doc["subject"] == "NODE1"
    assert next(n for n in doc["nodes"] if n["name"] == "NODE1")["state"] == "Paused"
    moved = {c["group"]: c["target"] for c in doc["placement_changes"]}
    assert moved == {"Cluster Group": "NODE2", "SQL Group 1": "NODE2", "SQL Group 2": "NODE2"}
    assert [m["group"] for m in doc["moves"]] == ["Cluster Group"]  # the one clusterlib moved itself


def test_node_pause_table_output_and_progress_on_stderr(runner: CliRunner) -> None:
    result = invoke(runner, "node", "pause", "NODE2", *PS, "--yes")
    assert result.exit_code == 0, result.output
    assert "File Group 3: NODE2 -> NODE1" in result.stdout
    assert "NODE2 is Paused" in result.stdout
    assert "NODE2: drain" in result.stderr  # the phase line of the (non-terminal) progress


def test_node_pause_no_drain_leaves_groups(runner: CliRunner) -> None:
    result = invoke(runner, "node", "pause", "NODE2", *PS, "--yes", "--no-drain", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["placement_changes"] == []


def test_unknown_node_lists_valid_names_exit_1(runner: CliRunner) -> None:
    result = invoke(runner, "node", "pause", "NODE9", *PS, "--yes")
    assert result.exit_code == 1
    assert "no node named 'NODE9'" in result.stderr
    assert "'NODE1', 'NODE2'" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_group_lists_valid_names_exit_1(runner: CliRunner) -> None:
    result = invoke(runner, "group", "move", "SQL Group 9", *PS, "--yes")
    assert result.exit_code == 1
    assert "no group named 'SQL Group 9'" in result.stderr and "'SQL Group 1'" in result.stderr


def test_group_move_to_named_node(runner: CliRunner) -> None:
    result = invoke(runner, "group", "move", "SQL Group 1", "--to", "NODE2", *PS, "--yes", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["moves"][0]["target"] == "NODE2" and doc["moves"][0]["state"] == "Online"


def test_group_move_to_unknown_node_exit_1(runner: CliRunner) -> None:
    result = invoke(runner, "group", "move", "SQL Group 1", "--to", "NODE7", *PS, "--yes")
    assert result.exit_code == 1 and "valid nodes: 'NODE1', 'NODE2'" in result.stderr


def test_resume_of_an_up_node_is_refused_exit_1(runner: CliRunner) -> None:
    result = invoke(runner, "node", "resume", "NODE1", *PS, "--yes")
    assert result.exit_code == 1 and "not Paused" in result.stderr


def test_resume_with_failback_on_a_paused_node(runner: CliRunner,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Each invocation gets a fresh simulator, so hand the command one prepared beforehand.
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    with clusterlib.connect(sim) as cluster:
        cluster.node("NODE1").pause()
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    result = invoke(runner, "node", "resume", "NODE1", *PS, "--failback", "immediate", "--yes",
                    "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert next(n for n in doc["nodes"] if n["name"] == "NODE1")["state"] == "Up"


def test_changes_need_confirmation_without_a_terminal(runner: CliRunner) -> None:
    result = invoke(runner, "node", "pause", "NODE1", *PS)
    assert result.exit_code == 2 and "--yes" in result.output


# --- usage errors (exit 2) -----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["status", "--host", "h1", "--sim", "classic"],
    ["status", "--sim", "classic", "--user", "bob"],
    ["status", "--sim", "classic", "--insecure"],
    ["status", "--sim", "nonsense"],
    ["status", "--sim", "build:0x3"],
    ["status", "--sim", "classic-2099"],
    ["status", "--host", "h1", "--speed", "10"],
    ["status", "--host", "h1", "--insecure", "--no-ssl"],
    ["status", "--host", "h1", "--password", "x", "--password-stdin"],
    ["status", "--dialect", "cobol"],
    ["node", "resume", "NODE1", "--failback", "sometimes", "--yes"],
    ["node", "pause"],
    ["frobnicate"],
])
def test_invalid_options_exit_2(runner: CliRunner, args: list[str]) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output


def test_insecure_with_ca_bundle_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    result = invoke(runner, "status", "--host", "h1", "--insecure", "--ca-bundle", str(bundle))
    assert result.exit_code == 2


# --- connection failures (exit 3) and secrets ----------------------------------------------------------

HOST_BASIC = ["--host", "127.0.0.1", "--no-ssl", "--auth", "basic", "--user", "clusterlib"]


def test_unreachable_cluster_exit_3_within_connect_timeout(runner: CliRunner) -> None:
    started = time.monotonic()
    result = invoke(runner, "status", *HOST_BASIC, "--port", str(closed_port()),
                    "--connect-timeout", "2", env={"CLUSTERLIB_PASSWORD": "Unused-Pw-123"})
    assert result.exit_code == 3, result.output
    assert time.monotonic() - started < 10
    assert "Unused-Pw-123" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def endpoint() -> Iterator[Any]:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    with sim.serve(receive_timeout=0.05) as ep:
        yield ep


def test_wrong_password_exit_3_and_never_shown(runner: CliRunner, endpoint: Any) -> None:
    result = invoke(runner, "status", *HOST_BASIC, "--port", str(endpoint.port),
                    "--connect-timeout", "5", env={"CLUSTERLIB_PASSWORD": "Wr0ng-Secret-Pw"})
    assert result.exit_code == 3, result.output
    assert "authentication failed" in result.stderr
    assert "Wr0ng-Secret-Pw" not in result.output
    assert endpoint.password not in result.output


def test_right_password_from_stdin_over_the_loopback_endpoint(runner: CliRunner,
                                                              endpoint: Any) -> None:
    result = invoke(runner, "status", *HOST_BASIC, "--port", str(endpoint.port), "--time-scale",
                    str(endpoint.time_scale), "--password-stdin", "--json",
                    input=endpoint.password + "\n")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["endpoint"] == f"127.0.0.1:{endpoint.port}" and len(doc["nodes"]) == 2
    assert endpoint.password not in result.output


def test_password_option_warns(runner: CliRunner, endpoint: Any) -> None:
    result = invoke(runner, "nodes", *HOST_BASIC, "--port", str(endpoint.port),
                    "--password", endpoint.password)
    assert result.exit_code == 0, result.output
    assert "shell history" in result.stderr
    assert endpoint.password not in result.stderr


def test_error_text_is_scrubbed_of_the_password(runner: CliRunner,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A foreign exception text that echoes the password must still not show it.
    def leaky_connect(*args: Any, **kw: Any) -> Any:
        raise clusterlib.AuthenticationError(f"rejected {kw.get('username')}:{kw.get('password')}")

    monkeypatch.setattr(clusterlib, "connect", leaky_connect)
    result = invoke(runner, "status", *HOST_BASIC, env={"CLUSTERLIB_PASSWORD": "Leaky-Pw-42"})
    assert result.exit_code == 3
    assert "Leaky-Pw-42" not in result.output and "********" in result.stderr


def test_no_password_and_no_terminal_is_a_usage_error(runner: CliRunner) -> None:
    result = invoke(runner, "status", *HOST_BASIC)
    assert result.exit_code == 2 and "CLUSTERLIB_PASSWORD" in result.output


def test_debug_shows_the_traceback(runner: CliRunner) -> None:
    result = invoke(runner, "node", "pause", "NODE9", *PS, "--yes", "--debug")
    assert result.exit_code == 1 and "Traceback" in result.stderr


# --- profiles ------------------------------------------------------------------------------------------

def test_profile_supplies_options(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text('[profiles.lab]\nsim = "build:2x3"\n')
    result = invoke(runner, "nodes", "--profile", "lab", "--json",
                    env={"CLUSTERLIB_PROFILES": str(path)})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["nodes"]) == 2
    missing = invoke(runner, "nodes", "--profile", "prod", env={"CLUSTERLIB_PROFILES": str(path)})
    assert missing.exit_code == 2 and "lab" in missing.output


def test_profile_with_a_password_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text('[profiles.bad]\nhost = "h1"\npassword = "x"\n')
    result = invoke(runner, "nodes", "--profile", "bad", env={"CLUSTERLIB_PROFILES": str(path)})
    assert result.exit_code == 2 and "holds a password" in result.output


# --- layouts -------------------------------------------------------------------------------------------

def test_layouts_parse() -> None:
    assert options.parse_layout("classic") == options.Layout("classic", "2000", "2003")
    assert options.parse_layout("classic-2012r2") == options.Layout("classic", "2012R2", "2016")
    assert options.parse_layout("build:4x20@2019") == options.Layout("build", "2019", "2022", 4, 20)


def test_help_lists_every_command(runner: CliRunner) -> None:
    out = invoke(runner, "--help").stdout
    for name in ("status", "nodes", "groups", "node", "group", "upgrade", "lock", "sim", "demo"):
        assert name in out
