"""The WinRM transport's cheaper pipelines: PSRP messages made and read (clusterlib.transports.
psrp_messages), one watchdog thread and proxies worked out once (clusterlib.transports.bounded):
same bytes and same values, less client CPU."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from transport_factories import winrm_factory

from clusterlib.dialects.powershell_dialect import snapshot_pipeline
from clusterlib.sim import SimCluster
from clusterlib.transports.bounded import ConnectionRegistry, Watchdog
from clusterlib.transports.psrp_messages import (
    BodyCache,
    build_powershell,
    fast_primitives,
    pipeline_key,
)
from clusterlib.transports.winrm import WinRMTransport, _plain
from clusterlib.wire import Cmdlet, Pipeline, Statement

MARKER = "clusterlib:end-of-statement:test"

PIPELINES = [
    snapshot_pipeline(owners=True),  # six statements: five markers between them
    snapshot_pipeline("CLU 1"),
    Pipeline.of(Cmdlet("Suspend-ClusterNode", {"Name": "NODE 2", "Drain": True, "Wait": True,
                                               "ForceDrain": True}),
                Cmdlet("Select-Object", {"Property": ("Name", "State")})),
    Pipeline.of(Cmdlet("Set-ClusterParameter", {"Name": "x", "Value": 5, "Multiple": ["a", "b"],
                                                "Empty": "", "None": None})),
    Pipeline(statements=(Statement((Cmdlet("Get-ClusterNode"),)),
                         Statement((Cmdlet("Get-ClusterGroup", {"Name": "o'neil; $x"}),)))),
]


def _offline_pool() -> RunspacePool:
    """A runspace pool that is never opened: building and serializing need no host."""
    wsman = WSMan("127.0.0.1", port=1, ssl=False, auth="basic", username="u", password="p",
                  encryption="never")
    pool = RunspacePool(wsman)
    pool.protocol_version = "2.3"
    return pool


def _reference(pool: RunspacePool, pipeline: Pipeline, marker: str) -> PowerShell:
    """How the transport built pipelines through pypsrp's public API before (the yardstick)."""
    ps = PowerShell(pool)
    for index, statement in enumerate(pipeline.statements):
        if index:
            ps.add_statement()
        for cmd in statement.commands:
            ps.add_cmdlet(cmd.name)
            for key, value in cmd.params:
                ps.add_parameter(key, list(value) if isinstance(value, tuple) else value)
        if index < len(pipeline.statements) - 1:
            ps.add_statement()
            ps.add_cmdlet("Write-Output").add_parameter("InputObject", marker)
    return ps


def _message(ps: PowerShell) -> bytes:
    """The CREATE_PIPELINE body begin_invoke would send, serialized as pypsrp does."""
    sent: list[bytes] = []

    def capture(msg: Any) -> None:
        element = ps.runspace_pool._fragmenter.serializer.serialize(msg)
        assert element is not None
        sent.append(ET.tostring(element, encoding="utf-8", method="xml"))

    ps._invoke = capture  # type: ignore[method-assign]
    ps.begin_invoke()
    return sent[0]


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.describe()[:40])
def test_messages_are_byte_identical_to_pypsrps_own(pipeline: Pipeline) -> None:
    pool = _offline_pool()
    ours = _message(build_powershell(pool, pipeline, MARKER, cached=False))
    assert ours == _message(_reference(pool, pipeline, MARKER))
    assert ours.count(MARKER.encode()) == len(pipeline.statements) - 1


def test_one_statement_carries_no_marker() -> None:
    pool = _offline_pool()
    ps = build_powershell(pool, PIPELINES[2], MARKER, cached=True)
    assert [c.cmd for c in ps.commands] == ["Suspend-ClusterNode", "Select-Object"]
    many = build_powershell(pool, PIPELINES[0], MARKER, cached=True)
    assert [c.cmd for c in many.commands].count("Write-Output") == 5
    assert len(PIPELINES[0].statements) == 6


