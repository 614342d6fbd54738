"""WinRMTransport against hostile or broken listeners on 127.0.0.1: every call ends within its
configured bound (+10 %), holds bounded memory, and fails with a message naming host:port, the
bound, the real time taken and the attempts made."""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from typing import Any

import pytest
from fixtures.hostile_server import DEEP_CMDLET, deep_clixml_endpoint, hostile, trickle_proxy

from clusterlib.errors import ConnectionFailed, ResponseTooLarge, TransportTimeout
from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, WireFaults, serve
from clusterlib.transports.bounded import BoundedDefragmenter, DepthScanner, Limits
from clusterlib.transports.winrm import WinRMTransport
from clusterlib.wire import Cmdlet, CmdLine, Pipeline

READ = Pipeline.of(Cmdlet("Get-ClusterNode"), idempotent=True)
SLACK = 1.10  # the promise: each failure within its configured bound + 10 %


def raw(port: int, **kw: Any) -> WinRMTransport:
    return WinRMTransport("127.0.0.1", port=port, username="u", password="Hostile-Pw-1",
                          auth="basic", ssl=False, **kw)


def over_wire(ep: Endpoint, **kw: Any) -> WinRMTransport:
    options = ep.connect_options() | kw
    options.pop("time_scale")
    host = options.pop("target", None) or options.pop("host")
    return WinRMTransport(host, time_scale=ep.time_scale, **options)


def timed_failure(tr: WinRMTransport, call: Any = None,
                  close: bool = True) -> tuple[ConnectionFailed, float]:
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as info:
        try:
            (call or (lambda: tr.run_pipeline(READ)))()
        finally:
            took = time.monotonic() - started
            if close:
                tr.close()
    return info.value, took


# ---- time ---------------------------------------------------------------------------------------


def test_black_hole_fails_within_connect_timeout() -> None:
    import clusterlib

    with hostile("blackhole") as srv:  # through connect(), dialect detection included
        started = time.monotonic()
        with pytest.raises(ConnectionFailed) as info:
            clusterlib.connect("127.0.0.1", port=srv.port, username="u", password="Pw-1",
                               auth="basic", ssl=False, connect_timeout=1.5, read_timeout=30)
        took = time.monotonic() - started
        err = info.value
    assert isinstance(err, TransportTimeout)
    assert took <= 1.5 * SLACK, took
    text = str(err)
    assert f"127.0.0.1:{srv.port}" in text and "connect_timeout=1.5 s" in text
    assert "gave up after 1.5" in text and "1 attempt)" in text


def test_dropping_host_fails_fast_after_the_allowed_attempts() -> None:
    with hostile("drop") as srv:
        err, took = timed_failure(raw(srv.port, connect_timeout=2, read_timeout=30))
    assert took <= 2 * SLACK, took
    assert srv.connections == 3  # opening the pool is retried: nothing was sent yet
    assert f"127.0.0.1:{srv.port}" in str(err) and "3 attempts)" in str(err)


def test_trickled_headers_are_cut_off_at_the_bound() -> None:
    # One byte every 0.3 s: no socket read ever times out; only an overall deadline stops it.
    with hostile("trickle", interval=0.3) as srv:
        err, took = timed_failure(raw(srv.port, connect_timeout=1.5, read_timeout=30))
    assert isinstance(err, TransportTimeout)
    assert 1.5 <= took <= 1.5 * SLACK, took
    assert srv.bytes_sent >= 3  # it did trickle
    assert "connect_timeout=1.5 s" in str(err)


def test_trickled_body_is_cut_off_at_the_bound() -> None:
    with hostile("trickle_body", interval=0.3) as srv:
        err, took = timed_failure(raw(srv.port, connect_timeout=30, read_timeout=2,
                                      operation_timeout=1))
    assert isinstance(err, TransportTimeout)
    assert 2 <= took <= 2 * SLACK, took
    assert "read_timeout=2 s" in str(err)


def test_trickled_tls_handshake_is_cut_off_at_the_bound(sim: SimCluster) -> None:
    with serve(sim, ssl=True, receive_timeout=0.05) as ep:
        with trickle_proxy(ep.port, interval=0.0) as port:  # the proxy itself works
            fine = over_wire(ep, port=port)
            assert len(fine.run_pipeline(READ).outputs[0]) == 2
            fine.close()
        with trickle_proxy(ep.port, interval=0.02) as port:
            err, took = timed_failure(over_wire(ep, port=port, connect_timeout=1.5))
    assert isinstance(err, TransportTimeout)
    assert took <= 1.5 * SLACK, took
    assert "connect_timeout=1.5 s" in str(err)


@pytest.fixture
def sim() -> SimCluster:
    return SimCluster.classic(os="2016")


