"""WinRMTransport against the loopback endpoint: real pypsrp over HTTP(S), nothing mocked."""

from __future__ import annotations

import socket
import time
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from clusterlib.errors import AuthenticationError, ClusterError, ConnectionFailed
from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, WireFaults, serve
from clusterlib.sim.transport import InProcessTransport
from clusterlib.transports import winrm
from clusterlib.transports.base import Transport
from clusterlib.transports.winrm import WinRMTransport
from clusterlib.wire import Cmdlet, CmdLine, Pipeline, Statement

NS = "Microsoft.FailoverClusters.PowerShell"


@pytest.fixture
def sim() -> SimCluster:
    return SimCluster.classic(os="2016")


@pytest.fixture
def ep(sim: SimCluster) -> Iterator[Endpoint]:
    with serve(sim, receive_timeout=0.05) as endpoint:
        yield endpoint


def transport(ep: Endpoint, **kw: Any) -> WinRMTransport:
    options = ep.connect_options() | kw
    options.pop("time_scale")
    return WinRMTransport(options.pop("target"), time_scale=ep.time_scale, **options)


@pytest.fixture
def t(ep: Endpoint) -> Iterator[WinRMTransport]:
    tr = transport(ep)
    yield tr
    tr.close()


SNAPSHOTISH = Pipeline(statements=(
    Statement((Cmdlet("Get-Cluster"), Cmdlet("Select-Object", {"Property": ["Name"]}),
               Cmdlet("ConvertTo-Csv", {"NoTypeInformation": True}), Cmdlet("Out-String"))),
    Statement((Cmdlet("Get-ClusterNode"),)),
    Statement((Cmdlet("Get-ClusterGroup"), Cmdlet("Select-Object", {
        "Property": ["Name", "OwnerNode", "State", "Priority", "IsCoreGroup", "GroupType"]}),
        Cmdlet("ConvertTo-Csv", {"NoTypeInformation": True}), Cmdlet("Out-String"))),
), idempotent=True)


def test_is_a_transport_with_endpoint_and_time_scale(t: WinRMTransport, ep: Endpoint) -> None:
    assert isinstance(t, Transport)
    assert t.endpoint == f"127.0.0.1:{ep.port}"
    assert t.time_scale == ep.time_scale == 1000.0


def test_results_match_the_inprocess_transport(t: WinRMTransport, sim: SimCluster) -> None:
    over_wire = t.run_pipeline(SNAPSHOTISH)
    direct = InProcessTransport(sim).run_pipeline(SNAPSHOTISH)
    assert over_wire == direct
    assert len(over_wire.outputs) == 3
    node = over_wire.outputs[1][0]
    assert node["State"] == "Up" and node["Name"] == "NODE1"  # enum -> name, object -> dict


def test_statements_keep_their_own_outputs_even_when_empty(t: WinRMTransport) -> None:
    p = Pipeline(statements=(
        Statement((Cmdlet("Get-ClusterNode", {"Name": "NODE1"}),)),
        Statement((Cmdlet("Get-ClusterGroup", {"Name": "nope"}),)),
        Statement((Cmdlet("Get-ClusterNode", {"Name": "NODE2"}),)),
    ))
    r = t.run_pipeline(p)
    assert [len(o) for o in r.outputs] == [1, 0, 1]
    assert r.outputs[2][0]["Name"] == "NODE2"
    assert r.errors[0].error_id.startswith("ClusterGroupNotFound,")


def test_error_record_maps_win32_code_and_fqid(t: WinRMTransport, sim: SimCluster) -> None:
    sim.pause_node("NODE2")
    move = Pipeline.of(Cmdlet("Move-ClusterGroup", {"Name": "SQL Group 1", "Node": "NODE2"}))
    (err,) = t.run_pipeline(move).errors
    assert err.win32_code == 5070
    assert err.error_id == f"Move-ClusterGroup,{NS}.MoveClusterGroupCommand"
    assert err.category == "NotSpecified"
    assert "SQL Group 1" in err.message
    assert err == InProcessTransport(sim).run_pipeline(move).errors[0]


def test_runspace_pool_is_opened_once_and_reused(t: WinRMTransport, ep: Endpoint) -> None:
    read = Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True)
    t.run_pipeline(read)
    first = ep.requests
    t.run_pipeline(read)
    second = ep.requests - first
    assert first == 4  # Create + Receive (pool open) + Command + Receive
    assert second == 2  # Command + Receive
    assert ep.actions["Create"] == 1


