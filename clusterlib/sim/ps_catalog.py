"""What the simulator's PowerShell host knows of the real commands, and how its refusals look.

Parameters, positions, switches and aliases of the real commands, the commands it does not
model, the error records of its refusals, and script text bound into cmdlet calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import field, frozen

from clusterlib.sim.psobjects import NS
from clusterlib.sim.psscript import NotSimulatedScript, parse_script
from clusterlib.wire import Cmdlet, Pipeline, Statement


@frozen
class SimErrorRecord:
    """An ErrorRecord as the real cmdlets write it (see samples/ps_move_clustergroup_error_record_*)."""

    message: str
    category: str
    error_id: str  # FullyQualifiedErrorId
    target: str = ""
    win32_code: int | None = None
    exception_type: str = "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"
    # A terminating error ends the whole invocation: the pipeline's final state is Failed with
    # this record (what a PSRP client such as pypsrp reports as had_errors), later statements do
    # not run. Refusals (unknown command, parameter binding, not simulated) and -ErrorAction Stop
    # are terminating; a cmdlet's own failure is a non-terminating record in the error stream.
    terminating: bool = False


@frozen
class SimInvocation:
    """Per-statement output (PSObject, str or primitives) and the error records written."""

    outputs: list[list[Any]]
    errors: list[SimErrorRecord] = field(factory=list)
    warnings: list[str] = field(factory=list)


class Stop(Exception):
    def __init__(self, record: SimErrorRecord) -> None:
        self.record = record
        super().__init__(record.message)



# Every parameter the real cmdlets have (PSDOCS syntax blocks, reference section 1), and which of
# them the simulator models. Common parameters (-Verbose, -ErrorAction, ...) are not modelled.
REAL_PARAMS: dict[str, tuple[set[str], set[str]]] = {
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
                       "Unique", "InputObject", "Index", "Wait", "SkipLast"},
                      {"Property", "First", "ExpandProperty"}),
    "ConvertTo-Json": ({"Depth", "Compress", "InputObject", "EnumsAsStrings", "AsArray"},
                       {"Depth", "Compress", "InputObject"}),
    "ConvertTo-Csv": ({"NoTypeInformation", "Delimiter", "UseCulture", "InputObject",
                       "IncludeTypeInformation", "QuoteFields", "UseQuotes"},
                      {"NoTypeInformation", "InputObject"}),
    "Out-String": ({"Width", "Stream", "InputObject", "NoNewline"}, {"InputObject", "Stream"}),
    "Invoke-Expression": ({"Command"}, {"Command"}),
    "Write-Output": ({"InputObject", "NoEnumerate"}, {"InputObject"}),
    "Get-Command": ({"Name", "Module", "CommandType", "Noun", "Verb", "All", "ListImported",
                     "ParameterName", "ParameterType", "Syntax", "TotalCount", "ShowCommandInfo",
                     "ArgumentList", "FullyQualifiedModule"}, {"Name", "Module"}),
}

# Parameters that appeared in later releases than the cmdlet itself (reference 1.6): on a
# Windows Server 2008 R2 endpoint Suspend-ClusterNode has no -Drain family.
DRAIN_PARAMS = {"Drain", "ForceDrain", "TargetNode", "Wait"}

CLUSTER_MODULE = {name for name in REAL_PARAMS if "Cluster" in name}
CORE = {"Select-Object", "ConvertTo-Json", "ConvertTo-Csv", "Out-String", "Get-Command",
         "Invoke-Expression", "Write-Output"}

# Windows Server 2012's Suspend-ClusterNode (docs v=wps.620, hh847277): -ForceEvacuation where
# 2012 R2 and later have -ForceDrain, and no -WhatIf/-Confirm; without -Wait it waits for the
# drain to finish (reference section 7 [V]), where 2012 R2 and later return at once.
SUSPEND_2012 = {"Name", "Drain", "ForceEvacuation", "Wait", "TargetNode", "InputObject", "Cluster"}

# Parameters that take positional arguments, in position order (the cmdlets' syntax blocks).
POSITIONAL: dict[str, tuple[str, ...]] = {
    "Get-Cluster": ("Name",), "Get-ClusterNode": ("Name",), "Get-ClusterGroup": ("Name",),
    "Get-ClusterResource": ("Name",), "Suspend-ClusterNode": ("Name", "TargetNode"),
    "Resume-ClusterNode": ("Name",), "Move-ClusterGroup": ("Name", "Node"),
    "Get-ClusterParameter": ("Name",), "Set-ClusterParameter": ("Name", "Value"),
    "Select-Object": ("Property",), "Get-Command": ("Name",), "Invoke-Expression": ("Command",),
    "Write-Output": ("InputObject",), "Start-ClusterNode": ("Name",), "Stop-ClusterNode": ("Name",),
}

# Parameters that are switches (take no value) in script text; -Wait is one only on
# Suspend-ClusterNode (Move-ClusterGroup and Start-ClusterNode take -Wait <Int32>).
SWITCHES = {"drain", "forcedrain", "forceevacuation", "ignorelocked", "force", "whatif", "confirm",
             "create", "delete", "notypeinformation", "compress", "stream", "unique", "nonewline",
             "enumsasstrings", "asarray", "all", "syntax", "listimported", "includetypeinformation",
             "useculture", "noenumerate", "verbose", "debug", "forcequorum", "clearquarantine",
             "ignorepersistentstate", "preventquorum", "multiple"}

# The common parameters every cmdlet accepts, with their aliases (about_CommonParameters,
# learn.microsoft.com). The simulator honours -ErrorAction (Stop makes a cmdlet's error
# terminating, SilentlyContinue/Ignore drop it); the others are accepted and have no effect
# (no variables, no verbose/debug/information stream is modelled).
COMMON = {
    "verbose": "Verbose", "vb": "Verbose", "debug": "Debug", "db": "Debug",
    "erroraction": "ErrorAction", "ea": "ErrorAction",
    "warningaction": "WarningAction", "wa": "WarningAction",
    "informationaction": "InformationAction", "infa": "InformationAction",
    "errorvariable": "ErrorVariable", "ev": "ErrorVariable",
    "warningvariable": "WarningVariable", "wv": "WarningVariable",
    "informationvariable": "InformationVariable", "iv": "InformationVariable",
    "outvariable": "OutVariable", "ov": "OutVariable", "outbuffer": "OutBuffer", "ob": "OutBuffer",
    "pipelinevariable": "PipelineVariable", "pv": "PipelineVariable",
}
ACTION_PREFERENCE = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend")

# Commands a Windows Server cluster node really has that the simulator does not model: calling
# one is "not simulated", never "not recognized". FailoverClusters module (learn.microsoft.com
# "FailoverClusters Module"), the Windows PowerShell 5.1 core modules, and programs of System32.
REAL_UNMODELLED_CLUSTER = """
Add-ClusterCheckpoint Add-ClusterDisk Add-ClusterFileServerRole Add-ClusterGenericApplicationRole
Add-ClusterGenericScriptRole Add-ClusterGenericServiceRole Add-ClusterGroup Add-ClusterGroupSetDependency
Add-ClusterGroupToSet Add-ClusterNode Add-ClusterResource Add-ClusterResourceDependency
Add-ClusterResourceType Add-ClusterScaleOutFileServerRole Add-ClusterServerRole Add-ClusterSharedVolume
Add-ClusterVirtualMachineRole Block-ClusterAccess Clear-ClusterDiskReservation Clear-ClusterNode
Get-ClusterAccess Get-ClusterAvailableDisk Get-ClusterCheckpoint Get-ClusterDiagnostics
Get-ClusterFaultDomain Get-ClusterFaultDomainXML Get-ClusterGroupSet Get-ClusterGroupSetDependency
Get-ClusterLog Get-ClusterNetwork Get-ClusterNetworkInterface Get-ClusterResourceDependency
Get-ClusterResourceDependencyReport Get-ClusterResourceType Get-ClusterSharedVolume
Get-ClusterSharedVolumeState Get-ClusterVMMonitoredItem Grant-ClusterAccess Move-ClusterResource
Move-ClusterSharedVolume Move-ClusterVirtualMachineRole New-Cluster New-ClusterFaultDomain
New-ClusterGroupSet New-ClusterNameAccount Remove-Cluster Remove-ClusterAccess Remove-ClusterCheckpoint
Remove-ClusterFaultDomain Remove-ClusterGroup Remove-ClusterGroupFromSet Remove-ClusterGroupSet
Remove-ClusterGroupSetDependency Remove-ClusterNode Remove-ClusterResource
Remove-ClusterResourceDependency Remove-ClusterResourceType Remove-ClusterSharedVolume
Remove-ClusterVMMonitoredItem Repair-ClusterSharedVolume Reset-ClusterVMMonitoredState
Resume-ClusterResource Set-ClusterFaultDomain Set-ClusterFaultDomainXML Set-ClusterGroupSet
Set-ClusterLog Set-ClusterOwnerNode Set-ClusterQuorum Set-ClusterResourceDependency
Start-Cluster Start-ClusterGroup Start-ClusterResource Stop-Cluster Stop-ClusterGroup
Stop-ClusterResource Suspend-ClusterResource Test-Cluster Test-ClusterResourceFailure
Update-ClusterIPResource Update-ClusterNetworkNameResource Update-ClusterVirtualMachineConfiguration
"""
REAL_UNMODELLED_CORE = """
Add-Content Add-Member Clear-Content Clear-Host Clear-Item Clear-Variable Compare-Object
ConvertFrom-Csv ConvertFrom-Json ConvertFrom-StringData ConvertTo-Html ConvertTo-Xml Copy-Item
Disable-PSRemoting Enable-PSRemoting Enter-PSSession Exit-PSSession Export-Clixml Export-Csv
ForEach-Object Format-Custom Format-List Format-Table Format-Wide Get-Acl Get-Alias Get-ChildItem
Get-CimInstance Get-ComputerInfo Get-Content Get-Credential Get-Culture Get-Date Get-Event
Get-EventLog Get-ExecutionPolicy Get-Help Get-History Get-Host Get-HotFix Get-Item Get-ItemProperty
Get-Job Get-Location Get-Member Get-Module Get-NetAdapter Get-NetIPAddress Get-PSDrive Get-PSSession
Get-Process Get-Random Get-Service Get-UICulture Get-Unique Get-Variable Get-WindowsFeature
Get-WinEvent Get-WmiObject Group-Object Import-Clixml Import-Csv Import-Module Install-WindowsFeature
Invoke-CimMethod Invoke-Command Invoke-WebRequest Invoke-RestMethod Invoke-WmiMethod Join-Path
Measure-Command Measure-Object Move-Item New-Item New-Object New-PSSession New-Variable Out-Default
Out-File Out-Host Out-Null Read-Host Receive-Job Remove-Item Remove-Job Remove-Module Remove-PSSession
Remove-Variable Rename-Item Resolve-Path Restart-Computer Restart-Service Select-String Set-Acl
Set-Content Set-ExecutionPolicy Set-Item Set-ItemProperty Set-Location Set-Service Set-StrictMode
Set-Variable Sort-Object Split-Path Start-Job Start-Process Start-Service Start-Sleep Stop-Computer
Stop-Process Stop-Service Tee-Object Test-Connection Test-NetConnection Test-Path Test-WSMan
Uninstall-WindowsFeature Wait-Job Where-Object Write-Debug Write-Error Write-Host Write-Information
Write-Progress Write-Verbose Write-Warning
"""
# Programs in System32 an admin runs from PowerShell (cluster.exe only where the release has it).
PROGRAMS = {"hostname", "ipconfig", "whoami", "ping", "netsh", "sc", "net", "systeminfo",
             "shutdown", "wmic", "cmd", "powershell", "tasklist", "taskkill", "robocopy", "reg",
             "certutil", "nltest", "w32tm", "msiexec", "wusa", "dism", "bcdedit", "winrm", "nslookup",
             "netstat", "route", "arp", "tracert", "findstr", "find", "sort", "more", "xcopy",
             "icacls", "gpupdate", "gpresult", "klist", "setspn", "repadmin", "dcdiag", "schtasks"}
REAL_UNMODELLED = {n.lower(): n for n in (REAL_UNMODELLED_CLUSTER + REAL_UNMODELLED_CORE).split()}
REAL_UNMODELLED_CLUSTER_NAMES = {n.lower() for n in REAL_UNMODELLED_CLUSTER.split()}
# Built-in aliases of Windows PowerShell 5.1 (Get-Alias) for the commands above and the modelled ones.
ALIASES = {
    "?": "Where-Object", "where": "Where-Object", "%": "ForEach-Object", "foreach": "ForEach-Object",
    "select": "Select-Object", "sort": "Sort-Object", "group": "Group-Object",
    "measure": "Measure-Object", "ft": "Format-Table", "fl": "Format-List", "fw": "Format-Wide",
    "fc": "Format-Custom", "gcm": "Get-Command", "gsv": "Get-Service", "gps": "Get-Process",
    "ps": "Get-Process", "echo": "Write-Output", "write": "Write-Output", "iex": "Invoke-Expression",
    "icm": "Invoke-Command", "dir": "Get-ChildItem", "ls": "Get-ChildItem", "gci": "Get-ChildItem",
    "cd": "Set-Location", "sl": "Set-Location", "pwd": "Get-Location", "gl": "Get-Location",
    "cat": "Get-Content", "type": "Get-Content", "gc": "Get-Content", "gi": "Get-Item",
    "gm": "Get-Member", "gwmi": "Get-WmiObject", "gcim": "Get-CimInstance", "sleep": "Start-Sleep",
    "cls": "Clear-Host", "clear": "Clear-Host", "copy": "Copy-Item", "cp": "Copy-Item",
    "move": "Move-Item", "mv": "Move-Item", "del": "Remove-Item", "rm": "Remove-Item",
    "erase": "Remove-Item", "rd": "Remove-Item", "rmdir": "Remove-Item", "ni": "New-Item",
    "md": "New-Item", "mkdir": "New-Item", "kill": "Stop-Process", "spps": "Stop-Process",
    "start": "Start-Process", "saps": "Start-Process", "sasv": "Start-Service", "spsv": "Stop-Service",
    "tee": "Tee-Object", "gv": "Get-Variable", "sv": "Set-Variable", "set": "Set-Variable",
    "ipmo": "Import-Module", "gmo": "Get-Module", "h": "Get-History", "history": "Get-History",
    "help": "Get-Help", "man": "Get-Help", "oh": "Out-Host", "ogv": "Out-GridView",
    "sc": "Set-Content", "ac": "Add-Content", "gal": "Get-Alias", "nsn": "New-PSSession",
    "etsn": "Enter-PSSession", "exsn": "Exit-PSSession",
}
CMD_CLASS = {
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
QUORUM_TYPES = {"NodeMajority": 0, "NodeAndDiskMajority": 1, "NodeAndFileShareMajority": 2,
                 "DiskOnly": 3, "Majority": 4}


def fq(name: str) -> str:
    cls = CMD_CLASS.get(name, name.replace("-", "") + "Command")
    return f"{NS}.{cls}" if name in CLUSTER_MODULE else f"Microsoft.PowerShell.Commands.{cls}"


def not_recognized(name: str) -> SimErrorRecord:
    return SimErrorRecord(
        terminating=True,
        message=f"The term '{name}' is not recognized as the name of a cmdlet, function, script"
        " file, or operable program. Check the spelling of the name, or if a path was included,"
        " verify that the path is correct and try again.",
        category="ObjectNotFound", target=name, error_id="CommandNotFoundException",
        exception_type="System.Management.Automation.CommandNotFoundException")


def not_simulated(what: str) -> SimErrorRecord:
    """A real command, parameter or construct the simulator does not model. FullyQualifiedErrorId
    ``NotSimulated`` is the simulator's own: no Windows error carries it."""
    return SimErrorRecord(message=f"not simulated: {what}", category="NotImplemented",
                          error_id="NotSimulated", exception_type="clusterlib.NotSimulated",
                          terminating=True)


