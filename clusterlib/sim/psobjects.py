"""PowerShell-shaped output objects of the simulator, and Select-Object/ConvertTo-Json as PS 5.1 does them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen

NS = "Microsoft.FailoverClusters.PowerShell"


@frozen
class PSEnumValue:
    """A .NET enum value: prints as its name, ConvertTo-Json writes its integer."""

    type_name: str
    name: str
    value: int

    def __str__(self) -> str:
        return self.name


@define
class PSObject:
    """A .NET object as PowerShell sees it: type names (most derived first), ordered properties,
    and the string ToString() gives (for a ClusterNode or ClusterGroup: its name)."""

    type_names: tuple[str, ...]
    props: dict[str, Any] = field(factory=dict)
    to_string: str = ""

    def __str__(self) -> str:
        return self.to_string

    def get(self, name: str) -> Any:
        if name in self.props:
            return self.props[name]
        low = name.lower()
        for key, value in self.props.items():
            if key.lower() == low:
                return value
        return None


def enum_value(type_name: str, member: Any) -> PSEnumValue:
    """Wrap a clusterlib model enum member as the .NET enum the cmdlets return."""
    return PSEnumValue(type_name=type_name, name=member.name, value=int(member.value))


def select_object(items: Iterable[Any], properties: Sequence[str]) -> list[PSObject]:
    """Select-Object -Property: a PSCustomObject per input with exactly those properties, in the
    order asked, $null for a property the object lacks (as PowerShell does)."""
    out = []
    for item in items:
        if isinstance(item, PSObject):
            props = {p: item.get(p) for p in properties}
            base = item.type_names[0] if item.type_names else "System.Object"
            out.append(PSObject(("Selected." + base, "System.Management.Automation.PSCustomObject",
                                 "System.Object"),
                                props, to_string="@{" + "; ".join(f"{k}={_ps_str(v)}"
                                                                  for k, v in props.items()) + "}"))
        else:
            out.append(PSObject(("System.Management.Automation.PSCustomObject", "System.Object"),
                                {p: None for p in properties}))
    return out


def _ps_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return " ".join(_ps_str(v) for v in value)
    return str(value)


def to_jsonable(value: Any, depth: int, level: int = 0) -> Any:
    """ConvertTo-Json's value conversion (Windows PowerShell 5.1 rules as documented):
    enums become their integers; objects nested deeper than ``depth`` become their ToString();
    collections become arrays. The exact 5.1 behaviour for these FailoverClusters types was not
    tested on a real host (reference 1, marked [U])."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, PSEnumValue):
        return value.value
    if isinstance(value, PSObject):
        if level > depth:
            return str(value)
        return {k: to_jsonable(v, depth, level + 1) for k, v in value.props.items()}
    if isinstance(value, Mapping):
        if level > depth:
            return "System.Collections.Hashtable"
        return {str(k): to_jsonable(v, depth, level + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if level > depth:
            return " ".join(str(v) for v in value)
        return [to_jsonable(v, depth, level + 1) for v in value]
    return str(value)


def convert_to_json(items: Sequence[Any], depth: int = 2, compress: bool = False) -> str:
    """ConvertTo-Json over a whole pipeline input: one item gives an object, several an array."""
    data: Any
    if len(items) == 1:
        data = to_jsonable(items[0], depth)
    else:
        data = [to_jsonable(i, depth) for i in items]
    if compress:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(data, indent=4, ensure_ascii=False)
