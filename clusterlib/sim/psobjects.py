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
    and the string ToString() gives (for a ClusterNode or ClusterGroup: its name).

    ``to_string=None`` is a PSCustomObject's ToString, ``@{Name=...; State=...}``, worked out
    from the properties when first asked (a snapshot's Select-Object rows never need it).
    ``memo`` is None, or a dict where renderings of an object that does not change are kept
    (its Select-Object row, its CSV line): the simulator's PowerShell host gives a cached
    entity one (clusterlib.sim.ps_shapes) and builds a new object when the entity changes.
    """

    type_names: tuple[str, ...]
    props: dict[str, Any] = field(factory=dict)
    _to_string: str | None = ""
    memo: dict[Any, Any] | None = field(default=None, init=False, eq=False, repr=False)

    @property
    def to_string(self) -> str:
        if self._to_string is None:
            self._to_string = "@{" + "; ".join(f"{k}={_ps_str(v)}"
                                               for k, v in self.props.items()) + "}"
        return self._to_string

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


# One PSEnumValue per (enum type, member): they are immutable, and wrapping each State of a large
# read anew cost 40 % of building a 32,000-group Get-ClusterGroup.
_ENUMS: dict[tuple[str, Any], PSEnumValue] = {}


def enum_value(type_name: str, member: Any) -> PSEnumValue:
    """Wrap a clusterlib model enum member as the .NET enum the cmdlets return."""
    key = (type_name, member)
    value = _ENUMS.get(key)
    if value is None:
        value = _ENUMS[key] = PSEnumValue(type_name=type_name, name=member.name,
                                          value=int(member.value))
    return value


_CUSTOM_TAIL = ("System.Management.Automation.PSCustomObject", "System.Object")


def select_object(items: Iterable[Any], properties: Sequence[str]) -> list[PSObject]:
    """Select-Object -Property: a PSCustomObject per input with exactly those properties, in the
    order asked, $null for a property the object lacks (as PowerShell does). An input with a
    ``memo`` keeps its row there (and gives the row a memo of its own, for its CSV line)."""
    key = ("select", tuple(properties))
    out = []
    for item in items:
        if not isinstance(item, PSObject):
            out.append(PSObject(_CUSTOM_TAIL, {p: None for p in properties}))
            continue
        memo = item.memo
        row = memo.get(key) if memo is not None else None
        if row is None:
            base = item.type_names[0] if item.type_names else "System.Object"
            row = PSObject(("Selected." + base, *_CUSTOM_TAIL),
                           {p: item.get(p) for p in properties}, to_string=None)
            if memo is not None:
                row.memo = {}
                memo[key] = row
        out.append(row)
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
    return _convert(value, depth, level, {})


def _convert(value: Any, depth: int, level: int, lists: dict[tuple[int, int], Any]) -> Any:
    """to_jsonable; ``lists`` keeps, for one conversion, each list already converted (by id and
    level): 32,000 owner lists share one list of every node, converted once."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, PSEnumValue):
        return value.value
    if isinstance(value, PSObject):
        if level > depth:
            return str(value)
        return {k: _convert(v, depth, level + 1, lists) for k, v in value.props.items()}
    if isinstance(value, Mapping):
        if level > depth:
            return "System.Collections.Hashtable"
        return {str(k): _convert(v, depth, level + 1, lists) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if level > depth:
            return " ".join(str(v) for v in value)
        seen = lists.get((id(value), level))
        if seen is None or seen[0] is not value:
            seen = lists[(id(value), level)] = (
                value, [_convert(v, depth, level + 1, lists) for v in value])
        return seen[1]
    return str(value)


def convert_to_json(items: Sequence[Any], depth: int = 2, compress: bool = False) -> str:
    """ConvertTo-Json over a whole pipeline input: one item gives an object, several an array."""
    data: Any
    if len(items) == 1:
        data = to_jsonable(items[0], depth)
    elif compress:
        # An array's compressed text is its items' texts joined, so a kept object's text is
        # written once (json.dumps of the whole list gives the same characters).
        lists: dict[tuple[int, int], Any] = {}
        return "[" + ",".join(_compressed(i, depth, lists) for i in items) + "]"
    else:
        data = [to_jsonable(i, depth) for i in items]
    if compress:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(data, indent=4, ensure_ascii=False)


# What json.dumps(separators=(",", ":"), ensure_ascii=False) uses, made once, not per item.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _compressed(item: Any, depth: int, lists: dict[tuple[int, int], Any]) -> str:
    memo = item.memo if isinstance(item, PSObject) else None
    key = ("json-text", depth)
    text = memo.get(key) if memo is not None else None
    if text is None:
        text = _COMPACT.encode(_convert(item, depth, 0, lists))
        if memo is not None:
            memo[key] = text
    return str(text)