def binding_error(name: str, message: str, reason: str) -> SimErrorRecord:
    return SimErrorRecord(message=message, category="InvalidArgument", target="",
                          error_id=f"{reason},{fq(name)}", terminating=True,
                          exception_type="System.Management.Automation.ParameterBindingException")


def script_pipeline(text: str) -> Pipeline:
    """Script text (Invoke-Expression, a PSRP script command, powershell -EncodedCommand) -> the
    Pipeline of cmdlet calls it stands for; positional arguments bound to the parameters that
    take them. Text outside clusterlib.sim.psscript's subset raises Stop (not simulated)."""
    def is_switch(command: str, param: str) -> bool:
        low = param.lower()
        if low == "wait":
            return command.lower() == "suspend-clusternode"
        return low in SWITCHES

    try:
        parsed = parse_script(text, is_switch)
    except NotSimulatedScript as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise Stop(not_simulated(f"script text {shown!r} ({exc})")) from exc
    statements = []
    for commands in parsed:
        cmdlets = [bind_positional(sc.name, sc.named, sc.positional) for sc in commands]
        statements.append(Statement(tuple(cmdlets)))
    return Pipeline(statements=tuple(statements))


def bind_positional(name: str, named: Sequence[tuple[str, Any]],
                    positional: Sequence[Any]) -> Cmdlet:
    """A Cmdlet whose positional arguments are bound, in order, to the parameters that take them
    (those not given by name). An argument left over keeps the name "" and fails binding with
    PowerShell's PositionalParameterNotFound."""
    canon = next((k for k in REAL_PARAMS if k.lower() == name.lower()), None) \
        or ALIASES.get(name.lower())
    slots = list(POSITIONAL.get(canon or "", ()))
    params = list(named)
    given = {k.lower() for k, _ in params}
    for value in positional:
        while slots and slots[0].lower() in given:
            slots.pop(0)
        params.append((slots.pop(0), value) if slots else ("", value))
    return Cmdlet(name, tuple(params))