def test_pool_reopens_once_when_the_shell_is_gone(t: WinRMTransport, ep: Endpoint,
                                                   sim: SimCluster) -> None:
    t.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode")))
    ep._server.close_shells()  # as after a listener restart: the ShellId is unknown
    r = t.run_pipeline(Pipeline.of(Cmdlet("Suspend-ClusterNode", {"Name": "NODE2"})))
    assert r.outputs[0][0]["State"] == "Paused"
    assert len(sim.calls("Suspend-ClusterNode")) == 1
    assert ep.actions["Create"] == 2


def test_long_drain_streams_through_operation_timeouts(sim: SimCluster) -> None:
    slow = SimCluster.build(3, 30, speed=20.0)  # 10 groups, 3 batches of 2 s moves: ~0.3 s
    with serve(slow, receive_timeout=0.02) as ep:
        tr = transport(ep)
        try:
            drain = Pipeline.of(Cmdlet("Suspend-ClusterNode", {
                "Name": "NODE01", "Drain": True, "Wait": True}))
            started = time.monotonic()
            r = tr.run_pipeline(drain)
            took = time.monotonic() - started
        finally:
            tr.close()
        assert r.outputs[0][0]["DrainStatus"] == "Completed"
        assert ep.actions["Receive"] >= 4  # several answered "no output yet" (w:TimedOut)
        assert took < 5
    assert all(g.owner != "NODE01" for g in slow.groups.values() if not g.is_core)


def test_cmd_line_round_trip_is_faithful(t: WinRMTransport, sim: SimCluster,
                                         ep: Endpoint) -> None:
    line = CmdLine("cluster node /status", idempotent=True)
    assert t.run_cmd(line) == InProcessTransport(sim).run_cmd(line)
    classic = SimCluster.classic(os="2003")
    with serve(classic) as ep2:
        tr = transport(ep2)
        try:
            over_wire = tr.run_cmd(CmdLine('cluster group "SQL Group 1"'))
        finally:
            tr.close()
    direct = InProcessTransport(classic).run_cmd(CmdLine('cluster group "SQL Group 1"'))
    assert over_wire == direct
    assert over_wire.exit_code == direct.exit_code


def test_https_with_ca_bundle_validation_on(sim: SimCluster) -> None:
    with serve(sim, ssl=True) as ep:
        assert ep.connect_options()["cert_validation"] == ep.ca_bundle
        tr = transport(ep)
        try:
            assert tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"))).outputs[0][0][
                "Name"] == "CLUSTER1"
        finally:
            tr.close()
        untrusting = transport(ep, cert_validation=True)
        with pytest.raises(ConnectionFailed, match=r"TLS|certificate|CERTIFICATE"):
            untrusting.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster")))


def test_validation_off_warns(ep: Endpoint) -> None:
    with pytest.warns(UserWarning, match="validation is OFF"):
        WinRMTransport("127.0.0.1", username="u", password="p", auth="basic",
                       cert_validation=False)


def test_wrong_password_names_host_and_user_never_the_password(ep: Endpoint) -> None:
    secret = "Sup3r-Secret-Pa55"
    tr = transport(ep, password=secret)
    with pytest.raises(AuthenticationError) as info:
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True))
    err = info.value
    text = "".join(traceback.format_exception(err))
    assert f"127.0.0.1:{ep.port}" in str(err) and "'clusterlib'" in str(err)
    for shown in (str(err), repr(err), repr(tr), text, str(vars(tr))):
        assert secret not in shown
    assert ep.actions["Create"] == 0 and ep.requests == 1  # refused at once, not retried


def test_nothing_listening_fails_fast_naming_host_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tr = WinRMTransport("127.0.0.1", port=port, username="u", password="p", auth="basic",
                        ssl=False, connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}"):
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True))
    assert time.monotonic() - started < 2
    # A command that could never leave (no session) says so: an installer was not started.
    with pytest.raises(ConnectionFailed) as info:
        tr.run_cmd(CmdLine(r"D:\setup.exe /unattend"))
    assert info.value.unsent is True


