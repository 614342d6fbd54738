"""The policies of a rolling upgrade (order, budgets, timeouts, failback, validation), and the target."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from attrs import field, frozen

from clusterlib.model import ServiceVersion

#: The upgrade's failback policy: every group back to its original owner by the "end" of the
#: run (those of finished nodes while a later node installs), or after "each" node (not
#: Resume-ClusterNode -Failback's values, which are cluster.RESUME_FAILBACK_VALUES).
FAILBACK_POLICIES = ("end", "each")
#: ``validation_group`` value meaning "the lowest-priority non-core group" (the default).
AUTO = "auto"


def _version(value: Any) -> ServiceVersion:
    if isinstance(value, ServiceVersion):
        return value
    if isinstance(value, int):
        return ServiceVersion.from_dword(value)
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", str(value))
    if not match:
        raise ValueError(f"a cluster-service version is 'major.minor' (e.g. '9.3'), not {value!r}")
    return ServiceVersion(int(match.group(1)), int(match.group(2)))


def _opt_version(value: Any) -> ServiceVersion | None:
    return None if value is None else _version(value)


@frozen
class TargetVersion:
    """The cluster-service version the upgraded nodes must run (reference 3.5).

    ``highest`` is the NodeHighestVersion an upgraded node reports; ``lowest`` its
    NodeLowestVersion, needed to prove in advance that it may join the current cluster. Without
    ``lowest`` the join check falls back to "majors differ by at most one" [P].

    ``os``: for a service-pack roll, which leaves the cluster-service version as it is, the OS
    an upgraded node must report, as ``str(OSVersion)`` shows it ("5.2.3790 Service Pack 2":
    MajorVersion.MinorVersion.BuildNumber and CSDVersion); a node counts as upgraded only when
    both match.
    """

    highest: ServiceVersion = field(converter=_version)
    lowest: ServiceVersion | None = field(default=None, converter=_opt_version)
    label: str = ""
    os: str | None = None

    @classmethod
    def parse(cls, value: Any) -> TargetVersion:
        """Accept a TargetVersion, a ServiceVersion, "9.3", "9.3/8.9600" (highest/lowest), or any
        object with ``highest``/``lowest`` (and optionally ``label``) attributes, such as a
        simulator release."""
        if isinstance(value, TargetVersion):
            return value
        if isinstance(value, ServiceVersion):
            return cls(value)
        if isinstance(value, str):
            hi, _, lo = value.partition("/")
            return cls(_version(hi), _opt_version(lo or None))
        if hasattr(value, "highest"):
            return cls(value.highest, getattr(value, "lowest", None),
                       str(getattr(value, "label", "") or ""))
        raise TypeError(f"cannot read a target version from {value!r}")

    def __str__(self) -> str:
        text = str(self.highest) + (f" (lowest {self.lowest})" if self.lowest else "")
        text += f" on OS {self.os}" if self.os else ""
        return f"{self.label} {text}" if self.label else text

    def matches(self, highest: Any, os: Any) -> bool:
        """Whether a node reporting ``highest`` (NodeHighestVersion) and ``os`` runs this."""
        if highest is None or _version(highest) != self.highest:
            return False
        return self.os is None or (str(os) if os is not None else "").lower() == self.os.lower()

    def to_dict(self) -> dict[str, Any]:
        data = {"highest": str(self.highest),
                "lowest": str(self.lowest) if self.lowest else None, "label": self.label}
        if self.os:
            data["os"] = self.os
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetVersion:
        return cls(data["highest"], data.get("lowest"), str(data.get("label") or ""),
                   data.get("os"))


def _order(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _target(value: Any) -> TargetVersion | None:
    return None if value is None else TargetVersion.parse(value)


def _failback(value: str) -> str:
    v = str(value).lower()
    if v not in FAILBACK_POLICIES:
        raise ValueError(f"failback must be one of {', '.join(FAILBACK_POLICIES)}, not {value!r}")
    return v


#: ``order_policy`` values: node ID order (the default), or CAU's fewest groups first.
ORDER_POLICIES = ("node-id", "fewest-groups-first")


def _order_policy(value: str) -> str:
    v = str(value).lower()
    if v not in ORDER_POLICIES:
        raise ValueError(f"order_policy must be one of {', '.join(ORDER_POLICIES)}, not {value!r}")
    return v


@frozen
class Estimates:
    """Durations used only to print expected times in a plan (cluster seconds). They are
    guesses a person can override, never used to decide anything."""

    move: float = 30.0
    drain_parallelism: int = 4
    install: float = 1800.0
    reboot: float = 300.0
    join: float = 30.0


@frozen(kw_only=True)
class UpgradeOptions:
    """Every policy of a run, with the defaults a careful administrator would pick.

    Durations are cluster seconds (a simulator divides them by its speed).

    ``order``: node names in upgrade order; None = as ``order_policy`` says.
    ``max_failed_nodes``: nodes that may fail (action failed or wrong version, node back and
    safe) before the run stops; 0 = stop at the first.
    ``retries_per_node``: extra attempts of a failed drain or action on a node.
    ``drain_timeout``: pause + drain + moving the leftovers.
    ``reboot_timeout``: from the action to the node being back in the cluster (Joining or later).
    ``rejoin_timeout``: from Joining to Paused/Up.
    ``action_timeout``: how long a ManualAction waits for confirmation.
    ``failback``: "end" (every group back to its original owner by the end of the run, as the
    classic procedure does; the groups of nodes already finished go home while a later node
    installs, so only the last node's wait at the end) or "each" (a node's groups go back as
    soon as it is resumed).
    ``validation_group``: "auto" (lowest-priority non-core group), a group name, or None to skip
    the validation move.
    ``raise_functional_level``: run Update-ClusterFunctionalLevel at the end (irreversible;
    only when every node is Up on one version).
    ``require_all_up``: preflight refuses when any node is not Up.
    ``force_drain``: CAU's -ForcePauseAndDrain: drain with Suspend-ClusterNode -ForceDrain
    (2012 R2+; -ForceEvacuation on 2012): a workload that cannot be moved safely is stopped and
    moved as a failed role and the node is paused anyway. Preflight refuses it where the release
    has neither switch. The availability invariant still holds: such a group is recovered or the
    run stops, and the run is at best "degraded".
    ``drain_ahead`` (opt-in): while a node installs and restarts, clusterlib also empties the
    next node of the order (``moves.drain_ahead``): its groups move, a few at a time, to the
    other Up nodes (a node already upgraded first, where the group may be owned there), so
    that when its turn comes the pause and drain find (almost) nothing to move and its
    installer starts at once: the drain leaves the critical path. The trade a careful
    administrator weighs: for the length of each install the remaining N-2 nodes carry every
    group (VMware DRS refuses to evacuate a host when that would violate HA failover capacity;
    CAU never drains ahead). The emptied node stays Up and unpaused, so the cluster may still
    fail groups over to it if another node fails. Skipped on clusters of 3 nodes or fewer
    (never every group on one node); groups only the next and the installing node may own
    wait for the normal drain. The groups drained ahead go home as every drained group does
    (while a later node installs, or in the final redistribution).
    """

    order: tuple[str, ...] | None = field(default=None, converter=_order)
    target: TargetVersion | None = field(default=None, converter=_target)
    max_failed_nodes: int = 0
    retries_per_node: int = 1
    drain_timeout: float = 1800.0
    reboot_timeout: float = 3600.0
    rejoin_timeout: float = 900.0
    action_timeout: float = 86400.0
    poll_interval: float = 5.0
    failback: str = field(default="end", converter=_failback)
    validation_group: str | None = AUTO
    raise_functional_level: bool = False
    require_all_up: bool = True
    estimates: Estimates = Estimates()
    #: How the order is chosen when ``order`` is None: "node-id" (node 1 first, as ``cluster
    #: node`` lists them) or "fewest-groups-first" (CAU's default). clusterlib.upgrade.preflight.
    order_policy: str = field(default="node-id", converter=_order_policy)
    #: Hooks, as CAU's pre-/post-update scripts: a command line (run on the node with cmd.exe),
    #: a RemoteCommand, a PowerShellAction, or a callable ``fn(node, cluster)`` raising to fail.
    #: ``pre_update`` runs on the drained node right before the upgrade action; ``verify`` after
    #: the version check, before the node is resumed and the validation move. Either failing
    #: stops the run with that node paused and owning no group (resume runs it again).
    pre_update: Any = field(default=None, eq=False, repr=False)
    verify: Any = field(default=None, eq=False, repr=False)
    force_drain: bool = False
    #: Moves in flight at once when the groups go back to their original owners at the end (as
    #: the cluster's drain moves 4 at a time); 1 moves them one after another.
    redistribute_parallelism: int = field(default=4, validator=attrs.validators.ge(1))
    #: Empty the next node while the current one installs (see above; off by default).
    drain_ahead: bool = False

    def __attrs_post_init__(self) -> None:
        from clusterlib.upgrade.actions import as_hook

        as_hook(self.pre_update, "pre_update")  # a clear TypeError now, not mid-run
        as_hook(self.verify, "verify")
        if self.max_failed_nodes < 0 or self.retries_per_node < 0:
            raise ValueError("max_failed_nodes and retries_per_node must be >= 0")
        for name in ("drain_timeout", "reboot_timeout", "rejoin_timeout", "action_timeout",
                     "poll_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def to_dict(self) -> dict[str, Any]:
        from clusterlib.upgrade.actions import as_hook

        data = attrs.asdict(self, recurse=True, value_serializer=_serialize,
                            filter=lambda a, _v: a.name not in _HOOKS)
        for name in _HOOKS:
            hook = as_hook(getattr(self, name), name)
            data[name] = hook.to_dict() if hook is not None else None
        data["target"] = self.target.to_dict() if self.target else None
        data["order"] = list(self.order) if self.order is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpgradeOptions:
        known = {f.name for f in attrs.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        kwargs = dict(data)
        if kwargs.get("target") is not None:
            kwargs["target"] = TargetVersion.from_dict(kwargs["target"])
        if kwargs.get("estimates") is not None:
            kwargs["estimates"] = Estimates(**kwargs["estimates"])
        from clusterlib.upgrade.actions import action_from_dict

        for name in _HOOKS:
            # A hook that cannot be rebuilt (code, a secret) comes back None: the engine's
            # resume then asks for it (RollingUpgrade.from_journal).
            if isinstance(kwargs.get(name), Mapping):
                kwargs[name] = action_from_dict(kwargs[name])
        return cls(**kwargs)

    def evolve(self, **changes: Any) -> UpgradeOptions:
        return attrs.evolve(self, **changes)


_HOOKS = ("pre_update", "verify")


def _serialize(_inst: Any, _field: Any, value: Any) -> Any:
    if isinstance(value, ServiceVersion):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value
