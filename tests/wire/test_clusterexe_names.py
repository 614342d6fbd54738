"""Realistic and hostile names on cluster.exe clusters: every handle operation works for the names
cluster.exe can carry, the rest are refused before anything changes, and snapshots never fail
because of one odd name."""

from __future__ import annotations

import pytest
from conftest import ConnectSim

import clusterlib
from clusterlib.cluster import Group
from clusterlib.dialects.clusterexe_dialect import ClusterExeDialect, quorum_resource_of
from clusterlib.errors import GroupNotFound, ParseError, PreconditionFailed, UnsafeName
from clusterlib.model import GroupState, NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim.simcluster import SimResource
from clusterlib.sim.transport import InProcessTransport
from clusterlib.wire import CmdLine, CmdResult
from clusterlib.wire import cluster_text as cx

REALISTIC = ["SQL Server (INSTANCE01) Group", "Exchange Virtual Server 1",
             "File Server - Finance Department Shares", "MSDTC Group (Clustered DTC)"]


def changes(sim: SimCluster) -> list[list[str]]:
    """cluster.exe calls that change something (pause, resume, moves)."""
    out = []
    for call in sim.calls("cluster.exe"):
        argv = [a.lower() for a in call.detail["argv"]]
        if any(a in ("/pause", "/resume", "/move") or a.startswith("/moveto") for a in argv):
            out.append(call.detail["argv"])
    return out


# ---- realistic names: everything works ----------------------------------------------------------


def test_realistic_names_move_drain_resume_and_snapshot(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"NODE1": REALISTIC, "NODE2": []}, os="2003")
    cluster = connect_sim(sim)
    snap = cluster.snapshot(owners=True)
    core = next(g.name for g in sim.groups.values() if g.is_core)  # named in the UI language
    assert {g.name for g in snap.groups} == {*REALISTIC, core}
    assert {r.name for r in snap.resources} >= {f"{g} Resource" for g in REALISTIC}

    after = cluster.group(REALISTIC[0]).move("NODE2")
    assert after.group(REALISTIC[0]).owner == "NODE2"
    assert sim.group(REALISTIC[0]).owner == "NODE2"

    after = cluster.node("NODE1").pause(drain=True)
    assert after.node("NODE1").state is NodeState.Paused
    assert all(sim.group(g).owner == "NODE2" for g in REALISTIC)
    assert all(g.state is GroupState.Online for g in after.groups)

    after = cluster.node("NODE1").resume()
    assert after.node("NODE1").state is NodeState.Up
    # The very names were sent, byte for byte.
    moved = {c[1] for c in changes(sim) if c[0] == "group"}
    assert moved == set(REALISTIC) | {core}


def test_read_group_with_owners_settles_overflowing_resource_rows() -> None:
    # Both the resource and the group name overflow their columns and contain blanks: the row
    # reads two ways unless the group names are known. read_group(owners=True) knows them.
    sim = SimCluster({"NODE1": [REALISTIC[0], "Exchange Virtual"], "NODE2": []}, os="2003")
    sim.group("Exchange Virtual").resources = [
        SimResource("SQL Server (INSTANCE01) Group Resource Exchange", "Generic Service",
                    possible_owners=["NODE1"])]
    d = ClusterExeDialect(InProcessTransport(sim))
    info = d.read_group(REALISTIC[0], owners=True)
    assert info.name == REALISTIC[0] and info.owner == "NODE1"
    other = d.read_group("Exchange Virtual", owners=True)
    assert other.possible_owners == ("NODE1",)


# ---- names cluster.exe cannot carry: refused before anything is sent ----------------------------


@pytest.mark.parametrize("bad", ["R&D Share", "100% Uptime", "Line\nBreak", 'Say "hi"',
                                 "Fullwidth \uff02quote"])
def test_drain_refuses_before_the_pause(connect_sim: ConnectSim, bad: str) -> None:
    sim = SimCluster({"NODE1": ["Good", bad], "NODE2": []}, os="2003")
    cluster = connect_sim(sim)
    with pytest.raises(UnsafeName) as err:
        cluster.node("NODE1").pause(drain=True)
    assert isinstance(err.value, PreconditionFailed)
    assert repr(bad) in str(err.value) or repr(bad.split("\n")[0]) in str(err.value)
    assert "Nothing was sent" in str(err.value)
    assert changes(sim) == []  # the simulator's event log: no pause, no move
    assert sim.node("NODE1").state is NodeState.Up
    assert sim.group("Good").owner == "NODE1" and sim.group(bad).owner == "NODE1"


