"""The FailoverClusters PowerShell dialect: cmdlet pipelines with named parameters, and reading their output.

Reads end in ``ConvertTo-Csv -NoTypeInformation | Out-String``: one string crosses the wire per
statement, enums arrive by name and nested objects (OwnerNode) by their ToString(), the node's
name. Shipping whole objects costs seconds of CLIXML work for thousands of groups (measured in
benchmarks/bench_snapshot.py); CSV keeps a snapshot one round trip of plain text.
[P] ConvertTo-Csv's use of ToString() for nested values is documented PowerShell behaviour; it
was not checked against a real FailoverClusters object.
"""

from __future__ import annotations

import csv
import io
import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clusterlib.dialects.base import (
    Capabilities,
    Command,
    NamedDialect,
    raise_for_errors,
    record_code,
)
from clusterlib.errors import NotSupported, ParseError, not_found
from clusterlib.model import (
    ClusterSnapshot,
    DrainStatus,
    GroupInfo,
    GroupState,
    GroupType,
    NodeInfo,
    NodeState,
    OSVersion,
    ServiceVersion,
    slot_setters,
)
from clusterlib.transports.base import Transport
from clusterlib.wire import Cmdlet, CmdLine, Pipeline, Statement

NODE_PROPS = ("Name", "Id", "State", "DrainStatus", "NodeWeight", "DynamicWeight", "MajorVersion",
              "MinorVersion", "BuildNumber", "CSDVersion", "NodeHighestVersion", "NodeLowestVersion")
GROUP_PROPS = ("Name", "OwnerNode", "State", "Priority", "IsCoreGroup", "GroupType")
CLUSTER_PROPS = ("Name", "ClusterFunctionalLevel", "DynamicQuorum")
QUORUM_PROPS = ("QuorumType", "QuorumResource")

_CSV = (Cmdlet("ConvertTo-Csv", {"NoTypeInformation": True}), Cmdlet("Out-String"))


def _with_cluster(params: dict[str, Any], cluster: str | None) -> dict[str, Any]:
    if cluster:
        params["Cluster"] = cluster
    return params


def _read(cmdlet: str, props: Iterable[str], cluster: str | None, **params: Any) -> Statement:
    return Statement((Cmdlet(cmdlet, _with_cluster(dict(params), cluster)),
                      Cmdlet("Select-Object", {"Property": list(props)}), *_CSV))


# The owner statements' pipes. Each Get-ClusterOwnerNode answer (a ClusterOwnerNodeList:
# ClusterObject, OwnerNodes) is reduced to the object's name and its owners, with parameters only:
# ``Select-Object -ExpandProperty ClusterObject -Property OwnerNodes`` outputs the group or
# resource itself with OwnerNodes added as a NoteProperty (learn.microsoft.com, Select-Object,
# -ExpandProperty: "If the Property parameter is specified, Select-Object will attempt to add
# each selected property as a NoteProperty to every outputted object"; it refuses a name the
# object already has, and a ClusterGroup or ClusterResource has no OwnerNodes), then
# ``Select-Object -Property Name, OwnerNodes`` keeps those two. At ``ConvertTo-Json -Depth 1`` the
# list is an array and its nodes, one level deeper, their ToString(): the node names (the rule
# the full form relied on already; [P]: ConvertTo-Json on these types was not run on a real
# host, and that a ClusterGroup or ClusterResource is a single object, not a collection that
# -ExpandProperty would enumerate, is inferred from its documented properties).
# Without this every ClusterObject arrived with all its properties (37 MB at 64 x 32,000,
# against 21 MB, nearly all of it resources' possible-owner lists of every node). No smaller
# parameters-only form was found: the lists are the answer. Select-Object -Unique compares each
# object with every one kept (quadratic); Group-Object -Property OwnerNodes would fold equal
# lists, but in the PowerShell source a list's hash is its identity, so each of 32,000 resources
# is compared with every group by both lists' text (64 names converted twice per comparison, on
# the cluster node), and grouping by that text is itself [P].
# [P] Windows PowerShell 3.0 and 4.0 (Windows Server 2012 and 2012 R2 without WMF 5.x) add the
# notes only to the items of an expanded collection, not to a single expanded object (their
# SelectObjectCommand, as decompiled copies show; the 5.1 code base adds them to both): there
# OwnerNodes comes back $null, which the reader takes for that, never for "no owners", and reads
# the lists again in the full form below (``PowerShellDialect.snapshot``).
# A resource's list is wanted by its group, so its statement expands once more: the resource's
# OwnerGroup (a ClusterGroup) with the resource's OwnerNodes added to it, then that group's Name
# and those OwnerNodes: one item per resource, named by its group. (OwnerGroup itself could not
# go in the JSON: at -Depth 1 a ClusterGroup is written with all its properties.) Each expanded
# object is a new wrapper carrying its own notes (the 5.1 code base's AsPSObject(value, true)),
# so a group reached through several resources takes each resource's list without a clash.
_TO_JSON = Cmdlet("ConvertTo-Json", {"Depth": 1, "Compress": True})
_EXPAND_OWNERS = Cmdlet("Select-Object", {"ExpandProperty": "ClusterObject",
                                          "Property": ["OwnerNodes"]})