def test_cache_keys_keep_types_and_refuse_what_they_cannot_key() -> None:
    def key(value: Any) -> object:
        return pipeline_key(Pipeline.of(Cmdlet("X", {"P": value})))

    assert key(True) != key(1) and key("5") != key(5) and key(None) != key("")
    assert key(("a", "b")) == key(["a", "b"])  # both travel as a list
    assert key({"a": 1}) is None
    assert pipeline_key(PIPELINES[0]) == pipeline_key(snapshot_pipeline(owners=True))
    assert pipeline_key(PIPELINES[0]) != pipeline_key(PIPELINES[1])


def test_body_cache_is_bounded_least_recently_used_first() -> None:
    cache = BodyCache(entries=2, max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"5678")
    assert cache.get("a") == b"1234"  # "a" is now the most recent
    cache.put("c", b"90")
    assert cache.get("b") is None and len(cache) == 2  # "b" was the least recently used
    cache.put("d", b"123456")  # 4 + 2 + 6 bytes > 10: the oldest go
    assert cache.get("a") is None and cache.get("d") == b"123456"
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None
    assert (cache.hits, cache.misses) == (2, 3)
    off = BodyCache(entries=0)
    off.put("a", b"1")
    assert len(off) == 0
    with pytest.raises(ValueError, match=">= 0"):
        BodyCache(entries=-1)


def test_a_repeated_read_reuses_its_message_and_answers_the_same() -> None:
    read = snapshot_pipeline()
    with winrm_factory(SimCluster.classic(os="2016")) as transport:
        assert isinstance(transport, WinRMTransport)
        first = transport.run_pipeline(read)
        bodies = transport._bodies
        assert (bodies.hits, len(bodies)) == (0, 1)
        assert transport.run_pipeline(read) == first and bodies.hits == 1
        action = Pipeline.of(Cmdlet("Get-ClusterNode", {"Name": "NODE1"}))  # not idempotent
        assert transport.run_pipeline(action).output and transport.run_pipeline(action).output
        assert (bodies.hits, len(bodies)) == (1, 1)  # actions are never cached
    with winrm_factory(SimCluster.classic(os="2016"),
                       transport_options={"pipeline_cache": 0}) as off:
        assert isinstance(off, WinRMTransport)
        assert off.run_pipeline(read) == first and len(off._bodies) == 0


def test_watchdog_fires_once_per_passed_deadline_with_one_thread() -> None:
    fired = threading.Event()
    dog = Watchdog(fired.set, idle=0.05)
    token = dog.arm(0.01)
    assert fired.wait(2.0)  # the deadline passed: fired
    fired.clear()
    dog.disarm(token)  # already fired: harmless
    token = dog.arm(30.0)
    dog.disarm(token)
    threads = [t for t in threading.enumerate() if t.name == "clusterlib-transport-watchdog"]
    assert len(threads) >= 1
    deadline = time.monotonic() + 2.0
    while dog._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # idle: the thread ends by itself
    assert dog._thread is None and not fired.is_set()  # the disarmed deadline never fired
    dog.arm(0.01)  # and starts again on demand
    assert fired.wait(2.0)
    dog.close()


def test_proxies_are_worked_out_once_per_session_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests
    import requests.utils

    calls: list[str] = []
    real = requests.utils.resolve_proxies

    def counting(request: Any, proxies: Any, trust_env: bool = True) -> Any:
        calls.append(request.url)
        return real(request, proxies, trust_env)

    monkeypatch.setattr(requests.utils, "resolve_proxies", counting)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    session = requests.Session()
    registry = ConnectionRegistry()
    one = requests.Request("POST", "http://clu01.example:5985/wsman").prepare()
    two = requests.Request("POST", "http://clu02.example:5985/wsman").prepare()
    expected = real(one, session.proxies, session.trust_env)
    assert expected == {"http": "http://proxy.invalid:3128"}  # what send() would use
    assert registry.proxies(session, one) == expected
    assert registry.proxies(session, one) == expected
    assert registry.proxies(session, two) == expected
    assert calls == [one.url, two.url]  # once per URL, not once per request
    loopback = requests.Session()
    loopback.proxies = {"http": False}  # type: ignore[dict-item]  # as pypsrp sets for loopback
    local = requests.Request("POST", "http://127.0.0.1:5985/wsman").prepare()
    assert registry.proxies(loopback, local) == real(local, loopback.proxies, True)