@pytest.mark.parametrize("ssl", [False, True], ids=["http", "https"])
def test_silent_host_after_the_session_fails_within_read_timeout(sim: SimCluster,
                                                                  ssl: bool) -> None:
    with serve(sim, receive_timeout=0.05, ssl=ssl) as ep:
        tr = over_wire(ep, read_timeout=2, operation_timeout=1)
        tr.run_pipeline(READ)  # the pool is open; now the host stops answering commands
        ep.set_faults(WireFaults(seed=1, delay=1.0, delay_seconds=4.0, actions={"Command"}))
        started = time.monotonic()
        with pytest.raises(TransportTimeout) as info:
            tr.run_pipeline(READ)
        took = time.monotonic() - started
        ep.set_faults(None)
        assert len(tr.run_pipeline(READ).outputs[0]) == 2  # the next call works
        assert ep.actions["Create"] == 1  # in the same shell: none left behind on the host
        tr.close()
    assert took <= 2 * SLACK, took
    # No re-send: the read bound was spent waiting.
    assert "read_timeout=2 s" in str(info.value) and "1 attempt)" in str(info.value)


def test_call_timeout_bounds_a_call_that_keeps_answering(sim: SimCluster) -> None:
    # A slow drain: the host answers every Receive ("no output yet"), so only the overall
    # deadline of the call can end it.
    slow = SimCluster.build(3, 30, speed=0.5)
    with serve(slow, receive_timeout=0.05) as ep:
        tr = over_wire(ep, call_timeout=1.5)
        drain = Pipeline.of(Cmdlet("Suspend-ClusterNode", {
            "Name": "NODE01", "Drain": True, "Wait": True}))
        err, took = timed_failure(tr, lambda: tr.run_pipeline(drain))
        receives = ep.actions["Receive"]
    assert isinstance(err, TransportTimeout)
    assert took <= 1.5 * SLACK, took
    assert receives >= 5 and "call_timeout=1.5 s" in str(err)


def test_timeouts_are_validated() -> None:
    for bad in ({"read_timeout": 0}, {"connect_timeout": -1}, {"call_timeout": float("inf")},
                {"read_timeout": 1.5}):
        with pytest.raises(ValueError, match="timeout"):
            WinRMTransport("127.0.0.1", username="u", password="p", auth="basic", ssl=False,
                           **bad)  # type: ignore[arg-type]
    tr = WinRMTransport("127.0.0.1", username="u", password="p", auth="basic", ssl=False,
                        read_timeout=3)
    assert tr._wire_operation_timeout() == 2  # a quiet Receive ends before the read bound
    assert WinRMTransport("127.0.0.1", username="u", password="p", auth="basic", ssl=False
                          )._wire_operation_timeout() == 60


def test_call_budget_deadlines() -> None:
    from clusterlib.transports.bounded import CallBudget

    now = [100.0]
    budget = CallBudget("h:1", connect_timeout=5, read_timeout=20, call_timeout=60,
                        clock=lambda: now[0])
    with pytest.raises(RuntimeError), budget.opening():
        now[0] += 1  # setting up counts
        raise RuntimeError("dropped")
    assert budget.deadline() == (105.0, "connect_timeout")  # between tries too
    with budget.opening():
        now[0] += 2
        budget.answered(10)
    assert budget.deadline() == (123.0, "read_timeout")  # open: from the last answer
    now[0] = 150.0
    budget.answered(10)
    assert budget.deadline() == (160.0, "call_timeout")
    with budget.opening():  # a reopen later in the call gets its own connect bound
        assert budget.deadline() == (155.0, "connect_timeout")
    err = budget.expire("call_timeout")
    assert str(err) == "h:1: the call did not finish within call_timeout=60 s"
    assert budget.expired and budget.received == 20


# ---- size and depth -----------------------------------------------------------------------------


def test_endless_body_is_refused_at_max_response_bytes_with_little_memory() -> None:
    with hostile("endless") as srv:
        tr = raw(srv.port, connect_timeout=10, max_response_bytes=2_000_000)
        tracemalloc.start()
        try:
            err, took = timed_failure(tr)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(err, ResponseTooLarge)
    assert "max_response_bytes=2000000" in str(err) and f"127.0.0.1:{srv.port}" in str(err)
    assert "1 attempt)" in str(err)  # never retried: the same host would send it again
    assert peak < 12_000_000, peak
    assert took < 5


def test_declared_huge_answer_is_refused_before_reading() -> None:
    with hostile("huge_declared") as srv:
        err, took = timed_failure(raw(srv.port, connect_timeout=10))
    assert isinstance(err, ResponseTooLarge) and "10737418240 bytes" in str(err)
    assert took < 2


def test_deep_envelope_is_refused_by_the_depth_scan() -> None:
    with hostile("deep_envelope", depth=200_000) as srv:
        tracemalloc.start()
        try:
            err, _ = timed_failure(raw(srv.port, connect_timeout=10))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(err, ResponseTooLarge) and "max_depth=100" in str(err)
    assert peak < 20_000_000, peak  # ElementTree would have built 200 000 elements