_NAME_AND_OWNERS = Cmdlet("Select-Object", {"Property": ["Name", "OwnerNodes"]})
_COMPACT_GROUP_OWNERS = (_EXPAND_OWNERS, _NAME_AND_OWNERS, _TO_JSON)
_COMPACT_RESOURCE_OWNERS = (
    _EXPAND_OWNERS,
    Cmdlet("Select-Object", {"ExpandProperty": "OwnerGroup", "Property": ["OwnerNodes"]}),
    _NAME_AND_OWNERS, _TO_JSON)


def owner_statements(cluster: str | None = None, *, full: bool = False) -> list[Statement]:
    """What ``snapshot_pipeline(owners=True)`` adds: preferred owners per group, and possible
    owners per resource named by the resource's group (two statements). ``full``: for a host
    whose Select-Object does not add the notes (see the comment above), each
    ClusterOwnerNodeList as it is (ClusterObject with all its properties) and each resource's
    group from a CSV of (Name, OwnerGroup): three statements."""
    def owners_of(source: str, tail: tuple[Cmdlet, ...]) -> Statement:
        return Statement((Cmdlet(source, _with_cluster({}, cluster)),
                          Cmdlet("Get-ClusterOwnerNode"), *tail))

    if not full:
        return [owners_of("Get-ClusterGroup", _COMPACT_GROUP_OWNERS),
                owners_of("Get-ClusterResource", _COMPACT_RESOURCE_OWNERS)]
    return [
        owners_of("Get-ClusterGroup", (_TO_JSON,)),
        owners_of("Get-ClusterResource", (_TO_JSON,)),
        Statement((Cmdlet("Get-ClusterResource", _with_cluster({}, cluster)),
                   Cmdlet("Select-Object", {"Property": ["Name", "OwnerGroup"]}), *_CSV)),
    ]


def snapshot_pipeline(cluster: str | None = None, *, owners: bool = False,
                      full_owners: bool = False) -> Pipeline:
    """Everything a snapshot needs, in one round trip whatever the cluster's size; ``owners``
    adds the owner statements (``owner_statements``, ``full_owners`` their full form)."""
    statements = [
        Statement((Cmdlet("Get-Cluster", {"Name": cluster} if cluster else {}),
                   Cmdlet("Select-Object", {"Property": list(CLUSTER_PROPS)}), *_CSV)),
        _read("Get-ClusterQuorum", QUORUM_PROPS, cluster),
        _read("Get-ClusterNode", NODE_PROPS, cluster),
        _read("Get-ClusterGroup", GROUP_PROPS, cluster),
    ]
    if owners:
        statements += owner_statements(cluster, full=full_owners)
    return Pipeline(statements=tuple(statements), idempotent=True)


def parse_csv(text: Any, what: str) -> list[dict[str, str]]:
    """Rows of a ``ConvertTo-Csv -NoTypeInformation | Out-String`` result.

    Read as one CSV document, never line by line: a quoted field may hold a line break (names
    are free text on a cluster).
    """
    records = _csv_records(text, what)
    if not records:
        return []
    header = records[0]
    return [dict(zip(header, r, strict=True)) for r in records[1:]]


