"""Names are data: quotes, $(), backticks, ;, |, &, %, newlines and non-ASCII travel as parameter
values, arrive byte for byte, and are never executed."""

from __future__ import annotations

from conftest import ConnectSim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusterlib import GroupState, NodeState
from clusterlib.sim import SimCluster

HOSTILE = "\"'`$();|&%<>^!\n\r\t ,=*?[]{}#@~\\/:ÄéßЖ中文🙂"
name_text = st.text(
    alphabet=st.one_of(st.sampled_from(list(HOSTILE)),
                       st.characters(min_codepoint=32, max_codepoint=0x2FFF,
                                     blacklist_categories=("Cs", "Cc"))),
    min_size=1, max_size=40,
).filter(lambda s: s.strip() == s and s.strip() != "")

SPECIALS = ["$(Remove-Item C:\\ -Recurse)", "`whoami`", "a; Stop-Computer", "x | Out-Null",
            "it's \"quoted\"", "100% & more", "line\nbreak", "Grüße 中文", "'; Invoke-Expression 'x",
            "a,b,\"c\"", "trailing\\", "@{n=1}", "-Force", "G" * 300]


def _check(connect: ConnectSim, node_name: str, group_name: str) -> None:
    sim = SimCluster({node_name: [group_name], "OTHER": []}, os="2016")
    cluster = connect(sim)
    snap = cluster.snapshot()
    assert snap.node(node_name).name == node_name
    assert snap.group(group_name).owner == node_name
    after = cluster.group(group_name).move("OTHER")
    assert after.group(group_name).owner == "OTHER"
    assert sim.calls("Move-ClusterGroup")[-1].detail["params"]["Name"] == group_name
    after = cluster.node(node_name).pause(drain=False)
    assert after.node(node_name).state is NodeState.Paused
    assert sim.calls("Suspend-ClusterNode")[-1].detail["params"]["Name"] == node_name
    after = cluster.node(node_name).resume()
    assert after.node(node_name).state is NodeState.Up
    assert sim.calls("Resume-ClusterNode")[-1].detail["params"]["Name"] == node_name
    assert sim.snapshot().group(group_name).state is GroupState.Online
    # Nothing but the cmdlets clusterlib sends was ever run.
    ran = {e.subject for e in sim.calls()}
    assert ran <= {"Get-Cluster", "Get-ClusterQuorum", "Get-ClusterNode", "Get-ClusterGroup",
                   "Get-ClusterResource", "Get-ClusterOwnerNode", "Select-Object", "ConvertTo-Csv",
                   "ConvertTo-Json", "Out-String", "Get-Command", "Move-ClusterGroup",
                   "Suspend-ClusterNode", "Resume-ClusterNode"}


def test_known_hostile_names(connect_sim: ConnectSim) -> None:
    for i, bad in enumerate(SPECIALS):
        _check(connect_sim, f"N{i} {bad[:15]}".strip(), bad)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node_name=name_text, group_name=name_text)
def test_generated_names_arrive_byte_for_byte(connect_sim: ConnectSim, node_name: str,
                                              group_name: str) -> None:
    if node_name.lower() == "other" or group_name.lower() == "cluster group":
        return
    _check(connect_sim, node_name, group_name)


# ---- cluster.exe clusters: a drain either completes exactly or changes nothing -----------------

CLUSTER_EXE_CHARS = "\"'`$();|&%<>^!\n\t ,=*?[]{}#@~\\/:Äé中\uff02\uff05\uff3c\u00a5\u00a7()-"
cx_names = st.text(
    alphabet=st.one_of(st.sampled_from(list(CLUSTER_EXE_CHARS)), st.sampled_from("abcXYZ019")),
    min_size=1, max_size=30,
).filter(lambda s: s.strip() != "" and s.strip().lower() != "cluster group")


def _changes(sim: SimCluster) -> list[list[str]]:
    out = []
    for call in sim.calls("cluster.exe"):
        argv = call.detail["argv"]
        if any(a.lower() in ("/pause", "/resume") or a.lower().startswith("/move") for a in argv):
            out.append(argv)
    return out


@settings(max_examples=25, deadline=None)
@given(names=st.lists(cx_names, min_size=1, max_size=3, unique_by=lambda s: s.lower()))
def test_cluster_exe_drain_completes_exactly_or_changes_nothing(names: list[str]) -> None:
    import clusterlib
    from clusterlib.errors import PreconditionFailed

    sim = SimCluster({"NODE1": names, "NODE2": []}, os="2003")
    cluster = clusterlib.connect(sim)
    try:
        after = cluster.node("NODE1").pause(drain=True)
    except PreconditionFailed as exc:
        assert "Nothing was sent" in str(exc) or "cannot" in str(exc)
        assert _changes(sim) == []
        assert sim.node("NODE1").state is NodeState.Up
        assert all(sim.group(n).owner == "NODE1" for n in names)
        return
    assert after.node("NODE1").state is NodeState.Paused
    assert all(sim.group(n).owner == "NODE2" for n in names)  # every group, the very ones
    moved = [argv[1] for argv in _changes(sim) if argv[0] == "group"]
    core = next(g.name for g in sim.groups.values() if g.is_core)
    assert sorted(moved) == sorted([*names, core])  # byte for byte, each once


cx_node_names = st.text(
    alphabet=st.one_of(st.sampled_from(list("\"'`$();|&%<>^! ,=*?[]{}#@~\\/:Äé中\uff02-")),
                       st.sampled_from("abcXYZ019")),
    min_size=1, max_size=20,
).filter(lambda s: s.strip() == s)


@settings(max_examples=20, deadline=None)
@given(n1=cx_node_names, n2=cx_node_names, group=cx_names)
def test_cluster_exe_node_names_read_exactly_and_drain_or_refuse(n1: str, n2: str,
                                                                 group: str) -> None:
    import clusterlib
    from clusterlib.errors import PreconditionFailed

    if n1.lower() == n2.lower():
        return
    sim = SimCluster({n1: [group], n2: []}, os="2003")
    cluster = clusterlib.connect(sim)
    snap = cluster.snapshot(owners=True)  # never fails because of a name
    assert {n.name for n in snap.nodes} == {n1, n2}
    # Listed without the blanks at its ends, which the fixed-width listing cannot show.
    listed = [g for g in snap.groups if g.name.strip(" \t") == group.strip(" \t")]
    assert len(listed) == 1 and listed[0].owner == n1
    try:
        cluster.node(n1).pause(drain=True)
    except PreconditionFailed:
        assert _changes(sim) == [] and sim.node(n1).state is NodeState.Up
        return
    assert sim.node(n1).state is NodeState.Paused and sim.group(group).owner == n2
