"""Hostile names through every CLI command that takes or shows a name, in both dialects.

Node and group names full of quotes, ``$()``, backticks, ``;``, ``|``, ``&``, ``%``, newlines,
non-ASCII and great length go through ``status --json``, ``nodes``, ``groups``, ``node pause``,
``node resume``, ``group move`` and ``upgrade plan``. The simulator's event log must show every
name received exactly as given (PowerShell: a parameter value; cluster.exe: one argv token), or
the cluster.exe dialect must refuse it up front with a clear error (exit 1) with no action sent.
Nothing else may ever run: no cmdlet outside the set clusterlib sends, no cluster.exe verb on a
line that was not built for it.

How the custom layout reaches the CLI: without ``--host`` every command builds its simulator
through ``clusterlib_cli.options.build_sim`` (a module-level factory, resolved at call time), so
the tests monkeypatch that function to return their own SimCluster. No CLI code changes.
The library-level version of this property over both transports is tests/core/test_hostile_names.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_helpers import ACTION_SWITCHES, PASSWORD, action_calls, skip_unless_chaos
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clusterlib.errors import UnsafeName
from clusterlib.sim import SimCluster
from clusterlib.wire.cmdline import check_name

cli_main = pytest.importorskip("clusterlib_cli.main")
from typer.testing import CliRunner  # noqa: E402

from clusterlib_cli import options, render  # noqa: E402

HOSTILE = "\"'`$();|&%<>^!\n\r\t ,=*?[]{}#@~\\/:ÄéßЖ中文🙂"
name_text = st.one_of(
    st.text(alphabet=st.one_of(st.sampled_from(list(HOSTILE)),
                               st.characters(min_codepoint=32, max_codepoint=0x2FFF,
                                             blacklist_categories=("Cs", "Cc"))),
            min_size=1, max_size=40),
    # Very long names: well past cmd.exe's column widths and any fixed-size buffer.
    st.text(alphabet="G$;|`\"", min_size=200, max_size=400),
).filter(lambda s: s.strip() == s and s != "" and s.lower() not in ("other", "cluster group"))

SPECIALS = [("$(Remove-Item C:\\ -Recurse)", "`whoami`"), ("a; Stop-Computer", "x | Out-Null"),
            ("it's \"quoted\"", "100% & more"), ("line\nbreak", "Grüße 中文"),
            ("'; Invoke-Expression 'x", "a,b,\"c\""), ("trailing\\", "@{n=1}"), ("-Force", "G" * 300),
            ("N%PATH%", "g^&calc"), ("NODE1 /pause", "G /moveto:OTHER")]

PS_CMDLETS = {"Get-Cluster", "Get-ClusterQuorum", "Get-ClusterNode", "Get-ClusterGroup",
              "Get-ClusterResource", "Get-ClusterOwnerNode", "Select-Object", "ConvertTo-Csv",
              "ConvertTo-Json", "Out-String", "Get-Command", "Move-ClusterGroup",
              "Suspend-ClusterNode", "Resume-ClusterNode", "Get-ClusterParameter",
              "Get-ClusterResourceType", "Get-ItemProperty", "Get-CimInstance", "Where-Object"}
DIALECT_OS = {"powershell": "2016", "clusterexe": "2003"}


@pytest.fixture(autouse=True)
def _fresh_render_state() -> Iterator[None]:
    yield
    render._SECRETS.clear()
    render.set_debug(False)


def _cli(monkeypatch: pytest.MonkeyPatch, sim: SimCluster, *args: str) -> Any:
    """One CLI invocation against ``sim`` (see the module docstring for the seam)."""
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    env = {"CLUSTERLIB_PASSWORD": "", "CLUSTERLIB_DEBUG": "", "NO_COLOR": "1", "COLUMNS": "400",
           "CLUSTERLIB_SIM": "classic"}  # the CLI needs --sim (or --host) to pick the simulator
    return CliRunner().invoke(cli_main.app, list(args), env=env)


def _unreadable(output: str) -> bool:
    """The cluster.exe dialect refused to guess a name from its column text (exit 1)."""
    return bool(re.search(r"error: cluster\.exe [a-z ]+: (ambiguous|unreadable) row", output))


def _safe_for_cmd(name: str) -> bool:
    try:
        check_name(name)
    except UnsafeName:
        return False
    return True


def _segments(line: str) -> list[str]:
    """cmd.exe's view of a line: split at every ``&`` outside double quotes."""
    parts, cur, quoted = [], "", False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "&" and not quoted:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*parts, cur.strip()]