def test_drain_of_another_node_still_works(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"NODE1": ["R&D Share"], "NODE2": ["Good"]}, os="2003")
    cluster = connect_sim(sim)
    after = cluster.node("NODE2").pause(drain=True)
    assert after.node("NODE2").state is NodeState.Paused
    assert sim.group("Good").owner == "NODE1"


def test_pause_without_drain_needs_no_group_names() -> None:
    sim = SimCluster({"NODE1": ["R&D Share"], "NODE2": []}, os="2003")
    cluster = clusterlib.connect(sim)
    assert cluster.node("NODE1").pause(drain=False).node("NODE1").state is NodeState.Paused


def test_snapshot_survives_a_group_name_with_a_newline(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"NODE1": ["A\nB", "Good", "tail\n"], "NODE2": []}, os="2003")
    cluster = connect_sim(sim)
    for owners in (False, True):
        snap = cluster.snapshot(owners=owners)
        core = next(g.name for g in sim.groups.values() if g.is_core)
        assert {g.name for g in snap.groups} == {"A\nB", "Good", "tail\n", core}
    # Everything else works; the odd group is refused with its name, before sending.
    assert cluster.group("Good").move("NODE2").group("Good").owner == "NODE2"
    sent = len(sim.calls("cluster.exe"))
    with pytest.raises(UnsafeName, match=r"'A\\nB'"):
        Group(cluster, "A\nB").move_to("NODE2")
    assert len(sim.calls("cluster.exe")) == sent


def test_a_lone_carriage_return_is_part_of_the_name_not_a_line_break() -> None:
    """Only CR LF and LF end a line: 'z\\r}A' is read as itself, not as 'z\\n}A'."""
    sim = SimCluster({"NODE1": ["z\r}A", "Good"], "NODE2": []}, os="2003")
    names = {g.name for g in clusterlib.connect(sim).snapshot().groups}
    assert {"z\r}A", "Good"} <= names and "z\n}A" not in names


def test_a_name_with_its_own_crlf_is_refused_not_swallowed() -> None:
    """The fragment before a complete row belongs to no row: a ParseError naming it, never a
    name made of the fragment and the rows after it."""
    sim = SimCluster({"NODE1": ["z\r\n}A", "Good"], "NODE2": []}, os="2003")
    with pytest.raises(ParseError, match="unreadable row 'z'"):
        clusterlib.connect(sim).snapshot()


# ---- names that differ only by blanks -----------------------------------------------------------


def test_trailing_blank_twins_are_refused_not_confused(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"NODE1": ["Data "], "NODE2": ["Data"], "NODE3": []}, os="2003")
    cluster = connect_sim(sim)
    for node in ("NODE1", "NODE2"):
        with pytest.raises(UnsafeName, match="2 groups are listed as 'Data'"):
            cluster.node(node).pause(drain=True)
    assert changes(sim) == []
    assert sim.group("Data ").owner == "NODE1" and sim.group("Data").owner == "NODE2"
    # Named exactly, each one moves, and only that one.
    Group(cluster, "Data ").move_to("NODE3")
    assert sim.group("Data ").owner == "NODE3" and sim.group("Data").owner == "NODE2"
    Group(cluster, "Data").move_to("NODE3")
    assert sim.group("Data").owner == "NODE3"


def test_a_lone_trailing_blank_name_is_kept_exactly() -> None:
    sim = SimCluster({"NODE1": ["Data "], "NODE2": []}, os="2003")
    cluster = clusterlib.connect(sim)
    d = cluster.dialect
    assert isinstance(d, ClusterExeDialect)
    assert d.read_group("Data ").name == "Data "  # not "Data": that one does not exist
    assert Group(cluster, "Data ").move_to("NODE2").name == "Data "
    assert sim.group("Data ").owner == "NODE2"
    # The listing shows it as "Data", which names no group: a drain refuses, not GroupNotFound
    # half way.
    Group(cluster, "Data ").move_to("NODE1")
    with pytest.raises(UnsafeName, match="does not answer to that name"):
        cluster.node("NODE1").pause(drain=True)
    assert sim.node("NODE1").state is NodeState.Up
    with pytest.raises(GroupNotFound):
        d.read_group("Data")