def test_million_deep_clixml_object_fails_fast_with_little_memory(sim: SimCluster) -> None:
    depth = 1_000_000  # ~22 MB of CLIXML, in about 60 Receives of 500 kB
    with deep_clixml_endpoint(sim, depth, receive_timeout=0.05) as ep:
        tr = over_wire(ep)
        tr.run_pipeline(READ)  # a normal object first: the same pool, the same scan
        deep = Pipeline.of(Cmdlet(DEEP_CMDLET), idempotent=True)
        before = ep.actions["Receive"]
        tracemalloc.start()
        try:
            err, took = timed_failure(tr, lambda: tr.run_pipeline(deep), close=False)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        receives = ep.actions["Receive"] - before
        assert len(tr.run_pipeline(READ).outputs[0]) == 2  # the connection is still usable
        tr.close()
    assert isinstance(err, ResponseTooLarge)
    assert "PowerShell object" in str(err) and "max_depth=100" in str(err)
    assert f"127.0.0.1:{ep.port}" in str(err)
    assert receives == 1, receives  # refused on its first fragment, not after all 60
    assert peak < 16_000_000, peak
    assert took < 5


def test_depth_scanner_and_defragmenter_bounds() -> None:
    ok = DepthScanner(3)
    assert ok.feed(b"<a><b><c/></b>") is None and ok.feed(b"</a>", final=True) is None
    assert "max_depth=3" in (DepthScanner(3).feed(b"<a><b><c><d>") or "")
    assert "DOCTYPE" in (DepthScanner(9).feed(b'<!DOCTYPE a [<!ENTITY x "y">]><a/>') or "")

    class Fake:
        serializer = None

    import uuid

    from fixtures.hostile_server import PIPELINE_OUTPUT, psrp_fragments

    big = psrp_fragments(b"<S>" + b"x" * 5000 + b"</S>", PIPELINE_OUTPUT, uuid.uuid4(),
                         uuid.uuid4(), 7, 1000)
    defrag = BoundedDefragmenter(Fake(), Limits(max_response_bytes=10**6,
                                                max_message_bytes=4000), "h:1")
    with pytest.raises(ResponseTooLarge, match="max_message_bytes=4000"):
        defrag(b"".join(big))
    with pytest.raises(ValueError, match="max_depth"):
        Limits.for_envelope(512000, max_depth=0)
    assert Limits.for_envelope(512000).max_response_bytes == 2048000
    assert Limits.for_envelope(1000).max_response_bytes == 1024 * 1024


def test_redirects_are_not_followed() -> None:
    with hostile("blackhole") as elsewhere, hostile("redirect") as srv:
        srv.location = f"http://127.0.0.1:{elsewhere.port}/wsman"
        err, took = timed_failure(raw(srv.port, connect_timeout=5))
        assert elsewhere.connections == 0  # the request and its credentials stayed put
    assert "HTTP 307" in str(err) and took < 2


def test_real_windows_answers_pass_the_bounds_unchanged() -> None:
    """Answers recorded from real Windows hosts (pypsrp's test recordings, copied into
    tests/fixtures with their source): every envelope passes the depth scan, and the bounded
    defragmenter yields exactly the messages pypsrp's own yields."""
    import base64
    import json
    import re
    from pathlib import Path

    from pypsrp.powershell import Fragmenter
    from pypsrp.serializer import Serializer

    recorded = json.loads((Path(__file__).resolve().parents[1] / "fixtures" /
                           "pypsrp_windows_responses.json").read_text())["files"]
    limits = Limits.for_envelope(153600)
    envelopes = messages = 0
    kinds: set[int] = set()
    for answers in recorded.values():
        for answer in answers:
            envelopes += 1
            assert DepthScanner(limits.max_depth).feed(answer.encode(), final=True) is None
            for stream in re.findall(r"<rsp:Stream[^>]*>([A-Za-z0-9+/=]+)</rsp:Stream>", answer):
                data = base64.b64decode(stream)
                ours = BoundedDefragmenter(Fragmenter(153600, Serializer()), limits, "h:1")(data)
                theirs = Fragmenter(153600, Serializer()).defragment(data)
                assert [(m.message_type, m.rpid, m.pid, type(m.data).__name__) for m in ours] \
                    == [(m.message_type, m.rpid, m.pid, type(m.data).__name__) for m in theirs]
                messages += len(ours)
                kinds.update(m.message_type for m in ours)
    assert envelopes >= 10 and messages >= 10
    assert {0x00041004, 0x00041006} <= kinds  # pipeline output and pipeline state among them


