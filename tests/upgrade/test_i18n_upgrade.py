"""Key rolling-upgrade scenarios on clusters speaking pt-BR, de-DE, zh-TW: busy groups retried, the lock read.

Every scenario runs in process in each language. Over the loopback WinRM endpoint (pypsrp) the
default run covers both upgrades in zh-TW (PowerShell with text-only error records); the other
wire combinations (3 to 9 s each on a loaded machine) are opt-in with ``-m chaos`` or
CLUSTERLIB_CHAOS=1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import skip_unless_chaos
from conftest import ConnectSim

import clusterlib
from clusterlib import win32
from clusterlib.model import NodeState
from clusterlib.sim import GroupLocked, SimCluster
from clusterlib.sim import locale as sim_locale
from clusterlib.sim.simcluster import SimError
from clusterlib.wire import Cmdlet, Pipeline, Statement

LANGUAGES = ("pt-BR", "de-DE", "zh-TW")
CLASSIC_INSTALLER = "D:\\i386\\winnt32.exe /unattend"
LOCK = "ClusterlibUpgradeLock"


def _moving_first(sim: SimCluster, times: int) -> list[str]:
    """The next ``times`` moves asked of the cluster find their group still moving (5908), as
    when another administrator's move is under way; returns the groups refused."""
    real: Callable[..., Any] = sim.move_group
    refused: list[str] = []

    def move_group(name: str, *args: Any, **kwargs: Any) -> Any:
        if len(refused) < times:
            refused.append(name)
            raise SimError(5908)
        return real(name, *args, **kwargs)

    sim.move_group = move_group  # type: ignore[method-assign]
    return refused


def _assert_retried(report: Any, language: str, code: int) -> None:
    text = win32.LOCALIZED_MESSAGES[language][code]
    hits = [r for r in report.retries if text in r["error"] and f"(Win32 {code} " in r["error"]]
    assert hits, f"no retry of {code} in {language}: {report.retries}"


def _assert_done(sim: SimCluster, cluster: clusterlib.Cluster, original: Any, key: str,
                 language: str) -> None:
    assert all(n.release.key == key for n in sim.nodes.values())
    final = cluster.snapshot()
    assert all(n.state is NodeState.Up for n in final.nodes)
    assert final.placement() == original
    core = final.core_group
    assert core is not None and core.name == sim_locale.CORE_GROUP[language]
    assert LOCK not in sim.private_props  # released, whatever the language


@contextlib.contextmanager
def _connected(sim: SimCluster, transport: str,
               request: pytest.FixtureRequest) -> Iterator[clusterlib.Cluster]:
    if transport == "inprocess":
        yield clusterlib.connect(sim)
        return
    if transport == "winrm-full":
        skip_unless_chaos(request)
    from transport_factories import winrm_factory

    with winrm_factory(sim) as wire:
        cluster = clusterlib.connect(wire)
        try:
            yield cluster
        finally:
            cluster.close()


# (language, transport): "winrm-full" combinations run only with -m chaos / CLUSTERLIB_CHAOS=1.
CLASSIC_RUNS = [*((lang, "inprocess") for lang in LANGUAGES), ("zh-TW", "winrm"),
                pytest.param("pt-BR", "winrm-full", marks=pytest.mark.chaos),
                pytest.param("de-DE", "winrm-full", marks=pytest.mark.chaos)]
PS_RUNS = [*((lang, codes, "inprocess") for lang in LANGUAGES for codes in (True, False)),
           ("zh-TW", False, "winrm"),
           *(pytest.param(lang, False, "winrm-full", marks=pytest.mark.chaos)
             for lang in ("pt-BR", "de-DE")),
           *(pytest.param(lang, True, "winrm-full", marks=pytest.mark.chaos) for lang in LANGUAGES)]


@pytest.mark.parametrize(("language", "transport"), CLASSIC_RUNS)
def test_classic_2000_to_2003_over_cluster_exe(request: pytest.FixtureRequest, tmp_path: Path,
                                               language: str, transport: str) -> None:
    sim = _classic(language)
    with _connected(sim, transport, request) as cluster:
        _run_classic(cluster, sim, tmp_path, language)


def _classic(language: str) -> SimCluster:
    sim = SimCluster.classic(language=language)
    sim.inject(GroupLocked("SQL Group 1", times=1))
    return sim


def _run_classic(cluster: clusterlib.Cluster, sim: SimCluster, tmp_path: Path,
                 language: str) -> None:
    from clusterlib.upgrade import RollingUpgrade, default_action

    refused = _moving_first(sim, 1)
    assert cluster.dialect.capabilities.dialect == "clusterexe"
    original = cluster.snapshot().placement()
    action = default_action(CLASSIC_INSTALLER, cluster.snapshot())
    report = RollingUpgrade(cluster, action=action, journal=tmp_path / "j.json").run()
    assert report.ok and refused
    _assert_retried(report, language, 5908)
    _assert_retried(report, language, 5960)
    _assert_done(sim, cluster, original, "2003", language)


@pytest.mark.parametrize(("language", "error_codes", "transport"), PS_RUNS)
def test_2016_to_2019_over_powershell(request: pytest.FixtureRequest, tmp_path: Path,
                                      language: str, error_codes: bool, transport: str) -> None:

    sim = SimCluster.classic(os="2016", upgrade_to="2019", speed=5000.0, language=language,
                             error_codes=error_codes, available_storage=True)
    sim.inject(GroupLocked("File Group 3", times=1))
    refused = _moving_first(sim, 1)
    with _connected(sim, transport, request) as cluster:
        _run_ps(cluster, sim, refused, tmp_path, language)


def _run_ps(cluster: clusterlib.Cluster, sim: SimCluster, refused: list[str], tmp_path: Path,
            language: str) -> None:
    from clusterlib.upgrade import RemoteCommand, RollingUpgrade

    assert cluster.dialect.capabilities.dialect == "powershell"
    original = cluster.snapshot().placement()
    report = RollingUpgrade(cluster, action=RemoteCommand(r"D:\setup.exe /unattend"),
                            journal=tmp_path / "j.json").run()
    assert report.ok and refused
    _assert_retried(report, language, 5908)
    _assert_retried(report, language, 5960)
    _assert_done(sim, cluster, original, "2019", language)
    assert cluster.snapshot().functional_level == sim.functional_level


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_lock_reads_absent_on_a_fresh_cluster(connect_sim: ConnectSim, language: str) -> None:
    from clusterlib.upgrade import lock

    sim = SimCluster.classic(os="2016", language=language, error_codes=False)
    cluster = connect_sim(sim)
    # Asking for the one name fails, in the cluster's words and with no code on the record...
    result = cluster.transport.run_pipeline(Pipeline(statements=(Statement((
        Cmdlet("Get-Cluster"), Cmdlet("Get-ClusterParameter", {"Name": LOCK}))),),
        idempotent=True))
    assert result.errors and result.errors[0].win32_code is None
    assert result.errors[0].message == win32.LOCALIZED_MESSAGES[language][13]
    # ... so the lock is read from the listing of names, which does not depend on them.
    assert lock.read_lock(cluster) is None
    held = lock.acquire(cluster, "run-1", sim.name)
    current = lock.read_lock(cluster)
    assert current is not None and current.token == held.token
    assert lock.release(cluster, held)
    assert lock.read_lock(cluster) is None