def _csv_records(text: Any, what: str) -> list[list[str]]:
    """The header and the rows of a CSV result, every row as wide as the header (else
    ParseError); [] for nothing. What csv.DictReader checks, without its per-row Python
    bookkeeping (it doubled the cost of reading 8,000 groups)."""
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise ParseError(f"expected CSV text for {what}", repr(text))
    body = text.lstrip("\ufeff")
    if body.startswith("#TYPE"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
    if not body.strip():
        return []
    try:
        records = list(csv.reader(io.StringIO(body, newline=""), strict=True))
    except csv.Error as exc:
        raise ParseError(f"unreadable CSV for {what}: {exc}", text) from exc
    if records:
        width = len(records[0])
        if any(len(r) != width for r in records):
            # A blank line is no row (as DictReader skips it); any other short or long row is.
            records = records[:1] + [r for r in records[1:] if r]
            if any(len(r) != width for r in records):
                raise ParseError(f"ragged CSV row for {what}", text)
    return records


def _int(value: str | None, default: int | None = None) -> int | None:
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1")


def node_from_row(row: dict[str, str]) -> NodeInfo:
    major = _int(row.get("MajorVersion"))
    hi = _int(row.get("NodeHighestVersion"))
    lo = _int(row.get("NodeLowestVersion"))
    drain = row.get("DrainStatus") or ""
    return NodeInfo(
        name=row["Name"],
        id=row.get("Id", "") or "",
        state=NodeState.parse(row.get("State") or "Unknown"),
        drain_status=DrainStatus.parse(drain) if drain else DrainStatus.NotInitiated,
        os_version=OSVersion(major, _int(row.get("MinorVersion"), 0) or 0,
                             _int(row.get("BuildNumber"), 0) or 0, row.get("CSDVersion") or "")
        if major is not None else None,
        highest_version=ServiceVersion.from_dword(hi) if hi else None,
        lowest_version=ServiceVersion.from_dword(lo) if lo else None,
        node_weight=_int(row.get("NodeWeight"), 1) or 0,
        dynamic_weight=_int(row.get("DynamicWeight"), 1) or 0,
    )


def group_from_row(row: dict[str, str], preferred: Mapping[str, Sequence[str]],
                   possible: Mapping[str, Sequence[str]]) -> GroupInfo:
    name = row["Name"]
    gtype = row.get("GroupType") or ""
    return GroupInfo(
        name=name,
        owner=row.get("OwnerNode") or None,
        state=GroupState.parse(row.get("State") or "Unknown"),
        # No Priority column (before Windows Server 2012): not read, never a made-up 2000.
        priority=_int(row.get("Priority")),
        is_core=_bool(row.get("IsCoreGroup")),
        group_type=GroupType.parse(gtype) if gtype else GroupType.Unknown,
        preferred_owners=preferred.get(name),  # None: not read (no owners=True)
        possible_owners=possible.get(name, ()),
    )


_GROUP_SETTERS = slot_setters(GroupInfo, ("name", "state", "owner", "priority", "is_core",
                                          "group_type", "preferred_owners", "possible_owners",
                                          "anti_affinity"))


def groups_from_csv(text: Any, what: str, preferred: Mapping[str, Sequence[str]],
                    possible: Mapping[str, Sequence[str]]) -> tuple[GroupInfo, ...]:
    """``group_from_row`` for every row of a Get-ClusterGroup CSV, at near the cost of reading
    the CSV: columns found once, each distinct State / Priority / IsCoreGroup / GroupType text
    converted once (by the same functions group_from_row uses), records built without
    re-validating the values just converted. A CSV without the expected columns goes the
    per-row way (same results, same errors)."""
    records = _csv_records(text, what)
    if not records:
        return ()
    header = records[0]
    if not set(GROUP_PROPS) <= set(header):
        return tuple(group_from_row(dict(zip(header, r, strict=True)), preferred, possible)
                     for r in records[1:])
    # The last column of a name wins, as in the dict a row would make.
    col = {name: i for i, name in enumerate(header)}
    i_name, i_owner, i_state, i_prio, i_core, i_type = (col[p] for p in GROUP_PROPS)
    pick = operator.itemgetter(i_state, i_prio, i_core, i_type)
    # (State, Priority, IsCoreGroup, GroupType) texts -> their values: a few dozen distinct
    # combinations on any cluster, so each is converted once, not once per row.
    converted: dict[tuple[str, ...], tuple[GroupState, int | None, bool, GroupType]] = {}
    # GroupInfo's fields, in _GROUP_SETTERS' order, each set once (see model.slot_setters).
    (set_name, set_state, set_owner, set_prio, set_core, set_type, set_preferred, set_possible,
     set_anti) = _GROUP_SETTERS
    new = object.__new__
    out = []
    for r in records[1:]:
        key = pick(r)
        conv = converted.get(key)
        if conv is None:
            st, pr, co, ty = key
            conv = converted[key] = (GroupState.parse(st or "Unknown"), _int(pr),
                                     _bool(co), GroupType.parse(ty) if ty else GroupType.Unknown)
        name = r[i_name]
        pref = preferred.get(name) if preferred else None
        poss = possible.get(name) if possible else None
        g = new(GroupInfo)
        set_name(g, name)
        set_state(g, conv[0])
        set_owner(g, r[i_owner] or None)
        set_prio(g, conv[1])
        set_core(g, conv[2])
        set_type(g, conv[3])
        set_preferred(g, tuple(pref) if pref is not None else None)
        set_possible(g, tuple(poss) if poss else ())
        set_anti(g, ())
        out.append(g)
    return tuple(out)


def _json_items(text: Any, what: str) -> list[dict[str, Any]]:
    if text is None or text == "":
        return []
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ParseError(f"unreadable JSON for {what}: {exc}", str(text)) from exc
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise ParseError(f"unexpected JSON shape for {what}", str(text))
    return items


def _name_of(value: Any) -> str:
    """A nested cluster object arrives as its ToString() (a name) or, at a shallower depth, as a
    dict of its properties."""
    if isinstance(value, dict):
        return str(value.get("Name", ""))
    return str(value)


class OwnerNotesMissing(ParseError):
    """The compact owner statements came back without their OwnerNodes (a host whose
    Select-Object does not add -Property's notes to an expanded object; see _COMPACT_OWNERS):
    read the lists again in the full form."""


_OWNERS_KEY = ',"OwnerNodes":'


def _owner_items(text: Any, what: str) -> list[dict[str, Any]]:
    """``_json_items`` for an owner statement, each distinct owner list parsed once.

    Nearly all of the text is owner lists, and a cluster's repeat (at 64 x 32,000, 32,000
    copies of every node's 64 names: 19 of its 21 MB). The text is cut at each
    ``,"OwnerNodes":``; a value that starts with a list already seen (its text, then the
    item's ``}``) becomes that list's number, a new list is parsed alone and numbered, the
    shorter text is parsed, and the numbers get their (shared) list back. Exact: that key can
    only be a key (inside a JSON string every quote is escaped), a list's text followed by
    ``}`` is the whole value, and a candidate cut at a ``]}`` inside a node name is
    unterminated, fails to parse and is left where it stands (parsed with the rest)."""
    if not isinstance(text, str) or _OWNERS_KEY not in text:
        return _json_items(text, what)
    parts = text.split(_OWNERS_KEY)
    known: dict[str, int] = {}  # a list's text -> its number (-1: not a list on its own)
    lists: list[Any] = []
    last, last_number = "\0", ""  # the previous value's list text with its "}", and its number
    for i in range(1, len(parts)):
        part = parts[i]
        if part.startswith(last):
            parts[i] = last_number + part[len(last) - 1:]
            continue
        end = part.find("]}") if part.startswith("[") else -1
        if end < 0:
            continue
        array = part[:end + 1]
        number = known.get(array)
        if number is None:
            try:
                lists.append(json.loads(array))
                number = len(lists) - 1
            except ValueError:
                number = -1
            known[array] = number
        if number >= 0:
            last, last_number = array + "}", str(number)
            parts[i] = last_number + part[end + 1:]
    items = _json_items(_OWNERS_KEY.join(parts) if lists else text, what)
    if lists:
        for item in items:
            number = item.get("OwnerNodes")
            if type(number) is int:  # a placeholder (type(): True is no list number)
                item["OwnerNodes"] = lists[number]
    return items


def _owner_pairs(text: Any, what: str, *, full: bool = True) -> list[tuple[str, Any]]:
    """(object name, its owner list as the JSON gives it) for every item of an owner statement,
    in either form: the full ClusterOwnerNodeList ({ClusterObject, OwnerNodes}) or the compact
    {Name, OwnerNodes}. A compact item without a list (OwnerNodes $null or absent) is never
    read as "no owners": OwnerNotesMissing. ``full=False``: only the compact form is expected
    (its names are not the full form's: a resource's item is named by its group)."""
    out = []
    for item in _owner_items(text, what):
        if "ClusterObject" in item:
            if not full:
                raise ParseError(f"{what}: a ClusterOwnerNodeList where names and lists were"
                                 " expected", str(text)[:2000])
            out.append((_name_of(item["ClusterObject"]), item.get("OwnerNodes") or ()))
            continue
        name, owners = item.get("Name"), item.get("OwnerNodes")
        if not isinstance(name, str) or not isinstance(owners, list):
            raise OwnerNotesMissing(
                f"{what}: the endpoint's Select-Object returned no OwnerNodes list (Windows"
                " PowerShell before 5.0 does not add -Property to a single expanded object)",
                str(text)[:2000])
        out.append((name, owners))
    return out


class _OwnerLists:
    """Owner lists as Get-ClusterOwnerNode's JSON gives them, read into name tuples. A cluster's
    lists repeat (most groups and resources list the same nodes), so each distinct list is
    converted, and tested for "every node", once and its tuple shared by every record that has
    it: at 64 x 32,000 that is a few dozen conversions instead of a million name reads."""

    def __init__(self, nodes: Iterable[NodeInfo]) -> None:
        self.every = frozenset(n.name.lower() for n in nodes)
        self.names: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self.all_nodes: dict[tuple[str, ...], bool] = {}
        # The lists _owner_items shared, by identity (each kept with its entry, so its id stays
        # its own): a shared list of 64 names is not made a tuple and hashed 32,000 times.
        self.shared: dict[int, tuple[Any, tuple[str, ...]]] = {}

    def of(self, raw: Any) -> tuple[str, ...]:
        kept = self.shared.get(id(raw))
        if kept is not None and kept[0] is raw:
            return kept[1]
        found = self._of(raw)
        if isinstance(raw, list):
            self.shared[id(raw)] = (raw, found)
        return found

    def _of(self, raw: Any) -> tuple[str, ...]:
        try:
            key = tuple(raw)
            found = self.names.get(key)
        except TypeError:  # nodes as dicts (a shallower depth): unhashable, read each time
            return tuple(_name_of(n) for n in raw)
        if found is None:
            found = self.names[key] = tuple(_name_of(n) for n in key)
        return found

    def everyone(self, names: tuple[str, ...]) -> bool:
        """Whether ``names`` is every node of the cluster (the same as no restriction)."""
        found = self.all_nodes.get(names)
        if found is None:
            found = self.all_nodes[names] = {n.lower() for n in names} == self.every
        return found


def _resource_groups(text: Any) -> dict[str, str]:
    """Resource name -> its group's name, from the (Name, OwnerGroup) CSV (parse_csv's checks,
    without a dict per row)."""
    records = _csv_records(text, "Get-ClusterResource")
    if not records:
        return {}
    header = records[0]
    if "Name" not in header:
        raise ParseError("no Name column for Get-ClusterResource", str(text)[:2000])
    # The last column of a name wins, as in the dict a row would make.
    col = {name: i for i, name in enumerate(header)}
    i_name, i_group = col["Name"], col.get("OwnerGroup")
    if i_group is None:
        return {r[i_name]: "" for r in records[1:]}
    return {r[i_name]: r[i_group] for r in records[1:]}


def _owners_from(group_json: Any, resource_json: Any, resource_csv: Any,
                 nodes: Iterable[NodeInfo]) -> tuple[dict[str, tuple[str, ...]],
                                                     dict[str, tuple[str, ...]]]:
    """Preferred owners per group, and possible owners per group (the intersection of its
    resources' possible owners; none where that is every node), from the snapshot's owner
    statements (``owner_statements``): ``resource_csv`` None for the compact form (each resource's
    list named by its group), else the full form's resource-to-group CSV."""
    lists = _OwnerLists(nodes)
    of = lists.of
    preferred = {name: of(raw) for name, raw in _owner_pairs(group_json, "group owners")}
    res_group = None if resource_csv is None else _resource_groups(resource_csv)
    possible: dict[str, tuple[str, ...]] = {}
    for res, raw in _owner_pairs(resource_json, "resource owners", full=res_group is not None):
        grp = res if res_group is None else res_group.get(res)
        if grp is None:
            continue
        names = of(raw)
        had = possible.get(grp)
        if had is None:
            possible[grp] = names
        elif had != names:
            keep = {n.lower() for n in names}
            possible[grp] = tuple(n for n in had if n.lower() in keep)
    # Every node possible is the same as no restriction; keep the record small.
    return preferred, {g: v for g, v in possible.items() if not lists.everyone(v)}


class PowerShellDialect(NamedDialect):
    """Drives a cluster through the FailoverClusters cmdlets."""

    def __init__(self, transport: Transport, capabilities: Capabilities,
                 cluster_name: str | None = None) -> None:
        self.transport = transport
        self.capabilities = capabilities
        self.cluster_name = cluster_name
        # Set once the endpoint has answered the compact owner statements without their lists:
        # it gets the full form from then on (OwnerNotesMissing).
        self._full_owners = False

    # ---- reads ----

    def _run_read(self, pipeline: Pipeline) -> tuple[tuple[Any, ...], ...]:
        result = self.transport.run_pipeline(pipeline)
        raise_for_errors(result.errors, pipeline.describe())
        return result.outputs

    def snapshot(self, *, owners: bool = False) -> ClusterSnapshot:
        """One round trip; with ``owners``, on a host that does not add Select-Object's notes
        to an expanded object (Windows PowerShell 3.0/4.0 [P]), two the first time: the compact
        owner statements come back without their lists and are read again in the full form,
        which this dialect then sends from the start."""
        full = self._full_owners
        pipeline = snapshot_pipeline(self.cluster_name, owners=owners, full_owners=full)
        try:
            return self._snapshot_from(self._run_read(pipeline), owners=owners, full_owners=full)
        except OwnerNotesMissing:
            if self._full_owners:
                raise
            self._full_owners = True
            return self.snapshot(owners=owners)

    def _snapshot_from(self, outs: tuple[tuple[Any, ...], ...], *, owners: bool,
                       full_owners: bool = False) -> ClusterSnapshot:
        """The snapshot from the outputs of ``snapshot_pipeline``'s statements (and any after);
        ``full_owners``: its owner statements were the full form."""
        first = [o[0] if o else "" for o in outs]
        cluster_rows = parse_csv(first[0], "Get-Cluster")
        if not cluster_rows:
            raise ParseError("Get-Cluster returned nothing", str(first[0]))
        crow = cluster_rows[0]
        quorum_rows = parse_csv(first[1], "Get-ClusterQuorum")
        qtype = quorum_rows[0].get("QuorumType", "") if quorum_rows else ""
        qres = quorum_rows[0].get("QuorumResource", "") if quorum_rows else ""
        nodes = tuple(node_from_row(r) for r in parse_csv(first[2], "Get-ClusterNode"))
        preferred: dict[str, tuple[str, ...]] = {}
        possible: dict[str, tuple[str, ...]] = {}
        if owners:
            preferred, possible = _owners_from(first[4], first[5],
                                               first[6] if full_owners else None, nodes)
        groups = groups_from_csv(first[3], "Get-ClusterGroup", preferred, possible)
        return ClusterSnapshot(
            name=crow.get("Name", ""),
            nodes=nodes,
            groups=groups,
            functional_level=_int(crow.get("ClusterFunctionalLevel")),
            dialect=self.capabilities.label,
            quorum_type=qtype,
            dynamic_quorum=_bool(crow.get("DynamicQuorum")),
            witness=bool(qres) and qtype not in ("NodeMajority", "DiskOnly"),
        )

    def _group_statements(self, name: str, *, owners: bool) -> list[Statement]:
        statements = [_read("Get-ClusterGroup", GROUP_PROPS, self.cluster_name, Name=name)]
        if owners:
            statements += [
                Statement((Cmdlet("Get-ClusterOwnerNode", _with_cluster({"Group": name},
                                                                       self.cluster_name)),
                           Cmdlet("ConvertTo-Json", {"Depth": 1, "Compress": True}))),
                Statement((Cmdlet("Get-ClusterGroup", _with_cluster({"Name": name}, self.cluster_name)),
                           Cmdlet("Get-ClusterResource"), Cmdlet("Get-ClusterOwnerNode"),
                           Cmdlet("ConvertTo-Json", {"Depth": 1, "Compress": True}))),
            ]
        return statements

    def _run_named(self, statements: list[Statement], group: str | None = None,
                   node: str | None = None) -> list[Any]:
        """Run reads of one group and/or one node; the first output of each statement. A name
        the cluster does not have is a NotFound listing the valid names, decided by the first
        error's code, never by its words (a localized cluster translates them)."""
        pipeline = Pipeline(statements=tuple(statements), idempotent=True)
        result = self.transport.run_pipeline(pipeline)
        code = record_code(result.errors[0]) if result.errors else None
        missing = not_found(code, group=group, node=node, listing=self.snapshot)
        if missing is not None:
            raise missing
        raise_for_errors(result.errors, pipeline.describe())
        return [o[0] if o else "" for o in result.outputs]

    @staticmethod
    def _group_from(first: list[Any], name: str, *, owners: bool) -> GroupInfo:
        rows = parse_csv(first[0], "Get-ClusterGroup")
        if len(rows) != 1:
            raise ParseError(f"expected one group named {name!r}", str(first[0]))
        preferred: dict[str, list[str]] = {}
        possible: dict[str, list[str]] = {}
        if owners:
            real = rows[0]["Name"]
            for item in _json_items(first[1], "group owners"):
                preferred[real] = [_name_of(n) for n in item.get("OwnerNodes") or []]
            sets = [[_name_of(n) for n in item.get("OwnerNodes") or []]
                    for item in _json_items(first[2], "resource owners")]
            if sets:
                keep = set.intersection(*({n.lower() for n in s} for s in sets))
                possible[real] = [n for n in sets[0] if n.lower() in keep]
        return group_from_row(rows[0], preferred, possible)

    @staticmethod
    def _node_from(text: Any, name: str) -> NodeInfo:
        rows = parse_csv(text, "Get-ClusterNode")
        if len(rows) != 1:
            raise ParseError(f"expected one node named {name!r}", str(text))
        return node_from_row(rows[0])

    def read_group(self, name: str, *, owners: bool = False) -> GroupInfo:
        """One group, in one round trip; ``owners`` adds its preferred owners and the possible
        owners of its resources."""
        first = self._run_named(self._group_statements(name, owners=owners), group=name)
        return self._group_from(first, name, owners=owners)

    def read_node(self, name: str) -> NodeInfo:
        first = self._run_named([_read("Get-ClusterNode", NODE_PROPS, self.cluster_name, Name=name)],
                                node=name)
        return self._node_from(first[0], name)

    def read_move(self, group: str, target: str | None) -> tuple[GroupInfo, NodeInfo | None]:
        """What a move needs, in one round trip: the group with its preferred and possible
        owners, and the target node's state (``target`` None: the group only)."""
        statements = self._group_statements(group, owners=True)
        if target is not None:
            statements.append(_read("Get-ClusterNode", NODE_PROPS, self.cluster_name, Name=target))
        first = self._run_named(statements, group=group, node=target)
        info = self._group_from(first, group, owners=True)
        return info, (self._node_from(first[3], target) if target is not None else None)

    # ---- actions (built, then executed) ----

    def _action(self, cmdlet: str, params: dict[str, Any]) -> Pipeline:
        return Pipeline.of(Cmdlet(cmdlet, _with_cluster(params, self.cluster_name)),
                           idempotent=False)

    def pause_command(self, node: str, *, drain: bool, force: bool = False) -> Command:
        params: dict[str, Any] = {"Name": node}
        if force:
            switch = self.capabilities.force_drain
            if not drain or switch is None:
                raise NotSupported(
                    f"a forced drain of {node} needs Suspend-ClusterNode -Drain with -ForceDrain"
                    " (Windows Server 2012 R2 and later) or -ForceEvacuation (2012); this"
                    " cluster's has neither" if drain else
                    f"force applies to a drain only (pause {node} with drain=True)")
        if drain and self.capabilities.drain:
            params["Drain"] = True
            if force:
                params[str(self.capabilities.force_drain)] = True
            params["Wait"] = True
        return self._action("Suspend-ClusterNode", params)

    def resume_command(self, node: str, *, failback: str | None) -> Command:
        params: dict[str, Any] = {"Name": node}
        if failback is not None and self.capabilities.failback:
            params["Failback"] = failback
        return self._action("Resume-ClusterNode", params)

    def move_command(self, group: str, to: str | None, *, wait: int | None) -> Command:
        params: dict[str, Any] = {"Name": group}
        if to is not None:
            params["Node"] = to
        if wait is not None:
            params["Wait"] = int(wait)
        return self._action("Move-ClusterGroup", params)

    def functional_level_command(self, *, what_if: bool) -> Command:
        return self._action("Update-ClusterFunctionalLevel", {"WhatIf": True} if what_if
                            else {"Force": True})

    def execute(self, command: Command) -> None:
        if isinstance(command, CmdLine):
            raise TypeError("the PowerShell dialect does not send command lines")
        result = self.transport.run_pipeline(command)
        raise_for_errors(result.errors, command.describe())

    # ---- private properties of the cluster object (the upgrade lock lives here) ----

    def _cluster_stmt(self) -> Cmdlet:
        return Cmdlet("Get-Cluster", {"Name": self.cluster_name} if self.cluster_name else {})

    def get_private(self, key: str) -> str | None:
        return self.list_private().get(key)

    def list_private(self) -> dict[str, str]:
        """Every private property of the cluster object, from one listing. Asking for one name
        fails when it is absent with a message in the cluster's UI language, so absence is
        read from the list of names, never from an error's wording."""
        pipeline = Pipeline(statements=(self._private_stmt(),), idempotent=True)
        result = self.transport.run_pipeline(pipeline)
        raise_for_errors(result.errors, pipeline.describe())
        return self._private_from(result.output[0] if result.output else "")

    def _private_stmt(self) -> Statement:
        return Statement((self._cluster_stmt(), Cmdlet("Get-ClusterParameter"),
                          Cmdlet("Select-Object", {"Property": ["Name", "Value"]}), *_CSV))

    @staticmethod
    def _private_from(text: Any) -> dict[str, str]:
        rows = parse_csv(text, "Get-ClusterParameter")
        return {r["Name"]: r.get("Value") or "" for r in rows if r.get("Name")}

    def set_private(self, key: str, value: str) -> None:
        pipeline = Pipeline(statements=(Statement((
            self._cluster_stmt(),
            Cmdlet("Set-ClusterParameter", {"Name": key, "Value": value, "Create": True}))),))
        result = self.transport.run_pipeline(pipeline)
        raise_for_errors(result.errors, f"Set-ClusterParameter -Name {key} -Create")

    def delete_private(self, key: str) -> None:
        pipeline = Pipeline(statements=(Statement((
            self._cluster_stmt(), Cmdlet("Set-ClusterParameter", {"Name": key, "Delete": True}))),))
        result = self.transport.run_pipeline(pipeline)
        raise_for_errors(result.errors, f"Set-ClusterParameter -Name {key} -Delete")

    def snapshot_and_private(self) -> tuple[ClusterSnapshot, dict[str, str]]:
        """A plain snapshot and the listing of the cluster object's private properties
        (``list_private``) in ONE round trip: the snapshot pipeline with the listing as one
        statement more. The upgrade's step boundary reads both (its availability check and its
        lock fence)."""
        base = snapshot_pipeline(self.cluster_name)
        pipeline = Pipeline(statements=(*base.statements, self._private_stmt()), idempotent=True)
        outs = self._run_read(pipeline)
        listing = outs[-1][0] if outs and outs[-1] else ""
        return self._snapshot_from(outs, owners=False), self._private_from(listing)


def detect_powershell(transport: Transport, cluster_name: str | None = None) -> Capabilities | None:
    """Ask the endpoint whether the FailoverClusters module is there and whether
    Suspend-ClusterNode has -Drain. None means no module (a legacy cluster: use cluster.exe)."""
    probe = Pipeline(statements=(
        Statement((Cmdlet("Get-Command", {"Name": "Suspend-ClusterNode"}),
                   Cmdlet("Select-Object", {"Property": ["Name", "Parameters"]}),
                   Cmdlet("ConvertTo-Json", {"Depth": 1, "Compress": True}))),
        Statement((Cmdlet("Get-Command", {"Name": "Update-ClusterFunctionalLevel"}),
                   Cmdlet("Select-Object", {"Property": ["Name"]}),
                   Cmdlet("ConvertTo-Json", {"Depth": 1, "Compress": True}))),
    ), idempotent=True)
    result = transport.run_pipeline(probe)
    outs = [o[0] if o else "" for o in result.outputs]
    suspend = _json_items(outs[0], "Get-Command Suspend-ClusterNode") if outs else []
    if not suspend:
        return None
    params = suspend[0].get("Parameters") or {}
    names = {str(k).lower() for k in (params.keys() if isinstance(params, dict) else params)}
    drain = "drain" in names
    force = ("ForceDrain" if "forcedrain" in names
             else "ForceEvacuation" if "forceevacuation" in names else None)
    has_fl = len(outs) > 1 and bool(_json_items(outs[1], "Get-Command Update-ClusterFunctionalLevel"))
    # -Failback on Resume-ClusterNode arrived with drain (Windows Server 2012).
    return Capabilities(dialect="powershell", drain=drain, failback=drain, functional_level=has_fl,
                        force_drain=force)


# ---- an action and the read that follows it, in one round trip ----

def execute_then_read(dialect: PowerShellDialect, command: Command,
                      reads: Sequence[Statement]) -> tuple[tuple[Any, ...], ...]:
    """``command``'s statements, then ``reads``, as ONE pipeline (one round trip); returns the
    outputs of ``reads``. Any error record is reported as ``execute`` reports the command's
    (the first record wins): the reads name objects the command has just acted on, so they fail
    only with the connection. A terminating error ends the pipeline before the reads run."""
    if isinstance(command, CmdLine):
        raise TypeError("the PowerShell dialect does not send command lines")
    pipeline = Pipeline(statements=(*command.statements, *reads), idempotent=False)
    result = dialect.transport.run_pipeline(pipeline)
    raise_for_errors(result.errors, command.describe())
    outs = tuple(result.outputs)
    return outs[len(command.statements):]


def execute_then_snapshot(dialect: PowerShellDialect, command: Command) -> ClusterSnapshot:
    """``execute(command)`` and then ``snapshot()``, in one round trip (``execute_then_read``)."""
    reads = snapshot_pipeline(dialect.cluster_name).statements
    return dialect._snapshot_from(execute_then_read(dialect, command, reads), owners=False)


def execute_then_node(dialect: PowerShellDialect, command: Command, node: str) -> NodeInfo:
    """``execute(command)`` and then ``read_node(node)``, in one round trip."""
    reads = [_read("Get-ClusterNode", NODE_PROPS, dialect.cluster_name, Name=node)]
    outs = execute_then_read(dialect, command, reads)
    return dialect._node_from(outs[0][0] if outs and outs[0] else "", node)


def execute_then_group(dialect: PowerShellDialect, command: Command, group: str) -> GroupInfo:
    """``execute(command)`` and then ``read_group(group)``, in one round trip."""
    reads = dialect._group_statements(group, owners=False)
    outs = execute_then_read(dialect, command, reads)
    return dialect._group_from([o[0] if o else "" for o in outs], group, owners=False)
