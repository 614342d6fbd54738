"""The simulator's cluster.exe: syntax it accepts, the layout it prints, errors, and its call log."""

from __future__ import annotations

import pytest

from clusterlib.model import GroupState, NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim import locale as sim_locale
from clusterlib.sim.clusterexe_emulator import NOT_RECOGNIZED, run_cluster_exe
from clusterlib.sim.cmdshell import run_command_line
from clusterlib.wire import cluster_text as cx


@pytest.fixture
def sim() -> SimCluster:
    return SimCluster.classic()


def test_node_and_group_listings_read_back_as_ground_truth(sim: SimCluster) -> None:
    truth = sim.snapshot()
    nodes = cx.parse_nodes(run_cluster_exe(sim, "cluster.exe node").stdout)
    assert [(n.name, n.state, n.id) for n in nodes] == [(n.name, n.state, n.id)
                                                       for n in truth.nodes]
    groups = cx.parse_groups(run_cluster_exe(sim, "cluster.exe group").stdout)
    assert [(g.name, g.owner, g.state) for g in groups] == [(g.name, g.owner, g.state)
                                                          for g in truth.groups]
    res = cx.parse_resources(run_cluster_exe(sim, "cluster.exe res").stdout,
                             groups=[g.name for g in truth.groups])
    assert [(r.name, r.group, r.owner) for r in res] == [(r.name, r.group, r.owner)
                                                       for r in truth.resources]


@pytest.mark.parametrize("line", [
    'cluster.exe node "NODE1"', 'cluster.exe node "NODE1" /status', 'cluster node NODE1 /stat',
    'CLUSTER.EXE NODE "node1" /STAT', 'cluster /cluster:CLUSTER1 node "NODE1"',
    'cluster CLUSTER1 node "NODE1"', 'cluster /cluster:"cluster1" node NODE1 /Status',
])
def test_spellings_cluster_exe_accepts(sim: SimCluster, line: str) -> None:
    result = run_cluster_exe(sim, line)
    assert result.exit_code == 0, result.stderr
    assert cx.parse_nodes(result.stdout)[0].name == "NODE1"


def test_abbreviations(sim: SimCluster) -> None:
    assert run_cluster_exe(sim, "cluster res").exit_code == 0
    assert run_cluster_exe(sim, "cluster resource").stdout == run_cluster_exe(
        sim, "cluster res").stdout
    assert run_cluster_exe(sim, "cluster /ver").stdout == run_cluster_exe(
        sim, "cluster /VERSION").stdout
    assert cx.parse_props(run_cluster_exe(sim, 'cluster node "NODE1" /prop').stdout) == \
        cx.parse_props(run_cluster_exe(sim, 'cluster node NODE1 /PROPERTIES').stdout)
    assert run_cluster_exe(sim, "cluster /priv").exit_code == 0
    assert run_cluster_exe(sim, "cluster /privproperties").exit_code == 0


def test_version_and_node_properties(sim: SimCluster) -> None:
    ver = cx.parse_version(run_cluster_exe(sim, "cluster.exe /ver").stdout)
    assert (ver.cluster_name, ver.major, ver.minor, ver.build) == ("CLUSTER1", 5, 0, 2195)
    props = cx.parse_props(run_cluster_exe(sim, 'cluster.exe node "NODE2" /prop').stdout,
                           object_name="NODE2")
    assert props["NodeHighestVersion"] == (3 << 16) | 2195
    assert props["BuildNumber"] == 2195 and props["CSDVersion"] == "Service Pack 4"


def test_all_node_properties_in_one_table(sim: SimCluster) -> None:
    from clusterlib.dialects.clusterexe_dialect import props_by_object

    text = run_cluster_exe(sim, "cluster.exe node /prop").stdout
    assert text.startswith("Listing properties for all nodes:\r\n")
    props = props_by_object(text, ["NODE1", "NODE2"])
    assert set(props) == {"node1", "node2"}
    assert props["node2"]["MajorVersion"] == 5


def test_pause_resume_and_their_errors(sim: SimCluster) -> None:
    out = run_cluster_exe(sim, 'cluster.exe node "NODE2" /pause')
    assert out.exit_code == 0 and cx.parse_nodes(out.stdout)[0].state is NodeState.Paused
    assert sim.node("NODE2").state is NodeState.Paused
    assert run_cluster_exe(sim, 'cluster.exe node "NODE2" /resume').exit_code == 0
    again = run_cluster_exe(sim, 'cluster.exe node "NODE2" /resume')
    assert again.exit_code == 5058
    # In the cluster's UI language; the code and its "(0x...)." insert are the same in all.
    assert again.stderr == sim_locale.format_error(5058, sim.language)
    assert cx.error_codes(again.stderr) == [5058]
    if sim.language == "en-US":
        assert again.stderr == cx.format_error(5058)
        assert again.stderr.startswith("System error 5058 has occurred (0x000013c2).\r\n\r\n")
    # ResumeNode prints its caption and the node row whatever happens.
    assert "Resuming node 'NODE2'..." in again.stdout
    unknown = run_cluster_exe(sim, 'cluster.exe node "NODE9" /pause')
    assert unknown.exit_code == 5042 and unknown.stdout == ""