def test_cluster_group_by_its_exact_name_with_a_trailing_blank(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"NODE1": ["Data "], "NODE2": []}, os="2003")
    cluster = connect_sim(sim)
    group = cluster.group("Data ")  # listed as "Data": the exact name is the caller's
    assert group.name == "Data "
    group.move("NODE2")
    assert sim.group("Data ").owner == "NODE2"
    moved = [c for c in changes(sim) if c[0] == "group"]
    assert moved and all(c[1] == "Data " for c in moved)
    # With twins, neither is guessed.
    sim.add_group("Data", owner="NODE1")
    with pytest.raises(GroupNotFound):
        cluster.group("Data  ")


# ---- core group: the quorum resource's group ----------------------------------------------------


def test_core_group_found_from_the_quorum_resource_not_its_name() -> None:
    # A German cluster: the core group is "Clustergruppe"; its quorum disk is "Disk Q:".
    sim = SimCluster({"KNOTEN1": [], "KNOTEN2": ["Cluster Group"]}, os="2003", core_group=False)
    sim.add_group("Clustergruppe", owner="KNOTEN1", is_core=True,
                  resources=[SimResource("Disk Q:", "Physical Disk"),
                             SimResource("Clustername", "Network Name")])
    snap = ClusterExeDialect(InProcessTransport(sim)).snapshot()
    assert snap.core_group is not None and snap.core_group.name == "Clustergruppe"
    assert not snap.group("Cluster Group").is_core


@pytest.mark.parametrize("language", ["en-US", "pt-BR", "de-DE", "zh-TW"])
def test_core_group_in_every_language(language: str) -> None:
    sim = SimCluster({"NODE1": ["G1"], "NODE2": []}, os="2003", language=language)
    d = ClusterExeDialect(InProcessTransport(sim))
    snap = d.snapshot()
    core = next(g.name for g in sim.groups.values() if g.is_core)
    assert snap.core_group is not None and snap.core_group.name == core
    assert [g.name for g in snap.groups if g.is_core] == [core]
    assert d.read_group(core).is_core and not d.read_group("G1").is_core


def test_quorum_resource_with_blanks_and_overflow() -> None:
    text = ("Quorum Resource Name Device                                   Max Log Size\r\n"
            "-------------------- ---------------------------------------- ------------\r\n"
            "Quorum Disk (Shared SAN LUN 0) Q:\\MSCS\\ 4096\r\n")
    names = ["Quorum Disk", "Quorum Disk (Shared SAN LUN 0)", "Cluster Name"]
    assert quorum_resource_of(text, names) == "Quorum Disk (Shared SAN LUN 0)"
    assert quorum_resource_of(text, ["Other"]) is None
    assert quorum_resource_of("garbage", names) is None


# ---- errors by code, never by English words -----------------------------------------------------


class _GermanShell:
    """A transport whose cluster.exe speaks German: errors are recognised by their codes."""

    endpoint = "german"

    def __init__(self, sim: SimCluster) -> None:
        self.inner = InProcessTransport(sim)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        result = self.inner.run_cmd(line)
        stderr = result.stderr
        for code in cx.error_codes(stderr):
            stderr = stderr.replace(f"System error {code} has occurred",
                                    f"Systemfehler {code} aufgetreten")
        stderr = stderr.replace("The group specified was not found.",
                                "Die Gruppe wurde nicht gefunden.")
        return CmdResult(stdout=result.stdout, stderr=stderr, exit_code=result.exit_code)

    def close(self) -> None:
        self.inner.close()


def test_localized_error_text_keeps_its_code() -> None:
    sim = SimCluster({"NODE1": ["G1"], "NODE2": []}, os="2003")
    d = ClusterExeDialect(_GermanShell(sim))  # type: ignore[arg-type]
    with pytest.raises(GroupNotFound):  # chained read: the code comes from "(0x00001395)"
        d.read_group("missing")
    with pytest.raises(clusterlib.ClusterRefused) as err:
        d.execute(d.move_command("missing", "NODE2", wait=5))
    assert err.value.win32_code == 5013
    assert "Systemfehler" not in str(err.value) or "5013" in str(err.value)