def _ran_only_known(sim: SimCluster, dialect: str) -> None:
    """Nothing but what clusterlib builds was run."""
    ran = {e.subject for e in sim.calls()}
    if dialect == "powershell":
        assert ran <= PS_CMDLETS, ran - PS_CMDLETS
        return
    # The dialect probe asks for Get-Command once (refused: no PowerShell module on 2003).
    assert ran <= {"cluster.exe", "cmd", "Get-Command"}, ran
    for e in sim.calls("cmd"):
        # Every command cmd.exe sees is cluster.exe or one of clusterlib's own echo markers: a
        # name that broke out of its quotes would show up here as a command of its own.
        for seg in _segments(str(e.detail["line"])):
            assert seg.startswith("cluster.exe ") or re.fullmatch(
                r"echo ===clusterlib-part-\d+===", seg), (seg, e.detail["line"])


def _cluster_exe_actions(sim: SimCluster, start: int) -> list[list[str]]:
    """argv of every cluster.exe line logged since event ``start`` that carries an action verb."""
    out = []
    for e in sim.events[start:]:
        if e.kind == "call" and e.subject == "cluster.exe":
            argv = [str(a) for a in e.detail.get("argv") or []]
            if any(a.lower().startswith(ACTION_SWITCHES) for a in argv):
                out.append(argv)
    return out


def _check_names(monkeypatch: pytest.MonkeyPatch, dialect: str, node: str, group: str) -> None:
    if dialect == "clusterexe":
        # A Windows computer name (NetBIOS/DNS) cannot hold whitespace, and cluster.exe's group
        # listing reads the node column as one word; everything else stays as hostile as given.
        node = re.sub(r"\s", "-", node)
    sim = SimCluster({node: [group], "OTHER": []}, os=DIALECT_OS[dialect], speed=50_000.0)
    carried = dialect == "powershell" or (_safe_for_cmd(node) and _safe_for_cmd(group))
    # cluster.exe's listing keeps a lone CR or LF inside a name, but a CR LF inside one cannot be
    # told from the end of a row: that read is refused with a clear error, never a guessed name.
    readable = dialect == "powershell" or "\r\n" not in node + group

    # --- reads: the names come back exactly, or the read is refused.
    for args in (["status", "--json"], ["nodes", "--json"], ["groups", "--json"]):
        result = _cli(monkeypatch, sim, *args)
        if not readable:
            assert result.exit_code == 1, result.output
            assert "error:" in result.output and "cluster.exe" in result.output
            continue
        if dialect == "clusterexe" and _unreadable(result.output):
            continue
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        names = {n["name"] for n in doc.get("nodes", [])} | {g["name"] for g in doc.get(
            "groups", [])} if isinstance(doc, dict) else set()
        if isinstance(doc, list):
            names = {x["name"] for x in doc}
        assert (node in names) or (group in names), (args, names)
    if not readable:
        assert action_calls(sim) == []
        _ran_only_known(sim, dialect)
        return

    # --- actions
    # Names go after "--", as a user must write a name that starts with "-" ("-Force").
    steps = [(["node", "pause", "--yes", "--no-drain", "--", node], "Suspend-ClusterNode",
              {"Name": node}),
             (["node", "resume", "--yes", "--", node], "Resume-ClusterNode", {"Name": node}),
             (["group", "move", "--to", "OTHER", "--yes", "--", group], "Move-ClusterGroup",
              {"Name": group, "Node": "OTHER"})]
    for args, cmdlet, expected in steps:
        before = len(sim.events)
        result = _cli(monkeypatch, sim, *args)
        if dialect == "powershell":
            assert result.exit_code == 0, result.output
            sent = sim.calls(cmdlet)[-1].detail["params"]
            assert {k: sent[k] for k in expected} == expected  # byte for byte
        elif carried:
            # Sent, or the dialect could not read its own listing back unambiguously (names
            # that overflow cluster.exe's columns and hold blanks; see parse_resources) and
            # said so. Either way every action line carries the name as one exact argv token.
            assert result.exit_code == 0 or _unreadable(result.output), result.output
            for argv in _cluster_exe_actions(sim, before):
                assert expected["Name"] in argv, argv
            if result.exit_code == 0:
                assert len(_cluster_exe_actions(sim, before)) == 1
        else:
            name = args[-1]
            if _safe_for_cmd(name):
                # This name is fine; only the other one is not (it is not on this line).
                assert result.exit_code == 0 or _unreadable(result.output), result.output
                for argv in _cluster_exe_actions(sim, before):
                    assert name in argv, argv
                continue
            assert result.exit_code == 1, result.output
            assert "refused before sending anything" in result.output, result.output
            if args[1] != "resume":  # resume of a node that never paused is refused earlier
                assert "cannot be sent through cmd.exe" in result.output, result.output
            assert _cluster_exe_actions(sim, before) == [], "an action line was sent"

    # --- upgrade plan: a dry run reads, never acts, and names every node as it is.
    before_actions = len(action_calls(sim))
    result = _cli(monkeypatch, sim, "upgrade", "plan", "--json")
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 0 or result.stdout.lstrip().startswith("{"):
        plan = json.loads(result.stdout)
        assert set(plan["order"]) <= {node, "OTHER"}
        assert plan["original_placement"] == sim.snapshot().placement()  # names exactly as held
    else:
        assert "error:" in result.output
    assert len(action_calls(sim)) == before_actions, action_calls(sim)[before_actions:]
    _ran_only_known(sim, dialect)


