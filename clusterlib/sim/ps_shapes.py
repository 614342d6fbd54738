"""The objects the simulated FailoverClusters cmdlets return (ClusterNode, ClusterGroup, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clusterlib.sim.psobjects import NS, PSObject, enum_value
from clusterlib.sim.simcluster import SimCluster, SimGroup, SimNode, SimResource


class Shapes:
    """Builds the cmdlets' output objects for one SimCluster."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        # Objects built during one cmdlet call: a node appears as OwnerNode of many groups, and
        # rebuilding it for each made large reads slow. Cleared before every cmdlet so actions
        # are always followed by fresh objects.
        self._node_cache: dict[str, PSObject] = {}

    def new_call(self) -> None:
        """A new cmdlet starts: objects built from here on show the cluster as it is now."""
        self._node_cache = {}

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
        cached = self._node_cache.get(node.name)
        if cached is not None:
            return cached
        props: dict[str, Any] = {
            "Cluster": self.sim.name,
            "State": enum_value(f"{NS}.ClusterNodeState", node.state),
            "Id": str(node.id),
            "Name": node.name,
            "NodeName": node.name,
            **node.version_props(),
            "NodeWeight": node.node_weight,
            "DynamicWeight": node.node_weight if node.state.name in ("Up", "Paused") else 0,
            "Description": "",
        }
        if self.sim.drain_supported:
            props["DrainStatus"] = enum_value(f"{NS}.ClusterNodeDrainStatus", node.drain_status)
            props["DrainTarget"] = node.drain_target
        obj = PSObject((f"{NS}.ClusterNode", f"{NS}.ClusterObject", "System.Object"), props,
                       to_string=node.name)
        self._node_cache[node.name] = obj
        return obj

    def group_obj(self, group: SimGroup) -> PSObject:
        owner = self.sim.nodes[group.owner]
        props: dict[str, Any] = {
            "Cluster": self.sim.name,
            "IsCoreGroup": group.is_core,
            "OwnerNode": self.node_obj(owner),
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
        return PSObject((f"{NS}.ClusterGroup", f"{NS}.ClusterObject", "System.Object"), props,
                        to_string=group.name)

    def resource_obj(self, group: SimGroup, res: SimResource) -> PSObject:
        props: dict[str, Any] = {
            "Cluster": self.sim.name,
            "OwnerNode": self.node_obj(self.sim.nodes[group.owner]),
            "ResourceType": res.type,
            "State": enum_value(f"{NS}.ClusterResourceState", res.state),
            "OwnerGroup": self.group_obj(group),
            "Name": res.name,
        }
        return PSObject((f"{NS}.ClusterResource", f"{NS}.ClusterObject", "System.Object"), props,
                        to_string=res.name)

    def owner_list(self, obj: PSObject, owners: Sequence[str]) -> PSObject:
        by_name = {k.lower(): n for k, n in self.sim.nodes.items()}
        nodes = [self.node_obj(by_name[n.lower()]) for n in owners if n.lower() in by_name]
        return PSObject((f"{NS}.ClusterOwnerNodeList", "System.Object"),
                        {"ClusterObject": obj, "OwnerNodes": nodes}, to_string=str(obj))

