"""Reading and printing cluster.exe and wmic text: parsers, printers, error-text mapping (no I/O).

* **Parsers** (``parse_*``): cluster.exe's tables, property listings, ``/ver`` and wmic's
  ``process call create`` answer into the library's records.
* **Printers** (``format_*``): the records back into the same layout, for the simulator.
* **Errors** (:func:`parse_error`, :func:`error_codes`, :func:`wmic_error_code`): a finished
  run's exit code and text to the exception tree.

Building and quoting the command lines is :mod:`clusterlib.wire.cmdline`.

Evidence:

* Captured output: the ``clusterexe_*`` samples (Windows Server 2003 era). Seen in real
  output: node status ``Up``; group status ``Online``; resource status ``Online``.
* cluster.exe's own message table and command-line lexer (``cmderror.mc`` and
  ``cmdline.cpp``, Windows Server 2003 source found in the public code index, ids 8030652365
  and 8242193298). They give the row formats (``%1!-15s! %2!6s! %3`` for nodes,
  ``%1!-20s! %2!-15s! %3`` for groups, ``%1!-20s! %2!-20s! %3!-15s! %4`` for resources), the
  spelling of every status word, the captions, the ``/ver`` and ``/prop`` layouts and the
  ``System error %1!d! has occurred (0x%1!08.8x!).`` line. None of those has been checked
  against a live cluster; where this module relies on them alone, the docstring says so.
* Status words other than Up/Online are spelled as the message table spells them but have
  never been seen in a capture. Status words are English only:
  a localized cluster.exe would print localized words, which the parsers refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from attrs import frozen

from clusterlib import win32
from clusterlib.errors import ClusterRefused, ParseError, refused_from
from clusterlib.model import (
    GroupInfo,
    GroupState,
    NodeInfo,
    NodeState,
    OSVersion,
    ResourceInfo,
    ResourceState,
)

__all__ = [
    "GROUP_STATUS_WORDS",
    "NODE_STATUS_WORDS",
    "RESOURCE_STATUS_WORDS",
    "WMI_CREATE_RESULTS",
    "ClusterExeVersion",
    "error_codes",
    "format_error",
    "format_group",
    "format_groups",
    "format_moving",
    "format_node",
    "format_nodes",
    "format_owners",
    "format_pausing",
    "format_props",
    "format_resources",
    "format_resuming",
    "format_version",
    "parse_error",
    "parse_groups",
    "parse_nodes",
    "parse_owners",
    "parse_props",
    "parse_resources",
    "parse_version",
    "parse_wmic_create",
    "wmic_error_code",
]

CRLF = "\r\n"


# ---------------------------------------------------------------------------------------------
# Status words
# ---------------------------------------------------------------------------------------------

# Spelled as cluster.exe's message table spells them (MSG_STATUS_*). Seen in captures: Up,
# Online. The rest are documented or inferred from CLUSTER_*_STATE.
NODE_STATUS_WORDS: dict[str, NodeState] = {
    "Up": NodeState.Up,  # seen
    "Down": NodeState.Down,
    "Paused": NodeState.Paused,
    "Joining": NodeState.Joining,
    "Unknown": NodeState.Unknown,
}
GROUP_STATUS_WORDS: dict[str, GroupState] = {
    "Online": GroupState.Online,  # seen
    "Offline": GroupState.Offline,  # documented (help text)
    "Failed": GroupState.Failed,
    "Partially Online": GroupState.PartialOnline,  # documented (help text, UCMDB regex)
    "Pending": GroupState.Pending,
    "Unknown": GroupState.Unknown,
}
RESOURCE_STATUS_WORDS: dict[str, ResourceState] = {
    "Online": ResourceState.Online,  # seen
    "Offline": ResourceState.Offline,
    "Failed": ResourceState.Failed,
    "Pending": ResourceState.Pending,
    "Online Pending": ResourceState.OnlinePending,
    "Offline Pending": ResourceState.OfflinePending,
    # CLUSTER_RESOURCE_STATE Inherited/Initializing have no ResourceState member yet.
    "Inherited": ResourceState.Unknown,
    "Initializing": ResourceState.Unknown,
    "Unknown": ResourceState.Unknown,
}


def _word_for(state: NodeState | GroupState | ResourceState) -> str:
    table: Mapping[str, object]
    if isinstance(state, NodeState):
        table = NODE_STATUS_WORDS
    elif isinstance(state, GroupState):
        table = GROUP_STATUS_WORDS
    else:
        table = RESOURCE_STATUS_WORDS
    for word, member in table.items():
        if member is state:
            return word
    raise ValueError(f"no cluster.exe status word for {state!r}")


def _status_patterns(words: Iterable[str]) -> list[tuple[str, str]]:
    # Longest first, so "Partially Online" is tried before "Online"; words match whole, any case.
    ordered = sorted(words, key=len, reverse=True)
    return [(w, r"[ \t]+".join(re.escape(p) for p in w.split(" "))) for w in ordered]


def _status_key(found: str, words: Iterable[str]) -> str:
    flat = " ".join(found.split()).lower()
    for w in words:
        if w.lower() == flat:
            return w
    raise AssertionError(found)  # the regex only matches known words


# ---------------------------------------------------------------------------------------------
# Table location
# ---------------------------------------------------------------------------------------------

_DASH_LINE = re.compile(r"-+(?:[ \t]+-+)*")


@frozen
class _Table:
    widths: tuple[int, ...]
    rows: tuple[str, ...]  # indentation removed, trailing whitespace kept off
    # The same rows with their trailing blanks: a fragment of a name split by a line break may
    # end in blanks that belong to the name.
    raw: tuple[str, ...] = ()


def _lines(text: str) -> list[str]:
    # CRLF and LF end a line; a lone CR does not (no Windows program ends lines with it), so a
    # name that holds one is read with it, not with a line break in its place.
    return text.replace("\r\n", "\n").split("\n")


def _find_table(
    text: str, columns: int | tuple[int, ...], what: str, *, blank_rows: bool = False
) -> _Table:
    """Locate the one table in ``text`` by its line of dashes, never by caption words (those
    are localized). Rows run from the dash line to the first blank line; anything but blank
    lines after that is refused. With ``blank_rows`` a blank line followed by more text is a
    row too (a name holding an empty line prints one); the row readers then refuse what they
    cannot join into a row."""
    lines = _lines(text)
    dashes = [i for i, line in enumerate(lines) if _DASH_LINE.fullmatch(line.strip())]
    if len(dashes) > 1:
        # A row that is only dashes (an owner listing of a node named "-") is a row, not a
        # second table: later dash lines count only when a blank line separates them.
        end = next((i for i in range(dashes[0] + 1, len(lines)) if not lines[i].strip()),
                   len(lines))
        if all(i < end for i in dashes[1:]):
            dashes = dashes[:1]
    if len(dashes) != 1:
        found = "no line of dashes" if not dashes else f"{len(dashes)} lines of dashes"
        raise ParseError(f"cluster.exe {what}: expected one table, found {found}", text)
    dash_line = lines[dashes[0]].rstrip()
    widths = tuple(len(m.group()) for m in re.finditer("-+", dash_line))
    allowed = (columns,) if isinstance(columns, int) else columns
    if len(widths) not in allowed:
        raise ParseError(
            f"cluster.exe {what}: expected a table of {' or '.join(map(str, allowed))} columns,"
            f" the dash line has {len(widths)}",
            text,
        )
    indent = dash_line[: len(dash_line) - len(dash_line.lstrip())]
    rows: list[str] = []
    raw: list[str] = []
    rest = lines[dashes[0] + 1 :]
    for k, line in enumerate(rest):
        if not line.strip():
            extra = [x for x in rest[k:] if x.strip()]
            if extra and blank_rows:
                rows.append("")
                raw.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
                continue
            if extra:
                raise ParseError(
                    f"cluster.exe {what}: unexpected text after the table: {extra[0].strip()!r}",
                    text,
                )
            break
        row = line[len(indent) :] if line.startswith(indent) else line.lstrip()
        rows.append(row.rstrip())
        raw.append(row)
    return _Table(widths=widths, rows=tuple(rows), raw=tuple(raw))


def _ws_runs(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"[ \t]+", text)]


def _choose(
    row: str, text: str, what: str, exact: list[tuple[str, ...]], loose: list[tuple[str, ...]]
) -> tuple[str, ...]:
    """Pick the one reading of a row: one that re-renders to exactly the row wins; failing
    that (tabs, odd spacing) a reading that is unique under looser rules."""
    exact = list(dict.fromkeys(exact))
    if len(exact) > 1:
        # A name that overflows its column can swallow the padding of the one before it
        # ("IP Address 10.0.0.1  SQL" + "Server (INST01) Group" prints like the right
        # reading). Names with a run of blanks are rare, padding is not: drop such readings.
        exact = [r for r in exact if not any("  " in cell for cell in r)] or exact
        if len(exact) > 1:
            raise ParseError(f"cluster.exe {what}: ambiguous row {row!r}", text)
    if exact:
        return exact[0]
    loose = list(dict.fromkeys(loose))
    if len(loose) == 1:
        return loose[0]
    reason = "ambiguous" if loose else "unreadable"
    raise ParseError(f"cluster.exe {what}: {reason} row {row!r}", text)


# ---------------------------------------------------------------------------------------------
# Row layouts (shared by the parsers' consistency check and the printers)
# ---------------------------------------------------------------------------------------------

# Dash runs as cluster.exe prints them (MSG_*_STATUS_HEADER).
NODE_DASHES = (14, 7, 21)
GROUP_DASHES = (20, 15, 6)
RESOURCE_DASHES = (20, 20, 15, 6)


def _node_row(name: str, node_id: str, status: str, dashes: Sequence[int] = NODE_DASHES) -> str:
    # cluster.exe formats "%1!-15s! %2!6s! %3" under dash runs of 14 and 7: the name field is one
    # wider than its dashes and the id one narrower. The two agree for names up to 14 chars
    # (all the samples); for a 15-char name the printf form is what cluster.exe really prints.
    return f"{name:<{dashes[0] + 1}} {node_id:>{dashes[1] - 1}} {status}"


def _group_row(name: str, node: str, status: str, dashes: Sequence[int] = GROUP_DASHES) -> str:
    return f"{name:<{dashes[0]}} {node:<{dashes[1]}} {status}"


def _resource_row(
    name: str, group: str, node: str, status: str, dashes: Sequence[int] = RESOURCE_DASHES
) -> str:
    return f"{name:<{dashes[0]}} {group:<{dashes[1]}} {node:<{dashes[2]}} {status}"


# ---------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------

_NODE_ROW = re.compile(
    r"(?P<name>.*?\S)[ \t]+(?P<id>\d+)[ \t]+(?P<status>"
    + "|".join(p for _w, p in _status_patterns(NODE_STATUS_WORDS))
    + r")",
    re.IGNORECASE | re.DOTALL,
)

Reading = tuple[str, ...]
_RowReader = Callable[[str, _Table], tuple[list[Reading], list[Reading]]]


# What a complete row looks like whatever its status word: "... <node> <padding> <Status>", the
# node column padded to its width before the status (one or two words). A line with no reading
# that has this shape is a row with a status word the parser does not know (another language,
# a new state), never the first line of a name split by a line break, and is refused as such.
_ROW_SHAPE = re.compile(r"\S[ \t]+\S+[ \t]{2,}[^\W\d_]+(?: [^\W\d_]+)?$")
_NODE_ROW_SHAPE = re.compile(r"\S[ \t]+\d+[ \t]+[^\W\d_]+(?: [^\W\d_]+)?$")


def _read_rows(
    table: _Table, text: str, what: str, read: _RowReader, shape: re.Pattern[str] = _ROW_SHAPE
) -> list[Reading]:
    """Read every row with ``read`` (which returns exact and loose readings of one row).

    A name holding a line break (cluster.exe prints names raw) splits its row over several
    lines: the first lines have no status word and no reading at all. Such a fragment is joined
    to the following line(s) with a newline, and the joined row is accepted only if it re-renders
    to exactly those lines (printf pads by the whole name's length, line break included), so an
    unreadable row is never silently merged into its neighbour. A name read this way contains a
    newline, which :func:`clusterlib.wire.cmdline.check_name` refuses: the snapshot reads it,
    no command can name it.
    """
    out: list[Reading] = []
    pending: str | None = None  # the fragments so far, with their trailing blanks
    bare: str | None = None  # the same without (a transport may have dropped them)
    for row, raw in zip(table.rows, table.raw or table.rows, strict=True):
        if pending is not None and bare is not None:
            tried = [f"{pending}\n{row}", f"{bare}\n{row}"]
            results = [(joined, *read(joined, table)) for joined in tried]
            done = next(((j, e) for j, e, _l in results if e), None)
            if done is not None:
                out.append(_choose(done[0], text, what, done[1], []))
                pending = bare = None
            elif any(loose for _j, _e, loose in results) or any(read(row, table)):
                # The row is complete by itself, so the fragments before it belong to no row
                # (a name with a CR LF of its own, say): refused, never swallowed into a name.
                raise ParseError(f"cluster.exe {what}: unreadable row {bare!r}", text)
            else:
                pending, bare = f"{pending}\n{raw}", f"{bare}\n{row}"
            continue
        exact, loose = read(row, table)
        if not exact and not loose:
            if shape.search(row):
                raise ParseError(f"cluster.exe {what}: unreadable row {row!r}", text)
            pending, bare = raw, row
            continue
        out.append(_choose(row, text, what, exact, loose))
    if bare is not None:
        raise ParseError(f"cluster.exe {what}: unreadable row {bare!r}", text)
    return out


def _node_readings(row: str, table: _Table) -> tuple[list[Reading], list[Reading]]:
    m = _NODE_ROW.fullmatch(row)
    if m is None:
        return [], []
    reading = (m.group("name"), m.group("id"), _status_key(m.group("status"), NODE_STATUS_WORDS))
    if _node_row(*reading, dashes=table.widths) == row:
        return [reading], []
    return [], [reading]


def parse_nodes(text: str) -> list[NodeInfo]:
    """Read ``cluster node`` (or ``node N /status``) output into NodeInfo records (name, id,
    state; other fields keep their defaults).

    The table is found by its dash line. A row is ``name  id  status`` read from the right: the
    id is digits and the status one of Up/Down/Paused/Joining/Unknown, so a name may contain
    spaces or run past its column. Only ``Up`` has been seen in real output. A name with a line
    break is read whole (see :func:`_read_rows`).
    """
    table = _find_table(text, 3, "node listing", blank_rows=True)
    return [
        NodeInfo(name=name, state=NODE_STATUS_WORDS[word], id=node_id)
        for name, node_id, word in _read_rows(
            table, text, "node listing", _node_readings, _NODE_ROW_SHAPE
        )
    ]


def _trailing(
    row: str, words: Iterable[str], *, allow_empty_node: bool, nodes: Sequence[str] = ()
) -> list[tuple[str, str, str]]:
    """Every reading of the row's right end as ``<lead> node status``: (lead, node, word).
    A node name is one word, unless ``nodes`` holds a known name with blanks."""
    out: list[tuple[str, str, str]] = []
    spaced = [n for n in nodes if re.search(r"\s", n)]
    for word, pattern in _status_patterns(words):
        m = re.search(r"[ \t]+(\S+)[ \t]+(" + pattern + r")$", row, re.IGNORECASE)
        if m is not None:
            out.append((row[: m.start()], m.group(1), word))
        for node in spaced:
            m = re.search(r"[ \t]+(" + re.escape(node) + r")[ \t]+(" + pattern + r")$", row,
                          re.IGNORECASE)
            if m is not None:
                out.append((row[: m.start()], m.group(1), word))
        if allow_empty_node:
            m = re.search(r"[ \t]+(" + pattern + r")$", row, re.IGNORECASE)
            if m is not None:
                out.append((row[: m.start()], "", word))
    return out


def _group_readings(
    row: str, table: _Table, nodes: Sequence[str] = ()
) -> tuple[list[Reading], list[Reading]]:
    exact: list[Reading] = []
    loose: list[Reading] = []
    for lead, node, word in _trailing(row, GROUP_STATUS_WORDS, allow_empty_node=True,
                                      nodes=nodes):
        if "\n" in row or "\t" in row:
            # A name may hold tabs, or blanks at the ends of its lines: cut by column
            # arithmetic (name padded to its width, one blank, the rest) as well.
            tail = f" {node:<{table.widths[1]}} {word}"
            if row.endswith(tail):
                prefix = row[: len(row) - len(tail)]
                cut = prefix.rstrip(" ") if len(prefix) <= table.widths[0] else prefix
                if cut.strip() and _group_row(cut, node, word, table.widths).rstrip() == row:
                    exact.append((cut, node, word))
            if "\n" in row:
                continue
        name = lead.strip(" \t")
        if not name.strip():
            continue
        reading = (name, node, word)
        if _group_row(name, node, word, table.widths).rstrip() == row:
            exact.append(reading)
        elif node and "\n" not in row:
            loose.append(reading)
    if len(loose) > 1:
        # Spacing was lost (tabs, collapsed blanks): read "X Partially Online" as the
        # two-word status, as HP UCMDB's regex does, rather than as a node named Partially.
        longest = max(len(r[2]) for r in loose)
        loose = [r for r in loose if len(r[2]) == longest]
    return exact, loose


def parse_groups(text: str, *, nodes: Iterable[str] = ()) -> list[GroupInfo]:
    """Read ``cluster group`` or ``cluster group "G"`` output into GroupInfo records (name,
    owner from the Node column, state via GroupState.parse; other fields keep defaults).

    Rows are read from the right (node, then status, which may be two words: ``Partially
    Online``); the group name is the rest, so ``Cluster Group`` and names longer than the
    column work. Where two readings fit (a node named ``Partially``), the one that re-renders to
    the row under the dash-line widths wins. A name with a line break is read whole (see
    :func:`_read_rows`). Leading and trailing blanks of a name cannot be told from the column
    padding: the name is returned without them. Node names are one word (NetBIOS and DNS names
    have no blanks); pass ``nodes`` to read owners whose names have blanks anyway. Only
    ``Online`` has been seen in real output; Offline and Partially Online are documented,
    Failed, Pending and Unknown inferred.
    """
    table = _find_table(text, 3, "group listing", blank_rows=True)
    known = tuple(nodes)

    def read(row: str, table: _Table) -> tuple[list[Reading], list[Reading]]:
        return _group_readings(row, table, known)

    return [
        GroupInfo(name=name, state=GroupState.parse(word), owner=node or None)
        for name, node, word in _read_rows(table, text, "group listing", read)
    ]


def _joined_resource_readings(
    row: str, node: str, word: str, widths: Sequence[int]
) -> list[Reading]:
    """Exact readings of a resource row joined from fragments (a name with a line break), cut
    by column arithmetic: ``name`` padded to its width, one blank, ``group`` padded to its."""
    tail = f" {node:<{widths[2]}} {word}"
    if not row.endswith(tail):
        return []
    lead = row[: len(row) - len(tail)]
    out: list[Reading] = []
    for cut in range(1, len(lead)):
        start = max(cut, widths[0]) + 1
        # A name's own trailing blanks cannot be told from its padding: the shortest cut wins.
        if start >= len(lead) or lead[cut:start].strip(" ") or lead[cut - 1] == " ":
            continue
        rest = lead[start:]
        group = rest.rstrip(" ") if len(rest) <= widths[1] else rest
        name = lead[:cut]
        if name.strip() and group.strip() and (
            _resource_row(name, group, node, word, widths).rstrip() == row
        ):
            out.append((name, group, node, word))
    return out


def parse_resources(
    text: str, *, groups: Iterable[str] | None = None, nodes: Iterable[str] = ()
) -> list[ResourceInfo]:
    """Read ``cluster res`` output into ResourceInfo records (name, group, state, owner).

    Node and status are read from the right. The rest holds two columns that may both contain
    spaces (``Disks K:``, ``Disk Group``); they are split where the result re-renders to exactly
    the row under the dash-line widths, which also handles names longer than their column.
    When a resource name and a group name both overflow and contain spaces the row can be
    genuinely ambiguous (cluster.exe prints the same text for two readings); pass the cluster's
    group names as ``groups`` to settle it, otherwise ParseError. Only ``Online`` has been seen
    in real output.
    """
    table = _find_table(text, 4, "resource listing", blank_rows=True)
    known = None if groups is None else {g.strip().lower() for g in groups}
    node_names = tuple(nodes)

    def read(row: str, table: _Table) -> tuple[list[Reading], list[Reading]]:
        exact: list[Reading] = []
        loose: list[Reading] = []
        for lead, node, word in _trailing(row, RESOURCE_STATUS_WORDS, allow_empty_node=False,
                                          nodes=node_names):
            if "\n" in row or "\t" in row:
                exact += _joined_resource_readings(row, node, word, table.widths)
            if "\n" in row:
                continue
            lead = lead.rstrip(" \t")
            for a, b in _ws_runs(lead):
                name, group = lead[:a], lead[b:]
                if not name.strip() or not group:
                    continue
                reading = (name, group, node, word)
                if _resource_row(name, group, node, word, table.widths).rstrip() == row:
                    exact.append(reading)
                elif ("\t" in lead[a:b] or b - a >= 2) and "\n" not in row:
                    loose.append((name.strip(), group, node, word))
        if known is not None:
            exact = [r for r in exact if r[1].strip().lower() in known]
            loose = [r for r in loose if r[1].strip().lower() in known]
        if len(loose) > 1:
            # Under loose rules only a single wide gap can separate name and group.
            loose = [r for r in loose if not re.search(r"\t| {2}", r[0] + "\0" + r[1])]
        return exact, loose

    return [
        ResourceInfo(name=name, group=group, state=RESOURCE_STATUS_WORDS[word], owner=node)
        for name, group, node, word in _read_rows(table, text, "resource listing", read)
    ]


def parse_owners(text: str, *, nodes: Iterable[str] | None = None) -> list[str]:
    """Read ``/listowners`` output (one node name per row under a single dash run).

    Works for ``res "R" /listowners`` (possible owners, seen in a capture) and ``group "G"
    /listowners`` (preferred owners; layout from the message table only). Node names have no
    blanks (NetBIOS and DNS names cannot), so a row with blanks is refused, unless ``nodes``
    (the cluster's node names) holds exactly that name.
    """
    known = {n.lower() for n in nodes} if nodes is not None else set()
    table = _find_table(text, 1, "owner listing")
    owners: list[str] = []
    for row in table.rows:
        name = row.strip()
        if any(ch.isspace() for ch in name) and name.lower() not in known:
            raise ParseError(f"cluster.exe owner listing: unreadable row {row!r}", text)
        owners.append(name)
    return owners


_INT_VALUE = re.compile(r"(-?\d+) \(0x([0-9a-fA-F]+)\)")


def _prop_value(raw: str) -> str | int:
    # cluster.exe prints numbers as "10 (0xa)" (MSG_PROPERTY_DWORD/LONG/ULARGE_INTEGER). Only a
    # pair whose halves agree is taken as a number, so a string that merely looks alike stays a
    # string unless it is exactly that shape.
    m = _INT_VALUE.fullmatch(raw)
    if m is not None:
        dec, hexv = int(m.group(1)), int(m.group(2), 16)
        if dec == hexv or (dec < 0 and dec & 0xFFFFFFFF == hexv):
            return dec
    return raw


def parse_props(text: str, *, object_name: str | None = None) -> dict[str, str | int]:
    """Read a ``/prop`` or ``/priv`` listing into ``{property: value}``.

    The format is unverified [U]. Known from a public script's regex: lines like
    ``S  SQL Server (TSQ9)    Type                           SQL Server``. cluster.exe's
    message table gives the full layout: a two-character type column (a format letter such as
    S, D, M, B, then ``R`` when read-only), the object name (20 wide), the property name (30
    wide) and the value; the object column may be missing (``T  Name  Value``). Numbers print
    as ``10 (0xa)`` and are returned as int; everything else as str. A property listed on
    several lines (multi-string values, [U]) has its values joined with newlines.

    Pass ``object_name`` when it may be longer than its column and contain spaces, so the row
    can be split exactly.
    """
    table = _find_table(text, (3, 4), "property listing")
    owner_width = table.widths[1] if len(table.widths) == 4 else None
    props: dict[str, str | int] = {}
    for row in table.rows:
        if len(row) < 4 or row[2] != " " or not row[0].isalpha():
            raise ParseError(f"cluster.exe property listing: unreadable row {row!r}", text)
        rest = row[3:]
        if owner_width is not None:
            if object_name is not None and rest.startswith(object_name):
                cut = max(len(object_name), owner_width)
            elif len(rest) > owner_width and rest[owner_width] == " ":
                cut = owner_width
            else:
                gap = re.search(r"[ \t]", rest[owner_width:])
                if gap is None:
                    raise ParseError(
                        f"cluster.exe property listing: unreadable row {row!r}", text
                    )
                cut = owner_width + gap.start()
            rest = rest[cut:]
        m = re.fullmatch(r"[ \t]*(\S+)(?:[ \t]+(.*))?", rest)
        if m is None:
            raise ParseError(f"cluster.exe property listing: unreadable row {row!r}", text)
        name, value = m.group(1), _prop_value((m.group(2) or "").strip())
        if name in props:
            before = props[name]
            if isinstance(before, int) or isinstance(value, int):
                raise ParseError(f"cluster.exe property listing: {name} listed twice", text)
            value = f"{before}\n{value}"
        props[name] = value
    return props


@frozen
class ClusterExeVersion:
    """What ``cluster /ver`` reports: the cluster name, the OS version of the node answering
    (CLUSTERVERSIONINFO Major/Minor/Build/CSD) and the vendor string."""

    cluster_name: str
    major: int
    minor: int
    build: int
    csd: str = ""
    vendor: str = ""

    @property
    def os_version(self) -> OSVersion:
        return OSVersion(major=self.major, minor=self.minor, build=self.build, csd=self.csd)


_VERSION_VALUE = re.compile(r"(\d+)\.(\d+)\s*\(Build\s+(\d+):\s*(.*?)\)")


def parse_version(text: str) -> ClusterExeVersion:
    """Read ``cluster /ver`` output.

    Lines ``Cluster Name:``, ``Cluster Vendor:`` and ``Cluster Version:`` are known from a
    third-party parser's regexes [U]; cluster.exe's message table gives the value shape
    ``5.2 (Build 3790: Service Pack 2)``. English labels only; any order.
    """
    fields: dict[str, str] = {}
    for line in _lines(text):
        m = re.fullmatch(r"\s*Cluster\s+(Name|Vendor|Version):\s*(.*?)\s*", line, re.IGNORECASE)
        if m is not None:
            fields[m.group(1).lower()] = m.group(2)
    missing = [k for k in ("name", "version", "vendor") if k not in fields]
    if missing:
        raise ParseError(f"cluster /ver: no 'Cluster {missing[0].title()}:' line", text)
    v = _VERSION_VALUE.fullmatch(fields["version"])
    if v is None:
        raise ParseError(f"cluster /ver: unreadable version {fields['version']!r}", text)
    return ClusterExeVersion(
        cluster_name=fields["name"],
        major=int(v.group(1)),
        minor=int(v.group(2)),
        build=int(v.group(3)),
        csd=v.group(4),
        vendor=fields["vendor"],
    )


_SYSTEM_ERROR = re.compile(r"System error (\d+) has occurred \(0x([0-9a-fA-F]+)\)\.")
# Language-neutral: the "(0x%1!08.8x!)" insert of MSG_SYSTEM_ERROR, on a line of its own text.
_ERROR_HEX = re.compile(r"\(0x([0-9a-fA-F]{8})\)\.?[ \t]*(?=\r?\n|$)")


def error_codes(stderr: str) -> list[int]:
    """Every Win32 code cluster.exe reported in ``stderr`` ("System error 5013 has occurred
    (0x00001395)."), read from the ``(0x........)`` insert, which a localized cluster.exe keeps
    while translating the words around it. For chained lines, whose exit code is the last
    command's."""
    return [int(m.group(1), 16) for m in _ERROR_HEX.finditer(stderr)]


def parse_error(
    stdout: str, stderr: str, exit_code: int, command: str | None = None
) -> ClusterRefused | None:
    """Map a finished cluster.exe run to the exception tree; None when it succeeded.

    cluster.exe's exit code is the Win32 error code ([V], Exchange scripts). The message is the
    text after ``System error N has occurred (0x...).`` when present (one capture, [V]), else
    whatever cluster.exe printed, else Microsoft's text for the code. An exit code given as an
    HRESULT (0x8007xxxx, or negative as a signed int) is reduced to its Win32 code.
    """
    if exit_code == 0:
        return None
    code = exit_code & 0xFFFFFFFF
    if code >> 16 == 0x8007:
        code &= 0xFFFF
    combined = "\n".join(t for t in (stderr, stdout) if t.strip())
    message = ""
    # The English words are not relied on: a localized cluster.exe translates "System error N
    # has occurred" but keeps the "(0x%08x)." insert, so that ends the line the message follows.
    m = _SYSTEM_ERROR.search(combined) or _ERROR_HEX.search(combined)
    if m is not None:
        after = [ln.strip() for ln in _lines(combined[m.end() :])]
        paragraph: list[str] = []
        for ln in after:
            if ln:
                paragraph.append(ln)
            elif paragraph:
                break
        message = " ".join(paragraph)
    if not message:
        # What cluster.exe printed ("Unexpected token ...") says more than the code's text.
        message = " ".join(combined.split()) or win32.message(code) or (
            f"cluster.exe exited with code {code}"
        )
    return refused_from(message, win32_code=code, command=command)


# ---------------------------------------------------------------------------------------------
# Printers (for the simulator): the layout of the samples, CRLF line endings
# ---------------------------------------------------------------------------------------------

_NODE_HEADER = "Node           Node ID Status"
_GROUP_HEADER = "Group                Node            Status"
_RESOURCE_HEADER = "Resource             Group                Node            Status"


def _dash_line(dashes: Sequence[int]) -> str:
    return " ".join("-" * w for w in dashes)


def _text(lines: Iterable[str]) -> str:
    # The blank line after a table matches the resource capture and cluster.exe's
    # MSG_OPTION_FOOTER; the node capture was trimmed by its author, so this is inferred.
    return CRLF.join([*lines, ""]) + CRLF


def _node_table(nodes: Iterable[NodeInfo]) -> list[str]:
    rows = [_node_row(n.name, n.id, _word_for(n.state)) for n in nodes]
    return [_NODE_HEADER, _dash_line(NODE_DASHES), *rows]


def _group_table(groups: Iterable[GroupInfo]) -> list[str]:
    rows = [_group_row(g.name, g.owner or "", _word_for(g.state)) for g in groups]
    return [_GROUP_HEADER, _dash_line(GROUP_DASHES), *rows]


def format_nodes(nodes: Iterable[NodeInfo]) -> str:
    """``cluster node`` output: caption, blank line, header, dashes, one row per node.

    Rows are ``%-15s %6s %s`` as cluster.exe's message table has them; a long name is printed in
    full followed by one space.
    """
    return _text(["Listing status for all available nodes:", "", *_node_table(nodes)])


def format_node(node: NodeInfo) -> str:
    """``cluster node "N" /status`` output (caption from the message table, not captured)."""
    return _text([f"Listing status for node '{node.name}':", "", *_node_table([node])])


def format_groups(groups: Iterable[GroupInfo]) -> str:
    """``cluster group`` output; rows ``%-20s %-15s %s``."""
    return _text(["Listing status for all available resource groups:", "", *_group_table(groups)])


def format_group(group: GroupInfo) -> str:
    """``cluster group "G"`` output: "Listing status for resource group 'G':" then the table."""
    return _text([f"Listing status for resource group '{group.name}':", "", *_group_table([group])])


def format_resources(resources: Iterable[ResourceInfo]) -> str:
    """``cluster res`` output; rows ``%-20s %-20s %-15s %s``."""
    rows = [
        _resource_row(r.name, r.group, r.owner or "", _word_for(r.state)) for r in resources
    ]
    return _text(
        [
            "Listing status for all available resources:",
            "",
            _RESOURCE_HEADER,
            _dash_line(RESOURCE_DASHES),
            *rows,
        ]
    )


def format_moving(group: GroupInfo) -> str:
    """What ``group "G" /moveto:N`` prints: "Moving resource group 'G'..." and the group's
    status row. The caption is from the message table; the trailing status table is how
    cluster.exe reports the result as far as is known [U]."""
    return _text([f"Moving resource group '{group.name}'...", "", *_group_table([group])])


def format_pausing(node: NodeInfo) -> str:
    """What ``node "N" /pause`` prints ("Pausing node 'N'..." then the node row; [U] as above)."""
    return _text([f"Pausing node '{node.name}'...", "", *_node_table([node])])


def format_resuming(node: NodeInfo) -> str:
    """What ``node "N" /resume`` prints ("Resuming node 'N'..." then the node row; [U])."""
    return _text([f"Resuming node '{node.name}'...", "", *_node_table([node])])


def format_owners(kind: Literal["resource", "group"], name: str, owners: Iterable[str]) -> str:
    """``/listowners`` output.

    ``resource``: "Listing possible owners for resource 'R':" directly followed by the
    "Possible Owner Nodes" header (as in the capture). ``group``: "Listing preferred owners for
    resource group 'G':", a blank line, "Preferred Owner Nodes" (message table only).
    """
    if kind == "resource":
        head = [f"Listing possible owners for resource '{name}':", "Possible Owner Nodes"]
    elif kind == "group":
        head = [
            f"Listing preferred owners for resource group '{name}':",
            "",
            "Preferred Owner Nodes",
        ]
    else:
        raise ValueError(f"kind must be 'resource' or 'group', got {kind!r}")
    return _text([*head, "-" * len(head[-1]), *owners])


_PROP_KIND_TITLES = {
    "cluster": "Cluster",
    "node": "Node",
    "group": "Resource Group",
    "resource": "Resource",
}


def _prop_cells(value: str | int) -> tuple[str, str]:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if 0 <= value <= 0xFFFFFFFF:
            return "D", f"{value} (0x{value:x})"
        if -0x80000000 <= value < 0:
            return "L", f"{value} (0x{value & 0xFFFFFFFF:x})"
        if 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            return "U", f"{value} (0x{value:x})"
        raise ValueError(f"property value {value} does not fit a cluster property")
    return "S", value


def format_props(
    object_name: str,
    props: Mapping[str, str | int],
    *,
    kind: Literal["cluster", "node", "group", "resource"] = "cluster",
    private: bool = False,
) -> str:
    """A ``/prop`` (or ``/priv`` with ``private=True``) listing of one object.

    Layout from cluster.exe's message table ([U], never captured whole): ``T  <Kind>  Name
    Value`` with dash runs 2/20/30/23; rows ``<letter>  %-20s %-30s <value>``, numbers as
    ``10 (0xa)``. Letters used: S string, D dword, L negative long, U 64-bit.
    """
    title = _PROP_KIND_TITLES[kind]
    caption = "Listing private properties for" if private else "Listing properties for"
    lines = [
        f"{caption} '{object_name}':",
        "",
        f"T  {title:<20} {'Name':<30} Value",
        _dash_line((2, 20, 30, 23)),
    ]
    for name, value in props.items():
        letter, shown = _prop_cells(value)
        lines.append(f"{letter}  {object_name:<20} {name:<30} {shown}".rstrip())
    return _text(lines)


def format_version(version: ClusterExeVersion) -> str:
    """``cluster /ver`` output, in the order of cluster.exe's message table (Name, Version,
    Vendor). No capture exists [U]; ``Microsoft(R) Cluster service`` as the vendor is a guess
    left to the caller."""
    return CRLF.join(
        [
            f"Cluster Name:     {version.cluster_name}",
            f"Cluster Version:  {version.major}.{version.minor}"
            f" (Build {version.build}: {version.csd})",
            f"Cluster Vendor:   {version.vendor}",
        ]
    ) + CRLF


def format_error(code: int) -> str:
    """What cluster.exe prints when a call fails with Win32 ``code``.

    ``System error 5050 has occurred (0x000013ba).``, a blank line, then the system message
    (lower-case hex as in cluster.exe's ``0x%1!08.8x!`` and the captured
    ``System error 5065 has occurred (0x000013c9).``). For a code the table does not know,
    the message line is what cluster.exe prints when FormatMessage fails (317,
    ERROR_MR_MID_NOT_FOUND), inferred from its message table.
    """
    message = win32.message(code) or f"Error 0x13d formatting string for error code 0x{code:x}"
    return CRLF.join([f"System error {code} has occurred (0x{code:08x}).", "", message]) + CRLF




# ---------------------------------------------------------------------------------------------
# wmic: what Win32_Process.Create answers (the line itself is built in clusterlib.wire.cmdline)
# ---------------------------------------------------------------------------------------------

#: ReturnValue of Win32_Process.Create as documented ("Create method of the Win32_Process class",
#: learn.microsoft.com/windows/win32/cimwin32prov/create-method-in-class-win32-process [V]).
WMI_CREATE_RESULTS: dict[int, str] = {
    0: "Successful completion",
    2: "Access denied",
    3: "Insufficient privilege",
    8: "Unknown failure",
    9: "Path not found",
    21: "Invalid parameter",
}

# The answer block is MOF text ("instance of __PARAMETERS { Name = value; };"), which WMIC does
# not translate; the lines around it ("Executing (Win32_Process)->Create()", "Method execution
# successful.", "Out Parameters:") are localized, so they are not relied on. Layout from WMIC's
# output as published in many admin guides [P]; not captured from a live system here.
_WMIC_BLOCK = re.compile(r"instance\s+of\s+__PARAMETERS\s*\{(?P<body>[^{}]*)\}\s*;", re.IGNORECASE)
_WMIC_FIELD = re.compile(r"\s*(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>[^;]*?)\s*;\s*")


def parse_wmic_create(text: str) -> tuple[int, int | None]:
    """Read what ``wmic ... process call create`` prints: ``(ReturnValue, ProcessId)``.

    Expected (English WMIC; only the ``instance of __PARAMETERS`` block is read)::

        Executing (Win32_Process)->Create()
        Method execution successful.
        Out Parameters:
        instance of __PARAMETERS
        {
                ProcessId = 1234;
                ReturnValue = 0;
        };

    ``ProcessId`` is None when absent (a failed Create() returns no id). ReturnValue 0 means
    the process started; other values are in :data:`WMI_CREATE_RESULTS`. Anything without
    exactly one such block holding a numeric ReturnValue (WMIC's ``ERROR:`` / ``Description =``
    answer for an unreachable node or denied access, truncated text) raises ParseError with
    the text.
    """
    blocks = list(_WMIC_BLOCK.finditer(text))
    if len(blocks) != 1:
        found = "no" if not blocks else str(len(blocks))
        raise ParseError(
            f"wmic process call create: expected one 'instance of __PARAMETERS' block, found {found}",
            text,
        )
    body = blocks[0].group("body")
    fields: dict[str, str] = {}
    pos = 0
    for m in _WMIC_FIELD.finditer(body):
        if m.start() != pos:
            break
        fields[m.group("name").lower()] = m.group("value")
        pos = m.end()
    if body[pos:].strip():
        raise ParseError(
            f"wmic process call create: unreadable out parameters {body[pos:].strip()!r}", text
        )
    raw = fields.get("returnvalue")
    if raw is None or not raw.isdigit():
        raise ParseError("wmic process call create: no numeric ReturnValue", text)
    pid_raw = fields.get("processid")
    if pid_raw is not None and not pid_raw.isdigit():
        raise ParseError(f"wmic process call create: ProcessId {pid_raw!r} is not a number", text)
    return int(raw), (int(pid_raw) if pid_raw is not None else None)


_WMIC_ERROR_CODE = re.compile(r"^\s*Code\s*=\s*0x([0-9a-fA-F]{1,8})\s*$", re.MULTILINE)


def wmic_error_code(text: str) -> int | None:
    """The error WMIC reports instead of an answer (``ERROR:`` then ``Code = 0x800706ba``,
    ``Description = The RPC server is unavailable.``, ``Facility = Win32``), as a number: the
    HRESULT, reduced to its Win32 code when it is one (0x8007xxxx -> 1722). Read from the
    ``Code = 0x...`` line, not from the description, which is localized. None when there is no
    such line. Layout as WMIC on Windows XP / Server 2003 prints it [P]."""
    m = _WMIC_ERROR_CODE.search(text)
    if m is None:
        return None
    code = int(m.group(1), 16)
    return code & 0xFFFF if code >> 16 == 0x8007 else code