def test_credentials_from_environment(ep: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUSTERLIB_USERNAME", ep.username)
    monkeypatch.setenv("CLUSTERLIB_PASSWORD", ep.password)
    tr = WinRMTransport(ep.host, port=ep.port, auth="basic", ssl=False)
    try:
        assert tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"))).outputs[0]
        assert ep.password not in repr(tr)
    finally:
        tr.close()


def test_basic_without_password_is_refused_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTERLIB_PASSWORD", raising=False)
    with pytest.raises(AuthenticationError, match="CLUSTERLIB_PASSWORD"):
        WinRMTransport("host1", username="u", auth="basic")


@pytest.mark.parametrize("auth", ["kerberos", "credssp"])
def test_missing_extra_names_the_pip_install(auth: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(winrm.os, "name", "posix")
    with pytest.raises(ClusterError, match=rf"pip install 'clusterlib\[{auth}\]'"):
        WinRMTransport("host1", username="u", password="p", auth=auth)


def test_unknown_auth_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="auth must be one of"):
        WinRMTransport("host1", auth="digest")


def test_idempotent_reads_are_retried_through_500s_and_drops(sim: SimCluster) -> None:
    for kind in ("http500", "drop"):
        faults = WireFaults(seed=7, **{kind: 1.0}, actions={"Command"})
        with serve(sim, faults=faults) as ep:
            tr = transport(ep)
            try:
                tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"), idempotent=True))
            except ConnectionFailed:
                pass
            # Every attempt was faulted: the read was sent retry.attempts times, then failed.
            assert ep.actions["Command"] == winrm.DEFAULT_RETRY.attempts == tr.retry.attempts
            ep.set_faults(WireFaults(seed=1, **{kind: 0.2}, actions={"Command", "Receive"}))
            before = ep.actions["Command"]
            for _ in range(6):
                r = tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True))
                assert len(r.outputs[0]) == 2
            assert ep.actions["Command"] - before > 6  # some reads needed a second try
            tr.close()


def test_non_idempotent_is_never_resent(sim: SimCluster) -> None:
    faults = WireFaults(seed=2, http500=1.0, after=True, actions={"Receive"})
    with serve(sim, receive_timeout=0.05) as ep:
        tr = transport(ep)
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster")))  # pool open, unfaulted
        ep.set_faults(faults)
        move = Pipeline.of(Cmdlet("Move-ClusterGroup", {"Name": "SQL Group 1", "Node": "NODE2"}))
        with pytest.raises(ConnectionFailed, match="HTTP 500") as info:
            tr.run_pipeline(move)
        assert info.value.unsent is False  # it left, and ran: never "not started"
        assert len(sim.calls("Move-ClusterGroup")) == 1  # ran once; the answer was lost
        assert ep.actions["Command"] == 2
        ep.set_faults(None)
        assert tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterGroup", {
            "Name": "SQL Group 1"}))).outputs[0][0]["OwnerNode"]["Name"] == "NODE2"
        tr.close()


def test_closed_transport_refuses(t: WinRMTransport) -> None:
    t.close()
    with pytest.raises(ConnectionFailed, match="closed"):
        t.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster")))


def test_scripts_cannot_be_sent() -> None:
    assert not any("script" in name.lower() for name in vars(WinRMTransport))


def test_for_node_keeps_options_but_targets_the_node(t: WinRMTransport) -> None:
    # A real cluster: the node's own host name on the same port.
    with pytest.warns(UserWarning, match="cleartext"):
        real = WinRMTransport("clu01.example", username="u", password="p", auth="basic",
                              ssl=False, allow_cleartext_basic=True, read_timeout=9)
        node2 = real.for_node("NODE2")
    assert node2.endpoint == "NODE2:5985"
    assert node2.allow_cleartext_basic and node2.read_timeout == 9  # options travel along
    real.close()
    # The simulator's endpoint serves every node on one port, under /wsman/node/NAME.
    node = t.for_node("NODE 2")
    assert node.endpoint == f"{t.host}:{t.port}" and node.path == "wsman/node/NODE%202"
    assert node.auth == t.auth
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "password" not in repr(node)


def test_retry_policy_is_a_constructor_argument(sim: SimCluster) -> None:
    faults = WireFaults(seed=3, http500=1.0, actions={"Command"})
    with serve(sim, faults=faults) as ep:
        tr = transport(ep, retry=winrm.TransportRetry(attempts=5, initial=0.0))
        with pytest.raises(ConnectionFailed, match=r"HTTP 500.*5 attempts\)"):
            tr.run_pipeline(Pipeline.of(Cmdlet("Get-Cluster"), idempotent=True))
        assert ep.actions["Command"] == 5
        tr.close()
    assert winrm.DEFAULT_RETRY.attempts == 3  # the default is untouched: no module state


def test_close_after_a_timed_out_call_does_not_wait_again(sim: SimCluster) -> None:
    with serve(sim, receive_timeout=0.05) as ep:
        tr = transport(ep, read_timeout=2, operation_timeout=1)
        tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode")))
        ep.set_faults(WireFaults(seed=1, delay=1.0, delay_seconds=3.0))
        with pytest.raises(ConnectionFailed):
            tr.run_pipeline(Pipeline.of(Cmdlet("Get-ClusterNode")))
        before = ep.requests
        started = time.monotonic()
        tr.close()
        assert time.monotonic() - started < 0.5 and ep.requests == before