def test_error_codes_are_read_from_the_hex_insert() -> None:
    assert cx.error_codes(cx.format_error(5013) + cx.format_error(5042)) == [5013, 5042]
    assert cx.error_codes("Systemfehler 5013 aufgetreten (0x00001395).\r\n") == [5013]
    assert cx.error_codes("no code here (0x1).\r\n") == []


def test_node_names_with_blanks_or_only_a_dash() -> None:
    # Windows host names have no blanks; the simulator allows them, and the reads must not
    # misplace a group onto "0" when its owner is "0 0".
    sim = SimCluster({"0 0": ["G 1"], "-": ["G2"]}, os="2003")
    cluster = clusterlib.connect(sim)
    snap = cluster.snapshot(owners=True)
    assert snap.group("G 1").owner == "0 0" and snap.group("G2").owner == "-"
    after = cluster.node("0 0").pause(drain=True)
    assert after.node("0 0").state is NodeState.Paused
    assert sim.group("G 1").owner == "-"
    cluster.node("0 0").resume()
    cluster.group("G 1").move("0 0")
    assert sim.group("G 1").owner == "0 0"


class _QuorumFails:
    """A transport on which ``cluster /quorum`` fails (here: as a lookup of a missing group)."""

    endpoint = "quorum-fails"

    def __init__(self, sim: SimCluster, replace: str = "cluster.exe /quorum ") -> None:
        self.inner = InProcessTransport(sim)
        self.replace = replace

    def run_cmd(self, line: CmdLine) -> CmdResult:
        return self.inner.run_cmd(CmdLine(line.line.replace(self.replace,
                                                            'cluster.exe group "No Such" '),
                                          idempotent=line.idempotent))

    def close(self) -> None:
        self.inner.close()


def test_snapshot_falls_back_when_quorum_is_unavailable() -> None:
    # The fallback is the English default name: on an English cluster it finds the core group.
    sim = SimCluster({"NODE1": ["G1"], "NODE2": []}, os="2003", language="en-US")
    d = ClusterExeDialect(_QuorumFails(sim))  # type: ignore[arg-type]
    for owners in (False, True):
        snap = d.snapshot(owners=owners)
        assert snap.core_group is not None and snap.core_group.name == "Cluster Group"
        assert snap.quorum_type == ""  # unknown: the cautious majority rule applies
        assert snap.group("G1").owner == "NODE1"
    # Any other part failing fails the snapshot, with the cluster's code.
    broken = ClusterExeDialect(_QuorumFails(sim, "cluster.exe group "))  # type: ignore[arg-type]
    with pytest.raises(clusterlib.ClusterRefused) as err:
        broken.snapshot()
    assert err.value.win32_code == 5013


@pytest.mark.parametrize("arriving", ["R&D Share", "G9"])
def test_drain_check_sees_a_group_that_arrived_since_the_last_snapshot(arriving: str) -> None:
    sim = SimCluster({"NODE1": ["G1"], "NODE2": []}, os="2003")

    class ArrivesFirst(InProcessTransport):
        done = False

        def run_cmd(self, line: CmdLine) -> CmdResult:
            if '"G1" /status' in line.line and not self.done:
                self.done = True  # created by someone else after clusterlib's snapshot
                sim.add_group(arriving, owner="NODE1")
            return super().run_cmd(line)

    cluster = clusterlib.connect(ArrivesFirst(sim))
    if arriving == "R&D Share":
        with pytest.raises(UnsafeName, match="R&D Share"):
            cluster.node("NODE1").pause(drain=True)
        assert changes(sim) == [] and sim.node("NODE1").state is NodeState.Up
        return
    sent = len(sim.calls("cluster.exe"))
    cluster.node("NODE1").pause(drain=True)
    probes = [c.detail["argv"] for c in sim.calls("cluster.exe")[sent:]
              if c.detail["argv"][-1:] == ["/status"]]
    assert ["group", "G9", "/status"] in probes  # checked in a second round trip
    assert sim.group("G9").owner == "NODE2" and sim.group("G1").owner == "NODE2"
