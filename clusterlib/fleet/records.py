"""The fleet's plain records: a progress event, the preflight of one cluster and of the whole fleet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterlib.upgrade.events import utc_now


@dataclass(frozen=True)
class FleetEvent:
    """One line of fleet progress: ``cluster`` (None for the fleet itself), ``kind`` and ``text``.
    ``upgrade`` carries the engine event's ``to_dict()`` for kind "upgrade"."""

    cluster: str | None
    kind: str
    text: str
    at: str = field(default_factory=utc_now)
    upgrade: Mapping[str, Any] | None = None

    def line(self) -> str:
        return f"[{self.cluster or 'fleet'}] {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "kind": self.kind, "text": self.text, "at": self.at,
                "upgrade": dict(self.upgrade) if self.upgrade else None}


@dataclass
class ClusterPlan:
    """The preflight of one cluster: ``status`` "ready", "resume", "already-upgraded",
    "preflight-failed" or "unreachable"; ``plan`` the engine's Plan (None unless planned)."""

    name: str
    status: str
    message: str = ""
    plan: Any = None
    failed_checks: tuple[str, ...] = ()
    versions_before: tuple[str, ...] = ()
    simulated: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("ready", "resume", "already-upgraded")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message,
                "failed_checks": list(self.failed_checks),
                "versions_before": list(self.versions_before), "simulated": self.simulated,
                "plan": self.plan.to_dict() if self.plan is not None else None}


@dataclass
class FleetPlan:
    clusters: list[ClusterPlan]
    waves: list[list[str]]
    simulated: bool

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.clusters)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "simulated": self.simulated, "waves": self.waves,
                "clusters": [c.to_dict() for c in self.clusters]}

    def to_text(self) -> str:
        lines = ["SIMULATED clusters are embedded simulators; nothing real is touched"] \
            if self.simulated else []
        for i, wave in enumerate(self.waves, 1):
            lines.append(f"wave {i}: {', '.join(wave) or '(empty)'}")
        for c in self.clusters:
            lines.append(f"  {c.name:<24} {c.status:<17} {c.message}".rstrip())
        return "\n".join(lines)
