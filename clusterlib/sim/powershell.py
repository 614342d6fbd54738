"""The simulator's PowerShell surface: FailoverClusters cmdlets and the core cmdlets clusterlib pipes into.

Thin, like moto's ``responses.py``: bind parameters, call the model, shape the output objects the
way the real cmdlets do. A parameter the real cmdlet does not have fails as PowerShell fails
(ParameterBindingException); a real cmdlet or parameter the simulator does not model fails loudly
with ``NotSimulated`` so nothing silently succeeds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from attrs import field, frozen

from clusterlib import win32
from clusterlib.sim.model import SimCluster, SimError, SimGroup, SimNode, SimResource
from clusterlib.sim.psobjects import NS, PSObject, convert_to_json, enum_value, select_object
from clusterlib.transports.base import Cmdlet, Pipeline


@frozen
class SimErrorRecord:
    """An ErrorRecord as the real cmdlets write it (see samples/ps_move_clustergroup_error_record_*)."""

    message: str
    category: str
    error_id: str  # FullyQualifiedErrorId
    target: str = ""
    win32_code: int | None = None
    exception_type: str = "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"


@frozen
class SimInvocation:
    """Per-statement output (PSObject, str or primitives) and the error records written."""

    outputs: list[list[Any]]
    errors: list[SimErrorRecord] = field(factory=list)
    warnings: list[str] = field(factory=list)


class _Stop(Exception):
    def __init__(self, record: SimErrorRecord) -> None:
        self.record = record
        super().__init__(record.message)


# Every parameter the real cmdlets have (PSDOCS syntax blocks, reference section 1), and which of
# them the simulator models. Common parameters (-Verbose, -ErrorAction, ...) are not modelled.
_REAL_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    # cmdlet: (real parameters, modelled parameters)
    "Get-Cluster": ({"Name", "Domain"}, {"Name"}),
    "Get-ClusterNode": ({"Name", "InputObject", "Cluster"}, {"Name", "InputObject", "Cluster"}),
    "Get-ClusterGroup": ({"Name", "VMId", "InputObject", "Cluster"}, {"Name", "InputObject", "Cluster"}),
    "Get-ClusterResource": ({"Name", "VMId", "InputObject", "Cluster"},
                            {"Name", "InputObject", "Cluster"}),
    "Get-ClusterOwnerNode": ({"Resource", "Group", "ResourceType", "InputObject", "Cluster"},
                             {"Resource", "Group", "InputObject", "Cluster"}),
    "Get-ClusterQuorum": ({"InputObject", "Cluster"}, {"Cluster"}),
    "Suspend-ClusterNode": ({"Name", "Drain", "ForceDrain", "Wait", "TargetNode", "InputObject",
                             "Cluster", "WhatIf", "Confirm"},
                            {"Name", "Drain", "ForceDrain", "Wait", "TargetNode", "InputObject",
                             "Cluster"}),
    "Resume-ClusterNode": ({"Name", "Failback", "InputObject", "Cluster"},
                           {"Name", "Failback", "InputObject", "Cluster"}),
    "Move-ClusterGroup": ({"Name", "Node", "IgnoreLocked", "Wait", "InputObject", "Cluster"},
                          {"Name", "Node", "IgnoreLocked", "Wait", "InputObject", "Cluster"}),
    "Update-ClusterFunctionalLevel": ({"Force", "WhatIf", "InputObject", "Cluster"},
                                      {"Force", "WhatIf", "Cluster"}),
    "Get-ClusterParameter": ({"Name", "InputObject", "Cluster"}, {"Name", "InputObject", "Cluster"}),
    "Set-ClusterParameter": ({"Name", "Value", "Create", "Delete", "Multiple", "InputObject",
                              "Cluster"},
                             {"Name", "Value", "Create", "Delete", "InputObject", "Cluster"}),
    "Start-ClusterNode": ({"Name", "ForceQuorum", "ClearQuarantine", "IgnorePersistentState",
                           "PreventQuorum", "Wait", "InputObject", "Cluster"}, set()),
    "Stop-ClusterNode": ({"Name", "Wait", "InputObject", "Cluster", "WhatIf", "Confirm"}, set()),
    "Select-Object": ({"Property", "ExcludeProperty", "ExpandProperty", "First", "Last", "Skip",
                       "Unique", "InputObject", "Index", "Wait", "SkipLast"}, {"Property", "First"}),
    "ConvertTo-Json": ({"Depth", "Compress", "InputObject", "EnumsAsStrings", "AsArray"},
                       {"Depth", "Compress", "InputObject"}),
    "ConvertTo-Csv": ({"NoTypeInformation", "Delimiter", "UseCulture", "InputObject",
                       "IncludeTypeInformation", "QuoteFields", "UseQuotes"},
                      {"NoTypeInformation", "InputObject"}),
    "Out-String": ({"Width", "Stream", "InputObject", "NoNewline"}, {"InputObject"}),
    "Get-Command": ({"Name", "Module", "CommandType", "Noun", "Verb", "All", "ListImported",
                     "ParameterName", "ParameterType", "Syntax", "TotalCount", "ShowCommandInfo",
                     "ArgumentList", "FullyQualifiedModule"}, {"Name", "Module"}),
}

# Parameters that appeared in later releases than the cmdlet itself (reference 1.6): on a
# Windows Server 2008 R2 endpoint Suspend-ClusterNode has no -Drain family.
_DRAIN_PARAMS = {"Drain", "ForceDrain", "TargetNode", "Wait"}

_CLUSTER_MODULE = {name for name in _REAL_PARAMS if "Cluster" in name}
_CORE = {"Select-Object", "ConvertTo-Json", "ConvertTo-Csv", "Out-String", "Get-Command"}
_CMD_CLASS = {
    "Get-Cluster": "GetClusterCommand",
    "Get-ClusterNode": "GetNodeCommand",
    "Get-ClusterGroup": "GetClusterGroupCommand",
    "Get-ClusterResource": "GetResourceCommand",
    "Get-ClusterOwnerNode": "GetOwnerNodeCommand",
    "Get-ClusterQuorum": "GetClusterQuorumCommand",
    "Suspend-ClusterNode": "SuspendClusterNodeCommand",
    "Resume-ClusterNode": "ResumeClusterNodeCommand",
    "Move-ClusterGroup": "MoveClusterGroupCommand",
    "Update-ClusterFunctionalLevel": "UpdateClusterFunctionalLevelCommand",
    "Get-ClusterParameter": "GetParameterCommand",
    "Set-ClusterParameter": "SetParameterCommand",
}

# QuorumType names as Get-ClusterQuorum prints them; the integer values are not documented in the
# reference ([U]) and only matter to ConvertTo-Json, which clusterlib does not use for this.
_QUORUM_TYPES = {"NodeMajority": 0, "NodeAndDiskMajority": 1, "NodeAndFileShareMajority": 2,
                 "DiskOnly": 3, "Majority": 4}


class PowerShellHost:
    """Runs pipelines against one SimCluster, as a remote runspace on a cluster node would."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        # Objects built during one cmdlet call: a node appears as OwnerNode of many groups, and
        # rebuilding it for each made large reads slow. Cleared before every cmdlet so actions
        # are always followed by fresh objects.
        self._node_cache: dict[str, PSObject] = {}
        self._handlers: dict[str, Callable[[Cmdlet, list[Any] | None], list[Any]]] = {
            "Get-Cluster": self._get_cluster,
            "Get-ClusterNode": self._get_node,
            "Get-ClusterGroup": self._get_group,
            "Get-ClusterResource": self._get_resource,
            "Get-ClusterOwnerNode": self._get_owner_node,
            "Get-ClusterQuorum": self._get_quorum,
            "Suspend-ClusterNode": self._suspend,
            "Resume-ClusterNode": self._resume,
            "Move-ClusterGroup": self._move,
            "Update-ClusterFunctionalLevel": self._update_fl,
            "Get-ClusterParameter": self._get_param,
            "Set-ClusterParameter": self._set_param,
            "Select-Object": self._select,
            "ConvertTo-Json": self._to_json,
            "ConvertTo-Csv": self._to_csv,
            "Out-String": self._out_string,
            "Get-Command": self._get_command,
        }

    # ---- the pipeline runner ----

    def invoke(self, pipeline: Pipeline) -> SimInvocation:
        result = SimInvocation(outputs=[])
        for statement in pipeline.statements:
            items: list[Any] | None = None
            out: list[Any] = []
            try:
                for cmd in statement.commands:
                    items = self._run(cmd, items)
                out = items or []
            except _Stop as stop:
                result.errors.append(stop.record)
            result.outputs.append(out)
        return result

    def _run(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._node_cache = {}
        name = self._canonical(cmd.name)
        self.sim.log("call", name, params={k: v for k, v in cmd.params},
                     pipeline_input=items is not None)
        self._bind(name, cmd)
        try:
            return self._handlers[name](cmd, items)
        except SimError as err:
            raise _Stop(self._record(name, err)) from err

    def _canonical(self, name: str) -> str:
        for known in _REAL_PARAMS:
            if known.lower() == name.lower():
                if known in _CLUSTER_MODULE and not self.sim.powershell:
                    raise _Stop(_not_recognized(name))
                if known not in self._handlers:
                    raise _Stop(_not_simulated(f"cmdlet {known}"))
                return known
        raise _Stop(_not_recognized(name))

    def _bind(self, name: str, cmd: Cmdlet) -> None:
        real, modelled = _REAL_PARAMS[name]
        for key, _value in cmd.params:
            canon = next((p for p in real if p.lower() == key.lower()), None)
            if canon is None or (name == "Suspend-ClusterNode" and canon in _DRAIN_PARAMS
                                 and not self.sim.drain_supported):
                raise _Stop(SimErrorRecord(
                    message=f"A parameter cannot be found that matches parameter name '{key}'.",
                    category="InvalidArgument", target="",
                    error_id=f"NamedParameterNotFound,{_fq(name)}",
                    exception_type="System.Management.Automation.ParameterBindingException"))
            if canon not in modelled:
                raise _Stop(_not_simulated(f"parameter -{canon} of {name}"))

    def _record(self, name: str, err: SimError) -> SimErrorRecord:
        # Real FailoverClusters errors carry the operation in the first line and the Win32 message
        # after it; the code itself is in the inner Win32Exception, which we expose as win32_code.
        return SimErrorRecord(message=err.detail, category=err.category,
                              error_id=f"{err.error_id or name},{_fq(name)}",
                              win32_code=err.code)

    # ---- helpers ----

    def _check_cluster(self, cmd: Cmdlet) -> None:
        self.sim.advance()
        self.sim._ensure_up()
        target = cmd.param("Cluster")
        if target is not None and str(target).lower() not in (self.sim.name.lower(), "."):
            raise SimError(1722, f"The cluster '{target}' could not be reached."
                           f" {win32.message(1722)}", category="ConnectionError",
                           error_id="ClusterRpcConnection")

    def _names(self, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [str(value)]

    def _input_of(self, items: list[Any] | None, cmd: Cmdlet, type_suffix: str) -> list[PSObject]:
        source = cmd.param("InputObject")
        objs = self._names(None) if source is None else [source]
        pool: list[Any] = list(items or []) + [o for o in objs]
        return [o for o in pool if isinstance(o, PSObject) and o.type_names[0].endswith(type_suffix)]

    # ---- object shapes ----

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

    def _owner_list(self, obj: PSObject, owners: Sequence[str]) -> PSObject:
        by_name = {k.lower(): n for k, n in self.sim.nodes.items()}
        nodes = [self.node_obj(by_name[n.lower()]) for n in owners if n.lower() in by_name]
        return PSObject((f"{NS}.ClusterOwnerNodeList", "System.Object"),
                        {"ClusterObject": obj, "OwnerNodes": nodes}, to_string=str(obj))

    # ---- FailoverClusters cmdlets ----

    def _get_cluster(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self.sim.advance()
        self.sim._ensure_up()
        name = cmd.param("Name")
        if name is not None and str(name).lower() != self.sim.name.lower():
            raise SimError(1722, f"The cluster '{name}' could not be reached.",
                           category="ConnectionError", error_id="ClusterRpcConnection")
        return [self.cluster_obj()]

    def _get_node(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        names = self._names(cmd.param("Name"))
        if names:
            return [self.node_obj(self.sim._node(n)) for n in names]
        return [self.node_obj(n) for n in self.sim.nodes.values()]

    def _get_group(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        names = self._names(cmd.param("Name"))
        nodes = self._input_of(items, cmd, "ClusterNode")
        groups = list(self.sim.groups.values())
        if nodes:
            owners = {n.get("Name") for n in nodes}
            groups = [g for g in groups if g.owner in owners]
        if names:
            groups = [self.sim._group(n) for n in names]
        return [self.group_obj(g) for g in groups]

    def _get_resource(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        names = {n.lower() for n in self._names(cmd.param("Name"))}
        in_groups = {g.get("Name") for g in self._input_of(items, cmd, "ClusterGroup")}
        out = []
        for g in self.sim.groups.values():
            if in_groups and g.name not in in_groups:
                continue
            for r in g.resources:
                if not names or r.name.lower() in names:
                    out.append(self.resource_obj(g, r))
        if names and not out:
            raise SimError(5007, "The cluster resource could not be found.",
                           category="ObjectNotFound", error_id="ClusterResourceNotFound")
        return out

    def _get_owner_node(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        """Preferred owners of a group, possible owners of a resource (reference 1.4)."""
        self._check_cluster(cmd)
        out = []
        for gname in self._names(cmd.param("Group")):
            g = self.sim._group(gname)
            out.append(self._owner_list(self.group_obj(g), g.preferred_owners))
        for rname in self._names(cmd.param("Resource")):
            g, r = _find_resource(self.sim, rname)
            out.append(self._owner_list(self.resource_obj(g, r), r.possible_owners or
                                        list(self.sim.nodes)))
        for obj in self._input_of(items, cmd, "ClusterGroup"):
            g = self.sim._group(obj.get("Name"))
            out.append(self._owner_list(self.group_obj(g), g.preferred_owners))
        index = {r.name.lower(): r for g in self.sim.groups.values() for r in g.resources}
        for obj in self._input_of(items, cmd, "ClusterResource"):
            res = index.get(str(obj.get("Name")).lower())
            if res is None:
                raise SimError(5007, "The cluster resource could not be found.",
                               category="ObjectNotFound", error_id="ClusterResourceNotFound")
            out.append(self._owner_list(obj, res.possible_owners or list(self.sim.nodes)))
        return out

    def _get_quorum(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        qt = self.sim.quorum_type
        props = {"Cluster": self.sim.name,
                 "QuorumResource": "File Share Witness" if self.sim.witness else None,
                 "QuorumType": PSObjectEnum(f"{NS}.ClusterQuorumType", qt, _QUORUM_TYPES.get(qt, -1))}
        return [PSObject((f"{NS}.ClusterQuorumSettings", "System.Object"), props,
                         to_string=self.sim.name)]

    def _targets(self, cmd: Cmdlet, items: list[Any] | None, kind: str) -> list[str]:
        names = self._names(cmd.param("Name"))
        names += [o.get("Name") for o in self._input_of(items, cmd, kind)]
        if not names:
            raise SimError(87, f"No cluster {'node' if kind == 'ClusterNode' else 'group'} was"
                           " specified.", category="InvalidArgument", error_id="PSArgument")
        return names

    def _suspend(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        out = []
        for name in self._targets(cmd, items, "ClusterNode"):
            node = self.sim.pause_node(name, drain=bool(cmd.param("Drain")),
                                       force_drain=bool(cmd.param("ForceDrain")),
                                       target=cmd.param("TargetNode"), wait=bool(cmd.param("Wait")))
            out.append(self.node_obj(node))
        return out

    def _resume(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        failback = cmd.param("Failback")
        if failback is not None and str(failback).lower() not in ("nofailback", "immediate", "policy"):
            raise SimError(87, f"Cannot bind parameter 'Failback'. Cannot convert value \"{failback}\""
                           " to type \"ResumeClusterNodeFailbackType\". Valid values are"
                           " NoFailback, Immediate, Policy.", category="InvalidArgument",
                           error_id="CannotConvertArgumentNoMessage")
        return [self.node_obj(self.sim.resume_node(n, failback=failback))
                for n in self._targets(cmd, items, "ClusterNode")]

    def _move(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        wait = cmd.param("Wait")
        out = []
        for name in self._targets(cmd, items, "ClusterGroup"):
            try:
                group = self.sim.move_group(name, cmd.param("Node"),
                                            ignore_locked=bool(cmd.param("IgnoreLocked")),
                                            wait=None if wait is None else float(wait))
            except SimError as err:
                if not err.detail.startswith("An error occurred"):
                    err.detail = (f"An error occurred while moving the clustered role '{name}'.\n"
                                  + err.detail)
                raise
            out.append(self.group_obj(group))
        return out

    def _update_fl(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        if not cmd.param("Force") and not cmd.param("WhatIf"):
            # Non-interactive host: the confirmation prompt cannot be answered (reference 1.11).
            raise SimError(1223, "Update-ClusterFunctionalLevel asks for confirmation; a remote"
                           " session cannot answer it. Use -Force.", category="InvalidOperation",
                           error_id="HostPromptNotSupported")
        self.sim.update_functional_level(what_if=bool(cmd.param("WhatIf")))
        return [self.cluster_obj()]

    def _param_owner(self, items: list[Any] | None, cmd: Cmdlet) -> PSObject:
        objs = self._input_of(items, cmd, "Cluster")
        if not objs:
            raise SimError(87, "No cluster object was specified.", category="InvalidArgument",
                           error_id="PSArgument")
        return objs[0]

    def _get_param(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        owner = self._param_owner(items, cmd)
        names = self._names(cmd.param("Name"))
        # One consistent copy: the cluster database answers a listing from one state, even while
        # other clients add and remove parameters (the upgrade lock's claims do).
        props = dict(self.sim.private_props)
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

    def _set_param(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        self._check_cluster(cmd)
        owner = self._param_owner(items, cmd)
        key = cmd.param("Name")
        if not key:
            raise SimError(87, "-Name is required.", category="InvalidArgument",
                           error_id="PSArgument")
        key = str(key)
        if cmd.param("Delete"):
            self.sim.private_props.pop(key, None)
            self.sim.log("private-prop-deleted", key)
            return []
        if key not in self.sim.private_props and not cmd.param("Create"):
            raise SimError(13, f"Parameter '{key}' does not exist on the cluster object '{owner}'."
                           " Use -Create to create it.", category="ObjectNotFound",
                           error_id="InvalidOperation")
        self.sim.private_props[key] = cmd.param("Value")
        self.sim.log("private-prop-set", key)
        return []

    # ---- core cmdlets ----

    def _select(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        props = self._names(cmd.param("Property"))
        out: list[Any] = select_object(items or [], props) if props else list(items or [])
        first = cmd.param("First")
        return out[: int(first)] if first is not None else out

    def _to_json(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        data = list(items or [])
        if cmd.param("InputObject") is not None:
            data = [cmd.param("InputObject")]
        if not data:
            return []
        depth = int(cmd.param("Depth", 2))
        if depth < 1:
            # Windows PowerShell 5.1 validates -Depth as 1 or more ([P]: PowerShell 7 allows 0).
            raise SimError(87, f"Cannot validate argument on parameter 'Depth'. The {depth} argument"
                           " is less than the minimum allowed range of 1.",
                           category="InvalidData", error_id="ParameterArgumentValidationError")
        return [convert_to_json(data, depth=depth, compress=bool(cmd.param("Compress")))]

    def _to_csv(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        """ConvertTo-Csv as Windows PowerShell 5.1: one string per line, every field quoted,
        property values by ToString() (enums by name, nested objects by their ToString, $null
        as an empty field). [P] from the cmdlet's documented behaviour; not checked on a real
        FailoverClusters object."""
        data = [o for o in (items or []) if isinstance(o, PSObject)]
        if not data:
            return []
        lines = [] if cmd.param("NoTypeInformation") else [f"#TYPE {data[0].type_names[0]}"]
        headers = list(data[0].props)
        lines.append(_csv_line(headers))
        for obj in data:
            lines.append(_csv_line([_ps_to_string(obj.get(h)) for h in headers]))
        return lines

    def _out_string(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        data = list(items or [])
        if not data:
            return []
        if all(isinstance(i, str) for i in data):
            return ["\r\n".join(data) + "\r\n"]
        raise SimError(0, "Out-String formatting of objects is not simulated; pipe strings into it",
                       category="NotImplemented", error_id="NotSimulated")

    def _get_command(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        out = []
        module = cmd.param("Module")
        for name in self._names(cmd.param("Name")):
            canon = next((k for k in _REAL_PARAMS if k.lower() == name.lower()), None)
            mod = "FailoverClusters" if canon in _CLUSTER_MODULE else "Microsoft.PowerShell.Utility"
            if canon is None or (canon in _CLUSTER_MODULE and not self.sim.powershell) or (
                    module is not None and str(module).lower() != mod.lower()):
                raise _Stop(SimErrorRecord(
                    message=f"The term '{name}' is not recognized as the name of a cmdlet, function,"
                    " script file, or operable program.", category="ObjectNotFound",
                    target=name, error_id="CommandNotFoundException,Microsoft.PowerShell.Commands."
                    "GetCommandCommand",
                    exception_type="System.Management.Automation.CommandNotFoundException"))
            params = set(_REAL_PARAMS[canon][0])
            if canon == "Suspend-ClusterNode" and not self.sim.drain_supported:
                params -= _DRAIN_PARAMS
            out.append(PSObject(("System.Management.Automation.CmdletInfo", "System.Object"),
                                {"Name": canon, "ModuleName": mod, "CommandType": "Cmdlet",
                                 "Parameters": {p: "System.Management.Automation.ParameterMetadata"
                                                for p in sorted(params)}},
                                to_string=canon))
        return out


def PSObjectEnum(type_name: str, name: str, value: int) -> Any:
    from clusterlib.sim.psobjects import PSEnumValue

    return PSEnumValue(type_name=type_name, name=name, value=value)


def _fq(name: str) -> str:
    cls = _CMD_CLASS.get(name, name.replace("-", "") + "Command")
    return f"{NS}.{cls}" if name in _CLUSTER_MODULE else f"Microsoft.PowerShell.Commands.{cls}"


def _not_recognized(name: str) -> SimErrorRecord:
    return SimErrorRecord(
        message=f"The term '{name}' is not recognized as the name of a cmdlet, function, script"
        " file, or operable program. Check the spelling of the name, or if a path was included,"
        " verify that the path is correct and try again.",
        category="ObjectNotFound", target=name, error_id="CommandNotFoundException",
        exception_type="System.Management.Automation.CommandNotFoundException")


def _not_simulated(what: str) -> SimErrorRecord:
    return SimErrorRecord(message=f"not simulated: {what}", category="NotImplemented",
                          error_id="NotSimulated", exception_type="clusterlib.NotSimulated")


def _find_resource(sim: SimCluster, name: str) -> tuple[SimGroup, SimResource]:
    for g in sim.groups.values():
        for r in g.resources:
            if r.name.lower() == str(name).lower():
                return g, r
    raise SimError(5007, "The cluster resource could not be found.", category="ObjectNotFound",
                   error_id="ClusterResourceNotFound")


def _ps_to_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return f"System.Collections.Generic.List`1[{type(value).__name__}]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def _csv_line(fields: Sequence[str | None]) -> str:
    # PowerShell 5.1 quotes every field and doubles embedded quotes; $null becomes an empty field.
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="")
    writer.writerow(["" if f is None else f for f in fields])
    return buf.getvalue()