def test_bounded_defragmenter_reassembles_like_pypsrp_across_receives() -> None:
    import uuid

    from fixtures.hostile_server import PIPELINE_OUTPUT, psrp_fragments
    from pypsrp.powershell import Fragmenter
    from pypsrp.serializer import Serializer

    text = "x" * 3000 + "<&>" + "y" * 3000
    payload = b"<S>" + text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"
                                                                              ).encode() + b"</S>"
    frags = psrp_fragments(payload, PIPELINE_OUTPUT, uuid.uuid4(), uuid.uuid4(), 3, 700)
    small = psrp_fragments(b"<I32>7</I32>", PIPELINE_OUTPUT, uuid.uuid4(), uuid.uuid4(), 4, 700)
    assert len(frags) > 5
    # Two Receives: the big object split across them, a small one complete in the first.
    first, second = b"".join(frags[:4] + small), b"".join(frags[4:])
    ours = BoundedDefragmenter(Fragmenter(153600, Serializer()), Limits.for_envelope(153600),
                               "h:1")
    theirs = Fragmenter(153600, Serializer())
    for data in (first, second):
        mine, pypsrp_own = ours(data), theirs.defragment(data)
        assert [m.data.data for m in mine] == [m.data.data for m in pypsrp_own]
    assert [m.data.data for m in ours(first)] == [7]  # the first Receive carried the small one
    out_of_order = BoundedDefragmenter(Fragmenter(153600, Serializer()),
                                       Limits.for_envelope(153600), "h:1")
    from pypsrp.exceptions import FragmentError

    with pytest.raises(FragmentError):
        out_of_order(frags[0] + frags[2])


# ---- leaks --------------------------------------------------------------------------------------


def _live(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def snapshots_keep_the_client_flat(count: int) -> dict[str, float]:
    from pypsrp.powershell import PowerShell

    import clusterlib

    with SimCluster.classic(os="2016").serve(receive_timeout=0.05) as ep:
        options = ep.connect_options()
        cluster = clusterlib.connect(options.pop("target"), **options)
        transport = cluster.transport
        assert isinstance(transport, WinRMTransport)
        cluster.snapshot()
        live_before = _live(PowerShell)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        requests_before = ep.requests
        for _ in range(count):
            cluster.snapshot()
        assert ep.requests - requests_before >= 2 * count  # each one went over the wire
        assert transport._pool is not None
        pipelines = len(transport._pool.pipelines)
        live_after = _live(PowerShell)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cluster.close()
    assert pipelines == 0, pipelines  # was one more per call (202 after 201 snapshots)
    assert live_after <= live_before, (live_before, live_after)
    return {"pipelines": pipelines, "rss_before_mb": rss_before, "rss_after_mb": rss_after}


def test_snapshots_do_not_grow_the_pool() -> None:
    snapshots_keep_the_client_flat(12)


@pytest.mark.chaos
def test_200_snapshots_do_not_grow_the_pool(request: pytest.FixtureRequest) -> None:
    from chaos_helpers import skip_unless_chaos

    skip_unless_chaos(request)
    figures = snapshots_keep_the_client_flat(200)
    print(f"200 snapshots: {figures}")
    assert figures["rss_after_mb"] - figures["rss_before_mb"] < 20, figures


def test_pipelines_are_freed_after_use_and_failure(sim: SimCluster) -> None:
    with serve(sim, receive_timeout=0.05) as ep:
        tr = over_wire(ep)
        for _ in range(5):
            tr.run_pipeline(READ)
        ep.set_faults(WireFaults(seed=1, http500=1.0, actions={"Receive"}))
        with pytest.raises(ConnectionFailed):
            tr.run_pipeline(READ)
        ep.set_faults(None)
        tr.run_cmd(CmdLine("cluster node /status", idempotent=True))
        assert tr._pool is not None and len(tr._pool.pipelines) == 0
        tr.close()


@pytest.mark.chaos
@pytest.mark.parametrize(("mode", "options", "bound"), [
    ("blackhole", {"connect_timeout": 30}, 30.0),  # the defaults
    ("trickle", {"connect_timeout": 10}, 10.0),
    ("trickle_body", {"connect_timeout": 30, "read_timeout": 10}, 10.0),
    ("drop", {"connect_timeout": 10}, 10.0),
])
def test_misbehaving_hosts_with_longer_bounds(request: pytest.FixtureRequest, mode: str,
                                              options: dict[str, float], bound: float) -> None:
    """One byte every 3 s, and the default 30 s connect bound: the long versions."""
    from chaos_helpers import skip_unless_chaos

    skip_unless_chaos(request)
    with hostile(mode, interval=3.0) as srv:
        err, took = timed_failure(raw(srv.port, **options))
    print(f"{mode}: bound {bound:g} s, failed after {took:.2f} s: {err}")
    assert took <= bound * SLACK, took
    assert f"127.0.0.1:{srv.port}" in str(err) and "gave up after" in str(err)
