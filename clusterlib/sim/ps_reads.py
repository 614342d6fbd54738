"""The read cmdlets of the simulator's PowerShell host.

Get-Cluster, Get-ClusterNode, Get-ClusterGroup, Get-ClusterResource, Get-ClusterOwnerNode,
Get-ClusterQuorum, Get-ClusterParameter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clusterlib.sim.ps_catalog import QUORUM_TYPES
from clusterlib.sim.psobjects import NS, PSObject
from clusterlib.sim.simcluster import SimCluster, SimError, SimGroup, SimResource
from clusterlib.wire import Cmdlet

if TYPE_CHECKING:
    from clusterlib.sim.powershell_host import PowerShellHost


def get_cluster(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.sim.advance()
    host.sim._ensure_up()
    name = cmd.param("Name")
    if name is not None and str(name).lower() != host.sim.name.lower():
        raise SimError(1722, f"The cluster '{name}' could not be reached.",
                       category="ConnectionError", error_id="ClusterRpcConnection")
    return [host.shapes.cluster_obj()]


def get_node(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    names = host.names(cmd.param("Name"))
    if names:
        return [host.shapes.node_obj(host.sim._node(n)) for n in names]
    return [host.shapes.node_obj(n) for n in host.sim.nodes.values()]


def get_group(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    names = host.names(cmd.param("Name"))
    nodes = host.input_of(items, cmd, "ClusterNode")
    groups = list(host.sim.groups.values())
    if nodes:
        owners = {n.get("Name") for n in nodes}
        groups = [g for g in groups if g.owner in owners]
    if names:
        groups = [host.sim._group(n) for n in names]
    node_objs = {n.name: host.shapes.node_obj(n) for n in host.sim.nodes.values()}
    return [host.shapes.group_obj(g, owner=node_objs[g.owner]) for g in groups]


def get_resource(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    names = {n.lower() for n in host.names(cmd.param("Name"))}
    in_groups = {g.get("Name") for g in host.input_of(items, cmd, "ClusterGroup")}
    out = []
    # Each node's object once per call, not once per resource (64 x 32,000: 32,000 lookups).
    node_objs = {n.name: host.shapes.node_obj(n) for n in host.sim.nodes.values()}
    for g in host.sim.groups.values():
        if in_groups and g.name not in in_groups:
            continue
        for r in g.resources:
            if not names or r.name.lower() in names:
                out.append(host.shapes.resource_obj(g, r, owner=node_objs[g.owner]))
    if names and not out:
        raise SimError(5007, "The cluster resource could not be found.",
                       category="ObjectNotFound", error_id="ClusterResourceNotFound")
    return out


def get_owner_node(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    """Preferred owners of a group, possible owners of a resource (reference 1.4)."""
    host.check_cluster(cmd)
    host.shapes.refresh_nodes()
    every_node = tuple(host.sim.nodes)
    out = []
    for gname in host.names(cmd.param("Group")):
        g = host.sim._group(gname)
        out.append(host.shapes.owner_list(host.shapes.group_obj(g), g.preferred_owners))
    for rname in host.names(cmd.param("Resource")):
        g, r = find_resource(host.sim, rname)
        out.append(host.shapes.owner_list(host.shapes.resource_obj(g, r), r.possible_owners or
                                          every_node))
    piped = host.input_of(items, cmd, "")
    groups_in = [o for o in piped if o.type_names[0].endswith("ClusterGroup")]
    resources_in = ([] if len(groups_in) == len(piped) else
                    [o for o in piped if o.type_names[0].endswith("ClusterResource")])
    for obj in groups_in:
        g = host.sim._group(obj.get("Name"))
        # The piped object itself (as for a resource): the same one the cluster keeps while
        # the group is unchanged, and a pipeline does not change it between its cmdlets.
        current = host.shapes.group_obj(g) if obj.memo is None else obj
        out.append(host.shapes.owner_list(current, g.preferred_owners))
    if not resources_in:
        return out
    index = {r.name.lower(): r for g in host.sim.groups.values() for r in g.resources}
    for obj in resources_in:
        res = index.get(str(obj.get("Name")).lower())
        if res is None:
            raise SimError(5007, "The cluster resource could not be found.",
                           category="ObjectNotFound", error_id="ClusterResourceNotFound")
        out.append(host.shapes.owner_list(obj, res.possible_owners or every_node))
    return out


def get_quorum(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    qt = host.sim.quorum_type
    if all(n.release.key == "2025" for n in host.sim.nodes.values()) and qt != "DiskOnly":
        # Windows Server 2025's QuorumType enum has Unknown, Majority and DiskOnly only
        # ([U]: stated in the project's fidelity review, not yet checked on a 2025 host).
        qt = "Majority"
    props = {"Cluster": host.sim.name,
             "QuorumResource": "File Share Witness" if host.sim.witness else None,
             "QuorumType": PSObjectEnum(f"{NS}.ClusterQuorumType", qt, QUORUM_TYPES.get(qt, -1))}
    return [PSObject((f"{NS}.ClusterQuorumSettings", "System.Object"), props,
                     to_string=host.sim.name)]


def param_owner(host: PowerShellHost, items: list[Any] | None, cmd: Cmdlet) -> PSObject:
    objs = host.input_of(items, cmd, "Cluster")
    if not objs:
        raise SimError(87, "No cluster object was specified.", category="InvalidArgument",
                       error_id="PSArgument")
    return objs[0]


def get_param(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    owner = param_owner(host, items, cmd)
    names = host.names(cmd.param("Name"))
    # One consistent copy: the cluster database answers a listing from one state, even while
    # other clients add and remove parameters (the upgrade lock's claims do).
    props = dict(host.sim.private_props)
    keys = names or list(props)
    out = []
    for key in keys:
        if key not in props:
            raise SimError(13, f"Parameter '{key}' does not exist on the cluster object"
                           f" '{owner}'.", category="ObjectNotFound",
                           error_id="InvalidOperation")
        out.append(PSObject((f"{NS}.ClusterParameter", "System.Object"),
                            {"ClusterObject": owner, "Name": key, "IsReadOnly": False,
                             "ParameterType": "String", "Value": props[key]},
                            to_string=key))
    return out


def PSObjectEnum(type_name: str, name: str, value: int) -> Any:
    from clusterlib.sim.psobjects import PSEnumValue

    return PSEnumValue(type_name=type_name, name=name, value=value)



def find_resource(sim: SimCluster, name: str) -> tuple[SimGroup, SimResource]:
    for g in sim.groups.values():
        for r in g.resources:
            if r.name.lower() == str(name).lower():
                return g, r
    raise SimError(5007, "The cluster resource could not be found.", category="ObjectNotFound",
                   error_id="ClusterResourceNotFound")