def test_move_with_and_without_node(sim: SimCluster) -> None:
    out = run_cluster_exe(sim, 'cluster.exe group "SQL Group 1" /moveto:"NODE2" /wait:60')
    assert out.exit_code == 0
    assert cx.parse_groups(out.stdout)[0].owner == "NODE2"
    assert sim.group("SQL Group 1").owner == "NODE2"
    out = run_cluster_exe(sim, 'cluster.exe group "SQL Group 1" /move /wait')
    assert out.exit_code == 0 and sim.group("SQL Group 1").owner == "NODE1"
    # Moving to the owner only prints the status.
    assert run_cluster_exe(sim, 'cluster group "SQL Group 1" /moveto:NODE1').exit_code == 0


def test_move_with_zero_wait_leaves_it_pending(sim: SimCluster) -> None:
    out = run_cluster_exe(sim, 'cluster.exe group "SQL Group 2" /moveto:"NODE2" /wait:0')
    assert out.exit_code == 0
    assert cx.parse_groups(out.stdout)[0].state is GroupState.Pending
    sim.settle()
    assert sim.group("SQL Group 2").state is GroupState.Online


def test_move_to_paused_node_is_refused(sim: SimCluster) -> None:
    sim.pause_node("NODE2")
    out = run_cluster_exe(sim, 'cluster.exe group "SQL Group 1" /moveto:"NODE2"')
    assert out.exit_code == 5070
    refused = cx.parse_error(out.stdout, out.stderr, out.exit_code)
    assert refused is not None and refused.symbol == "ERROR_CLUSTER_NODE_PAUSED"


def test_owner_listings(sim: SimCluster) -> None:
    pref = run_cluster_exe(sim, 'cluster.exe group "File Group 3" /listowners')
    assert cx.parse_owners(pref.stdout) == ["NODE2", "NODE1"]
    poss = run_cluster_exe(sim, 'cluster.exe res "Cluster Name" /listowners')
    assert cx.parse_owners(poss.stdout) == ["NODE1", "NODE2"]


def test_private_properties(sim: SimCluster) -> None:
    assert run_cluster_exe(sim, 'cluster.exe /priv Lock="owner one"').exit_code == 0
    assert run_cluster_exe(sim, "cluster.exe /priv Count=5:DWORD").exit_code == 0
    assert sim.private_props == {"Lock": "owner one", "Count": 5}
    listed = cx.parse_props(run_cluster_exe(sim, "cluster.exe /priv").stdout)
    assert listed == {"Lock": "owner one", "Count": 5}
    assert run_cluster_exe(sim, 'cluster.exe /priv:"Lock" /usedefault').exit_code == 0
    assert sim.private_props == {"Count": 5}


def test_wrong_cluster_name_is_rpc_unavailable(sim: SimCluster) -> None:
    out = run_cluster_exe(sim, 'cluster.exe /cluster:"OTHER" node')
    assert out.exit_code == 1722 and cx.error_codes(out.stderr) == [1722]
    assert out.stderr == sim_locale.format_error(1722, sim.language)


def test_unknown_options_fail_loudly(sim: SimCluster) -> None:
    for line in ("cluster.exe node /evict", "cluster.exe group G /bogus", "cluster.exe netint",
                 "cluster.exe /quorum:Other"):
        out = run_cluster_exe(sim, line)
        assert out.exit_code != 0 and "not simulated" in out.stderr, line


def test_unclosed_quote_is_refused(sim: SimCluster) -> None:
    out = run_cluster_exe(sim, 'cluster.exe group "SQL')
    assert out.exit_code != 0 and "Closing quote" in out.stderr


def test_calls_are_logged_token_for_token(sim: SimCluster) -> None:
    run_cluster_exe(sim, 'cluster.exe group "SQL Group 1" /moveto:"NODE2" /wait:5')
    call = sim.calls("cluster.exe")[-1]
    assert call.detail["argv"] == ["group", "SQL Group 1", "/moveto:NODE2", "/wait:5"]
    assert call.detail["line"] == 'cluster.exe group "SQL Group 1" /moveto:"NODE2" /wait:5'


def test_no_cluster_exe_on_modern_releases() -> None:
    sim = SimCluster.classic(os="2016")
    out = run_command_line(sim, "cluster.exe /ver")
    assert (out.stderr, out.exit_code) == (NOT_RECOGNIZED, 9009)


def test_chained_lines_run_in_turn(sim: SimCluster) -> None:
    out = run_command_line(sim, "cluster.exe node & echo ===x=== & cluster.exe /ver")
    before, _, after = out.stdout.partition("===x===")
    assert cx.parse_nodes(before) and cx.parse_version(after).cluster_name == "CLUSTER1"
    assert [c.detail["argv"] for c in sim.calls("cluster.exe")] == [["node"], ["/ver"]]


def test_dead_cluster_answers_like_one(sim: SimCluster) -> None:
    sim.up = False
    out = run_cluster_exe(sim, "cluster.exe node")
    assert out.exit_code == 1753


@pytest.mark.parametrize(("os", "expected"), [("2000", "DiskOnly"), ("2003", "DiskOnly"),
                                              ("2008R2", "")])
def test_quorum_listing(os: str, expected: str) -> None:
    from clusterlib.dialects.clusterexe_dialect import quorum_type_of

    out = run_cluster_exe(SimCluster.classic(os=os), "cluster.exe /quorum")
    assert out.exit_code == 0
    assert out.stdout.startswith("Quorum Resource Name Device")
    assert quorum_type_of(out.stdout) == expected
