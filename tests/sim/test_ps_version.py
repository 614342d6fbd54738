"""The simulator's Windows PowerShell: each release's, WMF 5.1, the cluster's lowest, the PSVersionTable."""

from __future__ import annotations

import json

import pytest
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import WSMan

import clusterlib
from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, serve
from clusterlib.sim.powershell_host import PowerShellHost
from clusterlib.sim.ps_catalog import script_pipeline
from clusterlib.sim.psrp import ps_version_table
from clusterlib.sim.releases import release
from clusterlib.sim.transport import InProcessTransport

OWNERS = ("Get-ClusterGroup | Get-ClusterOwnerNode | Select-Object -ExpandProperty ClusterObject"
          " -Property OwnerNodes | Select-Object -Property Name, OwnerNodes"
          " | ConvertTo-Json -Depth 1 -Compress")


@pytest.mark.parametrize(("os", "wmf51", "expected"), [
    ("2008R2", False, (2, 0)), ("2012", False, (3, 0)), ("2012R2", False, (4, 0)),
    ("2016", False, (5, 1)), ("2019", False, (5, 1)), ("2025", False, (5, 1)),
    ("2008R2", True, (5, 1)), ("2012", True, (5, 1)), ("2012R2", True, (5, 1)),
    ("2016", True, (5, 1)),
    ("2008", True, (2, 0)),  # WMF 5.1 does not install on Windows Server 2008
])
def test_each_release_runs_the_powershell_it_ships(os: str, wmf51: bool,
                                                    expected: tuple[int, int]) -> None:
    sim = SimCluster.build(2, 2, os=os, wmf51=wmf51)
    assert sim.powershell_version() == expected
    assert sim.powershell_version("NODE01") == expected
    assert PowerShellHost(sim).powershell_version() == expected


def test_a_mixed_cluster_answers_as_its_least_capable_node_until_the_last_is_upgraded() -> None:
    sim = SimCluster.build(3, 3, os="2012R2", upgrade_to="2016")
    host = PowerShellHost(sim)
    new = release("2016")
    for name in ("NODE01", "NODE02"):
        sim.nodes[name].release = new
        assert sim.powershell_version(name) == (5, 1)
        assert sim.powershell_version() == (4, 0)
        # Asked at each invocation: the notes still drop while a 2012 R2 node remains.
        text = host.invoke(script_pipeline(OWNERS)).outputs[0][0]
        assert {i["OwnerNodes"] for i in json.loads(text)} == {None}
    sim.nodes["NODE03"].release = new
    assert sim.powershell_version() == (5, 1)
    text = host.invoke(script_pipeline(OWNERS)).outputs[0][0]
    assert all(isinstance(i["OwnerNodes"], list) for i in json.loads(text))  # [] or the names


def test_an_explicit_version_overrides_the_clusters() -> None:
    sim = SimCluster.classic(os="2016")
    host = PowerShellHost(sim, ps_version=(4, 0))
    assert host.powershell_version() == (4, 0)
    text = host.invoke(script_pipeline(OWNERS)).outputs[0][0]
    assert {i["OwnerNodes"] for i in json.loads(text)} == {None}


@pytest.mark.parametrize(("wmf51", "full"), [(False, True), (True, False)])
def test_a_2012_r2_cluster_is_read_in_the_full_form_unless_wmf_51_is_installed(
        wmf51: bool, full: bool) -> None:
    sim = SimCluster.classic(os="2012R2", wmf51=wmf51)
    sim.groups["SQL Group 1"].preferred_owners = ["NODE2", "NODE1"]
    cluster = clusterlib.connect(InProcessTransport(sim))
    snap = cluster.snapshot(owners=True)
    assert snap.group("SQL Group 1").preferred_owners == ("NODE2", "NODE1")
    assert cluster.dialect._full_owners is full  # type: ignore[attr-defined]


def _wsman(ep: Endpoint) -> WSMan:
    return WSMan(ep.host, port=ep.port, username=ep.username, password=ep.password, ssl=False,
                 auth="basic", encryption="never", no_proxy=True, operation_timeout=5)


@pytest.mark.parametrize(("os", "wmf51", "version", "edition"), [
    ("2012R2", False, "4.0", None), ("2012", False, "3.0", None),
    ("2012R2", True, "5.1.14393.2248", "Desktop"), ("2019", False, "5.1.14393.2248", "Desktop"),
])
def test_the_endpoints_psversiontable_says_the_same(os: str, wmf51: bool, version: str,
                                                     edition: str | None) -> None:
    sim = SimCluster.classic(os=os, wmf51=wmf51)
    with serve(sim, receive_timeout=0.05) as ep, RunspacePool(_wsman(ep)) as pool:
        private = pool.application_private_data
        assert private is not None
        table = private.data["PSVersionTable"]
    assert str(table["PSVersion"]) == version
    assert table.get("PSEdition") == edition  # PSEdition arrived with 5.1


def test_an_unmodelled_version_is_refused_naming_the_modelled_ones() -> None:
    with pytest.raises(ValueError, match=r"6\.0 is not simulated.*2\.0, 3\.0, 4\.0, 5\.1"):
        ps_version_table((6, 0))
    assert str(ps_version_table((2, 0))["WSManStackVersion"]) == "2.0"


def test_a_stock_2008_r2_has_no_convertto_json_and_is_driven_with_cluster_exe() -> None:
    """Windows PowerShell 2.0 has no ConvertTo-Json (introduced in 3.0), which the PowerShell
    dialect's probe and reads pipe into: a stock 2008 R2 gets the cluster.exe dialect; with WMF
    installed it gets the PowerShell dialect without drain."""
    sim = SimCluster.classic(os="2008R2")
    result = PowerShellHost(sim).invoke(script_pipeline(
        "Get-ClusterNode | ConvertTo-Json; Get-ClusterNode | Select-Object -Property Name"))
    (error,) = result.errors
    assert error.error_id == "CommandNotFoundException" and "'ConvertTo-Json'" in error.message
    assert result.outputs == [[], []]  # terminating: the statement after it does not run
    assert clusterlib.connect(InProcessTransport(sim)).dialect_name == "clusterexe"
    wmf = SimCluster.classic(os="2008R2", wmf51=True)
    assert clusterlib.connect(InProcessTransport(wmf)).dialect_name == "powershell-nodrain"


def test_asking_for_powershell_on_a_stock_2008_r2_says_why_and_what_works() -> None:
    """dialect="powershell" on a stock 2008 R2: the module is there but Windows PowerShell 2.0
    cannot answer in JSON; the error names that, the remedy, and the dialect that works."""
    sim = SimCluster.classic(os="2008R2")
    with pytest.raises(clusterlib.NotSupported) as caught:
        clusterlib.connect(InProcessTransport(sim), dialect="powershell")
    text = str(caught.value)
    assert "ConvertTo-Json" in text and "WMF 3.0" in text and "dialect='clusterexe'" in text
