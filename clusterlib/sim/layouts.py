"""Named simulator layouts (classic, classic-OS, build:NxM[@OS]): parsing them and building the cluster.

One definition shared by the CLI's ``--sim``, fleet inventories and ``clusterlib demo``. A layout's
upgrade target is the next release only where Windows supports a rolling upgrade to it
(``clusterlib.versions.upgrade_path``): Windows 2000 -> 2003, and 2012 R2 -> 2016 onward one
release at a time. Layouts on 2003, 2008, 2008 R2 and 2012 have no target (moving from them is a
migration to a new cluster, KB 935197), so an upgrade on them is refused by preflight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

if TYPE_CHECKING:
    from clusterlib.sim.simcluster import SimCluster

LAYOUTS_HELP = (
    "classic (Windows 2000 -> 2003, two nodes, driven with cluster.exe), classic-OS (e.g."
    " classic-2012r2: the same layout on OS, upgrading to the next release where a rolling"
    " upgrade exists), build:NxM[@OS] (N nodes, M groups; OS default 2016)"
)


@frozen
class Layout:
    kind: str  # "classic" | "build"
    os: str
    upgrade_to: str | None
    nodes: int = 2
    groups: int = 4


def next_rolling_release(key: str) -> str | None:
    """The release a rolling upgrade from ``key`` reaches, or None where only a migration exists."""
    from clusterlib.sim.releases import RELEASES
    from clusterlib.versions import upgrade_path

    order = list(RELEASES)
    idx = order.index(key)
    if idx + 1 >= len(order):
        return None
    here, there = RELEASES[key], RELEASES[order[idx + 1]]
    verdict = upgrade_path(here.highest.major, there.highest.major)
    return there.key if verdict.ok and verdict.kind == "rolling" else None


def parse_layout(text: str) -> Layout:
    """``classic``, ``classic-OS``, ``build:NxM`` or ``build:NxM@OS``; ValueError naming what is
    valid otherwise."""
    from clusterlib.sim.releases import RELEASES

    order = list(RELEASES)

    def os_key(raw: str) -> str:
        for key in order:
            if key.lower() == raw.lower():
                return key
        raise ValueError(f"unknown Windows release {raw!r} in layout {text!r}; known:"
                         f" {', '.join(order)}")

    low = text.strip().lower()
    if low in ("classic", "two-node", "classic-2000"):
        # Exactly SimCluster.classic(): Windows 2000 upgrading to 2003, driven with cluster.exe.
        return Layout("classic", "2000", "2003")
    if low.startswith("classic-"):
        key = os_key(low.removeprefix("classic-"))
        return Layout("classic", key, next_rolling_release(key))
    if low.startswith("build:"):
        spec, _, os_part = low.removeprefix("build:").partition("@")
        n_text, sep, m_text = spec.partition("x")
        if not sep or not n_text.isdigit() or not m_text.isdigit() or int(n_text) < 1:
            raise ValueError(f"layout {text!r}: expected build:NxM (e.g. build:4x20)")
        key = os_key(os_part) if os_part else "2016"
        return Layout("build", key, next_rolling_release(key), nodes=int(n_text),
                      groups=int(m_text))
    raise ValueError(f"unknown simulator layout {text!r}; layouts: {LAYOUTS_HELP}")


def build(layout: Layout | str, *, speed: float | None = None) -> SimCluster:
    """The simulated cluster of a layout (ValueError for one Windows refuses, e.g. too many
    nodes for the release)."""
    from clusterlib.sim.simcluster import SimCluster

    if isinstance(layout, str):
        layout = parse_layout(layout)
    kw: dict[str, Any] = {} if speed is None else {"speed": speed}
    if layout.kind == "classic":
        if layout.os == "2000":
            return SimCluster.classic(**kw)
        return SimCluster.classic(os=layout.os, upgrade_to=layout.upgrade_to, **kw)
    return SimCluster.build(layout.nodes, layout.groups, os=layout.os,
                            upgrade_to=layout.upgrade_to, **kw)