PRIMITIVES = [
    "<S>NODE 1</S>", "<S />", "<S>a_x000A_b_x005F_c</S>", "<ToString>Up</ToString>",
    "<URI>http://x/</URI>", "<XD>&lt;a/&gt;</XD>", "<SBK>k</SBK>", "<I32>-5</I32>",
    "<U32>4294967295</U32>", "<I64>9007199254740993</I64>", "<U64>1</U64>", "<I16>-1</I16>",
    "<U16>7</U16>", "<By>255</By>", "<SB>-128</SB>", "<Db>1.5</Db>", "<Sg>-0.25</Sg>",
    "<B>true</B>", "<B>False</B>", "<Nil />", "<DT>2024-01-01T00:00:00Z</DT>",
    "<TS>PT1S</TS>", "<D>1.10</D>", "<Version>10.0.14393</Version>",
]

OBJECT = (
    '<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    '<T>System.Object</T></TN><MS><S N="Name">NODE_x0020_1</S><I32 N="Id">1</I32>'
    '<B N="Up">true</B><Nil N="Owner" /><Db N="Weight">0.5</Db>'
    '<Obj N="Groups" RefId="1"><TN RefId="1"><T>System.Collections.ArrayList</T>'
    '<T>System.Object</T></TN><LST><S>a</S><I64>5</I64><S /></LST></Obj>'
    '<Obj N="Same" RefId="2"><TNRef RefId="0" /><MS><S N="Name">x</S></MS></Obj>'
    '</MS></Obj>'
)


@pytest.mark.parametrize("xml", PRIMITIVES)
def test_primitives_are_read_as_pypsrp_reads_them(xml: str) -> None:
    from pypsrp.serializer import Serializer

    slow, fast = Serializer(), Serializer()
    fast_primitives(fast)
    expected = slow.deserialize(ET.fromstring(xml), clear=False)  # noqa: S314 - our own text
    got = fast.deserialize(ET.fromstring(xml), clear=False)  # noqa: S314 - our own text
    assert got == expected and type(got) is type(expected)


def test_objects_are_read_as_pypsrp_reads_them() -> None:
    from pypsrp.serializer import Serializer

    slow, fast = Serializer(), Serializer()
    fast_primitives(fast)
    expected = _plain(slow.deserialize(OBJECT))
    assert _plain(fast.deserialize(OBJECT)) == expected
    assert expected["Name"] == "NODE 1" and expected["Groups"] == ["a", 5, ""]


@pytest.mark.parametrize("text", [
    None, "", "plain", '"Name","OwnerGroup"_x000D__x000A_"a","b"_x000D__x000A_',
    "_x005F_x000D_", "_x005f_x000d_", "_xD83D__xDE00_ and é", "a_x", "_x12_", "_x00e9_",
    "_x000A", "x_x0009__x0009_y", "\U0001F600_x000A_",
])
def test_clixml_strings_are_unescaped_as_pypsrp_does(text: str | None) -> None:
    from pypsrp.serializer import Serializer

    from clusterlib.transports.psrp_messages import clixml_string

    expected = Serializer()._deserialize_string(text)
    assert clixml_string(text) == expected


def test_clixml_strings_match_pypsrp_on_random_text() -> None:
    import binascii
    import random

    from pypsrp.serializer import Serializer

    from clusterlib.transports.psrp_messages import clixml_string

    rng = random.Random(14)
    pieces = ["_x000D_", "_x000A_", "_x005F_", "_x", "_", "x", "0", "a", "é", "\U0001F600",
              "_xD83D__xDE00_", "_x0041_", "_x00e9_", '"', ","]
    slow = Serializer()
    compared = 0
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        try:
            expected = slow._deserialize_string(text)
        except binascii.Error:  # pypsrp fails on "_x" + four word characters that are not hex
            continue
        assert clixml_string(text) == expected, text
        compared += 1
    assert compared > 1000
    with pytest.raises(UnicodeDecodeError):  # a lone surrogate fails in both
        slow._deserialize_string("_xD83D_")
    with pytest.raises(UnicodeDecodeError):
        clixml_string("_xD83D_")
