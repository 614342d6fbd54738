"""Preflight checks with no test of their own elsewhere: force-drain and names, each called directly."""

from __future__ import annotations

from upgrade_helpers import classic_ps, connect

from clusterlib.sim import SimCluster
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.preflight import CheckContext, check_force_drain, check_names


def _ctx(sim: SimCluster, **options: object) -> CheckContext:
    snapshot = connect(sim).snapshot()
    return CheckContext(snapshot, UpgradeOptions(**options),  # type: ignore[arg-type]
                        tuple(n.name for n in snapshot.nodes))


def test_force_drain_says_nothing_unless_asked() -> None:
    assert check_force_drain(_ctx(classic_ps())) == []


def test_force_drain_names_the_switch_it_will_send() -> None:
    ctx = _ctx(classic_ps(), force_drain=True)
    ctx.force_drain_switch = "ForceDrain"
    [result] = check_force_drain(ctx)
    assert result.ok and result.severity == "warning" and "-ForceDrain" in result.message


def test_force_drain_is_refused_where_the_cluster_has_none() -> None:
    ctx = _ctx(classic_ps(), force_drain=True)
    ctx.force_drain_switch = None
    [result] = check_force_drain(ctx)
    assert result.blocking and "Run without force_drain" in result.message


def test_names_refuses_a_group_cluster_exe_cannot_carry() -> None:
    sim = SimCluster.classic(speed=5000)
    sim.add_group("R&D Share", owner="NODE2")
    [result] = check_names(_ctx(sim))
    assert result.name == "names" and result.blocking
    assert "R&D Share" in result.message and "nothing was changed" in result.message


def test_names_says_nothing_when_every_name_can_be_sent() -> None:
    assert check_names(_ctx(SimCluster.classic(speed=5000))) == []


def test_names_applies_to_cluster_exe_only() -> None:
    sim = classic_ps()
    sim.add_group("R&D Share", owner="NODE2")  # PowerShell passes names as parameters
    assert check_names(_ctx(sim)) == []
