"""The core cmdlets clusterlib pipes into, as the simulator's PowerShell host runs them.

Select-Object, ConvertTo-Json, ConvertTo-Csv, Out-String, Write-Output, Invoke-Expression,
Get-Command."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from clusterlib.sim.ps_catalog import (
    CLUSTER_MODULE,
    REAL_PARAMS,
    SimErrorRecord,
    Stop,
    not_simulated,
    script_pipeline,
)
from clusterlib.sim.psobjects import PSObject, convert_to_json, select_object
from clusterlib.sim.simcluster import SimError
from clusterlib.wire import Cmdlet

if TYPE_CHECKING:
    from clusterlib.sim.powershell_host import PowerShellHost


def select(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    props = host.names(cmd.param("Property"))
    expand = cmd.param("ExpandProperty")
    out: list[Any]
    if expand is not None:
        out = _expand(host, str(expand), props, items or [])
    else:
        out = select_object(items or [], props) if props else list(items or [])
    first = cmd.param("First")
    return out[: int(first)] if first is not None else out


_SELECT_FQ = "Microsoft.PowerShell.Commands.SelectObjectCommand"
_PS_ARGUMENT = "System.Management.Automation.PSArgumentException"
_CUSTOM = "System.Management.Automation.PSCustomObject"


def _expand(host: PowerShellHost, name: str, props: list[str], items: list[Any]) -> list[Any]:
    """Select-Object -ExpandProperty NAME [-Property P, ...] (learn.microsoft.com, Select-Object,
    -ExpandProperty; SelectObjectCommand.ProcessExpandParameter in the PowerShell source, whose
    2016 code base is 5.1's): per input object, the property's value, or each item of it when it
    is a collection ($null ones skipped), with every -Property added to it as a NoteProperty
    (its value from the input object; $null when the input has none). Refused as Windows
    refuses, each a non-terminating error and on to the next object: a NAME the object does not
    have (ExpandPropertyNotFound, 'Property "NAME" cannot be found.'); a note whose name the
    output object already has (AlreadyExistingUserSpecifiedPropertyExpand: the object keeps its
    own value). Windows PowerShell 3.0/4.0 (``host.powershell_version()``) add the notes only to a
    collection's items, not to a single expanded object ([P]: their SelectObjectCommand as
    decompiled copies show it). Not simulated: wildcards in NAME, and notes on strings, numbers
    or custom objects (the simulator's values cannot carry them as .NET's wrappers do)."""
    if any(c in name for c in "*?["):
        raise Stop(not_simulated("wildcards in Select-Object -ExpandProperty"))
    single_notes = host.powershell_version() >= (5, 0)
    key = ("expand", name.lower(), tuple(props), single_notes)
    out: list[Any] = []
    for item in items:
        if not isinstance(item, PSObject):
            raise Stop(not_simulated(f"Select-Object -ExpandProperty on a {type(item).__name__}"))
        # A kept object's expansion is kept with it (its memo), as its Select-Object row is.
        memo = item.memo
        kept = memo.get(key) if memo is not None else None
        if kept is None:
            kept, clean = _expand_one(host, name, props, item, single_notes)
            if memo is not None and clean:
                memo[key] = kept
        out.extend(kept)
    return out


def _expand_one(host: PowerShellHost, name: str, props: list[str], item: PSObject,
                single_notes: bool) -> tuple[list[Any], bool]:
    """``_expand`` for one input object: its outputs, and whether no error was written."""
    found = next((k for k in item.props if k.lower() == name.lower()), None)
    if found is None:
        host.write_error(SimErrorRecord(
            message=f'Property "{name}" cannot be found.', category="InvalidArgument",
            error_id=f"ExpandPropertyNotFound,{_SELECT_FQ}", target=str(item),
            exception_type=_PS_ARGUMENT))
        return [], False
    value = item.props[found]
    if value is None:
        return [], True
    collection = isinstance(value, (list, tuple))
    elements = [v for v in value if v is not None] if collection else [value]
    if not props or not (collection or single_notes):
        return elements, True
    notes = [(p, item.get(p)) for p in props]
    out: list[Any] = []
    clean = True
    for element in elements:
        if not isinstance(element, PSObject) or _CUSTOM in element.type_names:
            raise Stop(not_simulated("Select-Object -Property notes on an expanded"
                                     f" {type(element).__name__}"))
        # .NET wraps the expanded object in a new PSObject that carries the notes; the
        # simulator's objects are shared (ps_shapes keeps them), so the notes go on a copy.
        copy = PSObject(element.type_names, dict(element.props), to_string=element.to_string)
        for note, note_value in notes:
            if any(k.lower() == note.lower() for k in copy.props):
                host.write_error(SimErrorRecord(
                    message=f'The property cannot be processed because the property "{note}"'
                    " already exists.", category="InvalidOperation",
                    error_id=f"AlreadyExistingUserSpecifiedPropertyExpand,{_SELECT_FQ}",
                    target=str(item), exception_type=_PS_ARGUMENT))
                clean = False
                continue
            copy.props[note] = note_value
        copy.memo = {}
        out.append(copy)
    return out, clean


def to_json(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    data = _input(cmd, items)
    if not data:
        return []
    depth = int(cmd.param("Depth", 2))
    if depth < 1:
        # Windows PowerShell 5.1 validates -Depth as 1 or more ([P]: PowerShell 7 allows 0).
        raise SimError(87, f"Cannot validate argument on parameter 'Depth'. The {depth} argument"
                       " is less than the minimum allowed range of 1.",
                       category="InvalidData", error_id="ParameterArgumentValidationError")
    return [convert_to_json(data, depth=depth, compress=bool(cmd.param("Compress")))]


def to_csv(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    """ConvertTo-Csv as Windows PowerShell 5.1: one string per line, every field quoted,
    property values by ToString() (enums by name, nested objects by their ToString, $null
    as an empty field). [P] from the cmdlet's documented behaviour; not checked on a real
    FailoverClusters object."""
    data = [o for o in (items or []) if isinstance(o, PSObject)]
    if not data:
        return []
    lines = [] if cmd.param("NoTypeInformation") else [f"#TYPE {data[0].type_names[0]}"]
    headers = tuple(data[0].props)
    lines.append(csv_line(headers))
    key = ("csv", headers)
    for obj in data:
        # A cached entity's row keeps its line (PSObject.memo): built once while it is unchanged.
        memo = obj.memo
        line = memo.get(key) if memo is not None else None
        if line is None:
            line = csv_line([ps_to_string(obj.get(h)) for h in headers])
            if memo is not None:
                memo[key] = line
        lines.append(line)
    return lines


def out_string(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    data = _input(cmd, items)
    if not data:
        return []
    if not all(isinstance(i, (str, int, float)) and not isinstance(i, bool) for i in data):
        # The default table/list views of the FailoverClusters types are not modelled.
        raise Stop(not_simulated(
            "formatting objects as text (Out-String and the default view); pipe them"
            " through ConvertTo-Json or ConvertTo-Csv first"))
    text = [str(i) for i in data]
    if cmd.param("Stream"):
        # -Stream: one string per line (a string with line breaks becomes several).
        return [line for t in text for line in (t.splitlines() or [""])]
    return ["\r\n".join(text) + "\r\n"]


def write_output(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    value = cmd.param("InputObject")
    if value is None:
        return list(items or [])
    return list(value) if isinstance(value, list) else [value]


def invoke_expression(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    """Invoke-Expression -Command: script text in the subset clusterlib.sim.psscript accepts
    runs as the same cmdlet calls would; other text is "not simulated". Errors of the inner
    statements are written as they happen; a terminating one ends Invoke-Expression too."""
    text = cmd.param("Command")
    if text is None:
        text = next((i for i in items or [] if isinstance(i, str)), None)
    if not isinstance(text, str):
        raise SimError(87, "Cannot bind argument to parameter 'Command' because it is null.",
                       category="InvalidData", error_id="ParameterArgumentValidationErrorNull")
    inner = host.invoke(script_pipeline(text))
    errors = list(inner.errors)
    fatal = errors.pop() if errors and errors[-1].terminating else None
    host.side_errors.extend(errors)
    if fatal is not None:
        raise Stop(fatal)
    return [item for out in inner.outputs for item in out]


def get_command(host: PowerShellHost, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    out = []
    module = cmd.param("Module")
    for name in host.names(cmd.param("Name")):
        canon = next((k for k in REAL_PARAMS if k.lower() == name.lower()), None)
        mod = "FailoverClusters" if canon in CLUSTER_MODULE else "Microsoft.PowerShell.Utility"
        real = host.real_command(name) if canon is None else canon
        if canon is None and real is not None:
            raise Stop(not_simulated(f"Get-Command of {real}"))
        if canon is None or (canon in CLUSTER_MODULE and not host.sim.powershell) or (
                module is not None and str(module).lower() != mod.lower()):
            raise Stop(SimErrorRecord(
                message=f"The term '{name}' is not recognized as the name of a cmdlet, function,"
                " script file, or operable program.", category="ObjectNotFound",
                target=name, error_id="CommandNotFoundException,Microsoft.PowerShell.Commands."
                "GetCommandCommand",
                exception_type="System.Management.Automation.CommandNotFoundException"))
        params = host.real_params(canon)
        out.append(PSObject(("System.Management.Automation.CmdletInfo", "System.Object"),
                            {"Name": canon, "ModuleName": mod, "CommandType": "Cmdlet",
                             "Parameters": {p: "System.Management.Automation.ParameterMetadata"
                                            for p in sorted(params)}},
                            to_string=canon))
    return out



def ps_to_string(value: Any) -> str | None:
    """A property value as ConvertTo-Csv writes it (its ToString(); None for $null)."""
    if type(value) is str:
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return f"System.Collections.Generic.List`1[{type(value).__name__}]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def csv_line(fields: Sequence[str | None]) -> str:
    """One CSV line as PowerShell 5.1 writes it: every field quoted, embedded quotes doubled,
    $null an empty field (what csv.writer with QUOTE_ALL gives, without a writer per line)."""
    return ",".join('""' if f is None else '"' + f.replace('"', '""') + '"' for f in fields)


def _input(cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
    """What a core cmdlet works on: -InputObject when given, else the pipeline's items."""
    value = cmd.param("InputObject")
    return [value] if value is not None else list(items or [])
