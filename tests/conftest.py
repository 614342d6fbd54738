"""Shared fixtures: no real back-off, and every simulator test run over each transport."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import clusterlib
from clusterlib import retry
from clusterlib.sim import SimCluster

sys.path.insert(0, str(Path(__file__).parent))

TRANSPORTS = ("inprocess", "winrm")


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Retries still happen in tests; they just never sleep on a back-off."""
    with retry.testing(wait=False):
        yield


ConnectSim = Callable[..., clusterlib.Cluster]


@pytest.fixture(params=TRANSPORTS)
def connect_sim(request: pytest.FixtureRequest) -> Iterator[ConnectSim]:
    """``connect_sim(sim, **kw)`` -> a Cluster on ``sim`` over the parametrized transport:
    in-process, or the real pypsrp client over the loopback WinRM endpoint."""
    stack = contextlib.ExitStack()
    kind = request.param

    def make(sim: SimCluster, **kw: object) -> clusterlib.Cluster:
        if kind == "inprocess":
            cluster = clusterlib.connect(sim, **kw)  # type: ignore[arg-type]
        else:
            try:
                from transport_factories import winrm_factory
            except ImportError:
                pytest.skip("WinRM transport not available yet")
            transport = stack.enter_context(winrm_factory(sim))
            cluster = clusterlib.connect(transport, **kw)  # type: ignore[arg-type]
        stack.callback(cluster.close)
        return cluster

    with stack:
        yield make


@pytest.fixture
def classic_ps() -> SimCluster:
    """The classic two-node layout on an OS with the FailoverClusters module and drain."""
    return SimCluster.classic(os="2012R2")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--sim-language", default=None,
                     help="UI language every SimCluster speaks unless a test names one (en-US,"
                          " pt-BR, de-DE, zh-TW); also CLUSTERLIB_TEST_LANGUAGE")


def pytest_configure(config: pytest.Config) -> None:
    """Run the simulator in another UI language (--sim-language or CLUSTERLIB_TEST_LANGUAGE), and
    with text-only PowerShell error records (CLUSTERLIB_TEST_ERROR_CODES=0). Tests that build a
    SimCluster without language= then meet localized errors and core-group names."""
    import os

    from clusterlib.sim import locale

    language = config.getoption("--sim-language") or os.environ.get("CLUSTERLIB_TEST_LANGUAGE")
    if language:
        locale.DEFAULT_LANGUAGE = locale.check_language(language)
    codes = os.environ.get("CLUSTERLIB_TEST_ERROR_CODES")
    if codes is not None:
        locale.DEFAULT_ERROR_CODES = codes.strip().lower() not in ("0", "false", "no", "off")
