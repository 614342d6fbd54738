"""The cmdlets of the simulator's PowerShell host that change the cluster.

Suspend- and Resume-ClusterNode, Move-ClusterGroup, Update-ClusterFunctionalLevel,
Set-ClusterParameter (the upgrade lock's claims)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clusterlib.sim.ps_reads import param_owner
from clusterlib.sim.simcluster import SimError
from clusterlib.wire import Cmdlet

if TYPE_CHECKING:
    from clusterlib.sim.powershell_host import PowerShellHost


def targets(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None, kind: str) -> list[str]:
    names = host.names(cmd.param("Name"))
    names += [o.get("Name") for o in host.input_of(items, cmd, kind)]
    if not names:
        raise SimError(87, f"No cluster {'node' if kind == 'ClusterNode' else 'group'} was"
                       " specified.", category="InvalidArgument", error_id="PSArgument")
    return names


def suspend(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    out = []
    for name in targets(host, cmd, items, "ClusterNode"):
        node = host.sim.pause_node(name, drain=bool(cmd.param("Drain")),
                                   force_drain=bool(cmd.param("ForceDrain")
                                                    or cmd.param("ForceEvacuation")),
                                   target=cmd.param("TargetNode"), wait=bool(cmd.param("Wait")))
        out.append(host.shapes.node_obj(node))
    return out


def resume(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    failback = cmd.param("Failback")
    if failback is not None and str(failback).lower() not in ("nofailback", "immediate", "policy"):
        raise SimError(87, f"Cannot bind parameter 'Failback'. Cannot convert value \"{failback}\""
                       " to type \"ResumeClusterNodeFailbackType\". Valid values are"
                       " NoFailback, Immediate, Policy.", category="InvalidArgument",
                       error_id="CannotConvertArgumentNoMessage")
    return [host.shapes.node_obj(host.sim.resume_node(n, failback=failback))
            for n in targets(host, cmd, items, "ClusterNode")]


def move(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    wait = cmd.param("Wait")
    out = []
    for name in targets(host, cmd, items, "ClusterGroup"):
        try:
            group = host.sim.move_group(name, cmd.param("Node"),
                                        ignore_locked=bool(cmd.param("IgnoreLocked")),
                                        wait=None if wait is None else float(wait))
        except SimError as err:
            if not err.detail.startswith("An error occurred"):
                err.detail = (f"An error occurred while moving the clustered role '{name}'.\n"
                              + err.detail)
            raise
        out.append(host.shapes.group_obj(group))
    return out


def update_fl(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    if not cmd.param("Force") and not cmd.param("WhatIf"):
        # Non-interactive host: the confirmation prompt cannot be answered (reference 1.11).
        raise SimError(1223, "Update-ClusterFunctionalLevel asks for confirmation; a remote"
                       " session cannot answer it. Use -Force.", category="InvalidOperation",
                       error_id="HostPromptNotSupported")
    host.sim.update_functional_level(what_if=bool(cmd.param("WhatIf")))
    return [host.shapes.cluster_obj()]


def set_param(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    host.check_cluster(cmd)
    owner = param_owner(host, items, cmd)
    key = cmd.param("Name")
    if not key:
        raise SimError(87, "-Name is required.", category="InvalidArgument",
                       error_id="PSArgument")
    key = str(key)
    if cmd.param("Delete"):
        host.sim.private_props.pop(key, None)
        host.sim.log("private-prop-deleted", key)
        return []
    if key not in host.sim.private_props and not cmd.param("Create"):
        raise SimError(13, f"Parameter '{key}' does not exist on the cluster object '{owner}'."
                       " Use -Create to create it.", category="ObjectNotFound",
                       error_id="InvalidOperation")
    host.sim.private_props[key] = cmd.param("Value")
    host.sim.log("private-prop-set", key)
    return []