@pytest.mark.parametrize("dialect", ["powershell", "clusterexe"])
@pytest.mark.parametrize(("node", "group"), SPECIALS, ids=[f"s{i}" for i in range(len(SPECIALS))])
def test_known_hostile_names_through_the_cli(monkeypatch: pytest.MonkeyPatch, dialect: str,
                                             node: str, group: str) -> None:
    _check_names(monkeypatch, dialect, node, group)


@pytest.mark.parametrize("dialect", ["powershell", "clusterexe"])
# No shrinking in the default run: a failure prints the example (and a seed) as found, rather
# than spending minutes on cluster round trips to make it smaller.
@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(node=name_text, group=name_text)
def test_generated_names_through_the_cli(monkeypatch: pytest.MonkeyPatch, dialect: str, node: str,
                                         group: str) -> None:
    if node.lower() == group.lower():
        return
    _check_names(monkeypatch, dialect, node, group)


@pytest.mark.chaos
@pytest.mark.parametrize("dialect", ["powershell", "clusterexe"])
def test_generated_names_through_the_cli_chaos(monkeypatch: pytest.MonkeyPatch, dialect: str,
                                               request: pytest.FixtureRequest) -> None:
    """400 generated pairs per dialect, with shrinking (opt-in: -m chaos)."""
    skip_unless_chaos(request)

    @settings(max_examples=400, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(node=name_text, group=name_text)
    def check(node: str, group: str) -> None:
        if node.lower() != group.lower():
            _check_names(monkeypatch, dialect, node, group)

    check()


@pytest.mark.parametrize(("node", "group"), [SPECIALS[0], SPECIALS[3]])
def test_hostile_names_through_the_cli_over_the_wire(monkeypatch: pytest.MonkeyPatch, node: str,
                                                     group: str) -> None:
    """The same through --host: the CLI's WinRM path (pypsrp, the loopback endpoint) carries the
    names as parameter values too."""
    sim = SimCluster({node: [group], "OTHER": []}, os="2016", speed=50_000.0)
    with sim.serve(password=PASSWORD, receive_timeout=0.05) as ep:
        host = ["--host", "127.0.0.1", "--port", str(ep.port), "--no-ssl", "--auth", "basic",
                "--user", ep.username, "--time-scale", f"{sim.speed:g}"]
        env = {"CLUSTERLIB_PASSWORD": PASSWORD, "NO_COLOR": "1", "CLUSTERLIB_DEBUG": ""}
        runner = CliRunner()
        result = runner.invoke(cli_main.app, ["group", "move", "--to", "OTHER", "--yes", *host,
                                              "--", group], env=env)
        assert result.exit_code == 0, result.output
        result = runner.invoke(cli_main.app, ["node", "pause", "--yes", *host, "--", node],
                               env=env)
        assert result.exit_code == 0, result.output
    # (The pause drained the core group with a Move-ClusterGroup of its own, hence "any".)
    assert any(c.detail["params"].get("Name") == group and c.detail["params"].get("Node") == "OTHER"
               for c in sim.calls("Move-ClusterGroup"))
    assert sim.calls("Suspend-ClusterNode")[-1].detail["params"]["Name"] == node
    _ran_only_known(sim, "powershell")
