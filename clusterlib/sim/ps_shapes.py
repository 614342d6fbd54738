"""The objects the simulated FailoverClusters cmdlets return (ClusterNode, ClusterGroup, ...)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from clusterlib.sim.psobjects import NS, PSObject, enum_value
from clusterlib.sim.simcluster import SimCluster, SimGroup, SimNode, SimResource

_NODE_TYPES = (f"{NS}.ClusterNode", f"{NS}.ClusterObject", "System.Object")
_GROUP_TYPES = (f"{NS}.ClusterGroup", f"{NS}.ClusterObject", "System.Object")
_RESOURCE_TYPES = (f"{NS}.ClusterResource", f"{NS}.ClusterObject", "System.Object")


class Shapes:
    """Builds the cmdlets' output objects for one SimCluster, and keeps them while they hold.

    A node, group or resource object is kept with the values it was built from (its key) and
    handed out again while those are unchanged; a change (a move, a pause, a new state) gives a
    new key and so a new object, so a read after an action always shows the cluster as it is.
    The kept objects carry a ``memo`` for their Select-Object row and CSV line
    (clusterlib.sim.psobjects, ps_core), so reading a large, quiet cluster again costs a lookup
    per group: 64 nodes x 32,000 groups made the endpoint spend 0.95 s of CPU per snapshot
    building the same strings. One Shapes per SimCluster (:meth:`of`), shared by the endpoint's
    threads: a lost race only builds an object twice.
    """

    _registry: weakref.WeakKeyDictionary[SimCluster, Shapes] = weakref.WeakKeyDictionary()
    _registry_lock = threading.Lock()

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        self._nodes: dict[str, tuple[tuple[Any, ...], PSObject]] = {}
        self._groups: dict[str, tuple[tuple[Any, ...], PSObject]] = {}
        self._resources: dict[tuple[str, str], tuple[tuple[Any, ...], PSObject]] = {}
        # Bumped whenever a node's object is rebuilt: owner lists made before are stale.
        self._node_gen = 0
        self._gen_lock = threading.Lock()
        self._owner_nodes: dict[tuple[str, ...], tuple[int, list[PSObject]]] = {}

    @classmethod
    def of(cls, sim: SimCluster) -> Shapes:
        """The Shapes of ``sim`` (made on first use, dropped with the cluster)."""
        shapes = cls._registry.get(sim)
        if shapes is None:
            with cls._registry_lock:
                shapes = cls._registry.setdefault(sim, cls(sim))
        return shapes

    def cluster_obj(self) -> PSObject:
        sim = self.sim
        props: dict[str, Any] = {"Name": sim.name, "Domain": "sim.local",
                                 "DynamicQuorum": 1 if sim.dynamic_quorum else 0}
        if sim._has_fl_property():
            props["ClusterFunctionalLevel"] = sim.functional_level
            props["ClusterUpgradeVersion"] = max(n.release.os.build for n in sim.nodes.values())
        props["Id"] = f"00000000-0000-0000-0000-{abs(hash(sim.name)) % 10**12:012d}"
        return PSObject((f"{NS}.Cluster", f"{NS}.ClusterObject", "System.Object"), props,
                        to_string=sim.name)

    def node_obj(self, node: SimNode) -> PSObject:
        sim = self.sim
        key = (node.state, node.drain_status, node.drain_target, node.node_weight, node.release,
               node.id, node.name, sim.name, sim.drain_supported)
        kept = self._nodes.get(node.name)
        if kept is not None and kept[0] == key:
            return kept[1]
        props: dict[str, Any] = {
            "Cluster": sim.name,
            "State": enum_value(f"{NS}.ClusterNodeState", node.state),
            "Id": str(node.id),
            "Name": node.name,
            "NodeName": node.name,
            **node.version_props(),
            "NodeWeight": node.node_weight,
            "DynamicWeight": node.node_weight if node.state.name in ("Up", "Paused") else 0,
            "Description": "",
        }
        if sim.drain_supported:
            props["DrainStatus"] = enum_value(f"{NS}.ClusterNodeDrainStatus", node.drain_status)
            props["DrainTarget"] = node.drain_target
        obj = PSObject(_NODE_TYPES, props, to_string=node.name)
        obj.memo = {}
        with self._gen_lock:  # the endpoint's threads share this: no increment may be lost
            self._nodes[node.name] = (key, obj)
            self._node_gen += 1
        return obj

    def group_obj(self, group: SimGroup, owner: PSObject | None = None) -> PSObject:
        """``owner``: the owner node's current object, when the caller has it already."""
        sim = self.sim
        if owner is None:
            owner = self.node_obj(sim.nodes[group.owner])
        # id(owner): the kept entry holds that very object (as OwnerNode), so the id is its own.
        key = (id(owner), group.state, group.priority, group.is_core, group.group_type,
               group.persistent_state, tuple(group.anti_affinity), sim.name, sim.drain_supported)
        kept = self._groups.get(group.name)
        if kept is not None and kept[0] == key:
            return kept[1]
        props: dict[str, Any] = {
            "Cluster": self.sim.name,
            "IsCoreGroup": group.is_core,
            "OwnerNode": owner,
            "State": enum_value(f"{NS}.ClusterGroupState", group.state),
            "Name": group.name,
            "Description": "",
            "PersistentState": 1 if group.persistent_state.name == "Online" else 0,
            "FailoverThreshold": 4294967295,
            "FailoverPeriod": 6,
            "AutoFailbackType": 0,
            "FailbackWindowStart": 4294967295,
            "FailbackWindowEnd": 4294967295,
            "AntiAffinityClassNames": list(group.anti_affinity),
        }
        if self.sim.drain_supported:
            props["Priority"] = group.priority
            props["GroupType"] = enum_value(f"{NS}.GroupType", group.group_type)
            props["DefaultOwner"] = -1
        props["Id"] = f"{abs(hash(group.name)) % 10**8:08d}-0000-0000-0000-000000000000"
        obj = PSObject(_GROUP_TYPES, props, to_string=group.name)
        obj.memo = {}
        self._groups[group.name] = (key, obj)
        return obj

    def resource_obj(self, group: SimGroup, res: SimResource,
                     owner: PSObject | None = None) -> PSObject:
        group_obj = self.group_obj(group, owner)
        owner = group_obj.props["OwnerNode"]
        key = (id(group_obj), res.state, res.type, res.name)
        kept = self._resources.get((group.name, res.name))
        if kept is not None and kept[0] == key:
            return kept[1]
        props: dict[str, Any] = {
            "Cluster": self.sim.name,
            "OwnerNode": owner,
            "ResourceType": res.type,
            "State": enum_value(f"{NS}.ClusterResourceState", res.state),
            "OwnerGroup": group_obj,
            "Name": res.name,
        }
        obj = PSObject(_RESOURCE_TYPES, props, to_string=res.name)
        obj.memo = {}
        self._resources[(group.name, res.name)] = (key, obj)
        return obj

    def owner_list(self, obj: PSObject, owners: Sequence[str]) -> PSObject:
        """Get-ClusterOwnerNode's answer for ``obj``: the node objects of ``owners``. Kept in
        ``obj``'s memo while the nodes are unchanged (call :meth:`refresh_nodes` first in a
        cmdlet, so a node that changed is seen)."""
        names = owners if type(owners) is tuple else tuple(owners)
        memo = obj.memo
        if memo is not None:
            kept = memo.get("owners")
            if kept is not None and kept[1] == self._node_gen and (kept[0] is names
                                                                   or kept[0] == names):
                return kept[2]  # type: ignore[no-any-return]
        nodes = self._resolved(names)
        made = PSObject((f"{NS}.ClusterOwnerNodeList", "System.Object"),
                        {"ClusterObject": obj, "OwnerNodes": nodes}, to_string=str(obj))
        if memo is not None:
            made.memo = {}
            memo["owners"] = (names, self._node_gen, made)
        return made

    def refresh_nodes(self) -> None:
        """Bring every node's object up to date (a changed node makes a new generation)."""
        for node in list(self.sim.nodes.values()):
            self.node_obj(node)
        if len(self._nodes) != len(self.sim.nodes):
            self._node_gen += 1

    def _resolved(self, names: tuple[str, ...]) -> list[PSObject]:
        """The node objects of ``names`` (case-insensitive; unknown names left out); one shared
        list per owner list and node generation: 32,000 resources whose possible owners are
        every node share one."""
        kept = self._owner_nodes.get(names)
        if kept is not None and kept[0] == self._node_gen:
            return kept[1]
        by_name = {k.lower(): n for k, n in self.sim.nodes.items()}
        nodes = [self.node_obj(by_name[n.lower()]) for n in names if n.lower() in by_name]
        self._owner_nodes[names] = (self._node_gen, nodes)
        return nodes
