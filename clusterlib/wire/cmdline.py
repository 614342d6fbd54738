"""Building and quoting cmd.exe lines (cluster.exe, wmic): the one place a name is checked and quoted.

Three parts, each usable alone:

* **Name checks** (:func:`check_name`, :data:`BEST_FIT`): which characters cmd.exe quoting can
  carry, and why each refused one is refused.
* **Quoting** (:func:`quote_arg`, :func:`build_line`, :func:`split_line`): the one place a
  cmd.exe line is put together. Object names are wrapped in :class:`Name` (or one of its
  kinds, :class:`NodeName`, :class:`GroupName`, ...) so they are validated and quoted; plain
  strings are fixed words and switches and are never quoted. :func:`split_line` reads a line
  back the way cluster.exe's lexer does (the simulator uses it).
* **Command builders** (``*_command``, :func:`wmic_process_create`): one function per
  cluster.exe command the library uses, and the wmic line that starts a program on a node
  without WinRM.

Reading and printing what cluster.exe and wmic print is :mod:`clusterlib.wire.cluster_text`.

Evidence: cluster.exe's own command-line lexer (``cmdline.cpp``, Windows Server 2003 source found
in the public code index, id 8242193298), the Exchange DAG scripts' use of ``node /pause`` and
``/resume`` ([V]), cluster.exe's help text, and Microsoft's best-fit tables (see
:data:`BEST_FIT`). Where a rule rests on the source alone and was never run against a live
cluster.exe, the docstring says so.
"""

from __future__ import annotations

import re
import unicodedata

from attrs import frozen

from clusterlib.errors import ParseError, UnsafeName
from clusterlib.wire.records import CmdLine

__all__ = [
    "BEST_FIT",
    "PROGRAM",
    "ClusterName",
    "GroupName",
    "Name",
    "NodeName",
    "Part",
    "PropValue",
    "ResourceName",
    "SetProp",
    "Switch",
    "build_line",
    "check_name",
    "cluster_private_props_command",
    "group_owners_command",
    "group_props_command",
    "group_status_command",
    "list_groups_command",
    "list_nodes_command",
    "list_resources_command",
    "move_group_command",
    "node_props_command",
    "node_status_command",
    "pause_node_command",
    "quote_arg",
    "resource_owners_command",
    "resume_node_command",
    "set_cluster_private_prop_command",
    "split_line",
    "version_command",
    "wmic_process_create",
]

# "cluster.exe", not "cluster": cmd.exe tries PATHEXT in order in the current directory first,
# so a bare "cluster" could run a stray cluster.com or cluster.bat.
PROGRAM = "cluster.exe"

# ---------------------------------------------------------------------------------------------
# Quoting
# ---------------------------------------------------------------------------------------------

# Why each character is refused. A name is always sent inside double quotes, and cluster.exe's
# own lexer (cmdline.cpp) reads a quoted token up to the next '"', so ':', ',', '=', '/' and
# spaces are carried fine. What breaks is cmd.exe, which sees the line first:
_REFUSED: dict[str, str] = {
    '"': "it would end the quoting early: cmd.exe would then see the rest of the name unquoted,"
    " and cluster.exe's doubled-quote escape is not understood by cmd.exe",
    "%": "cmd.exe expands %VARIABLE% even inside double quotes and has no escape for it there",
    "!": "with delayed expansion on (cmd /V:ON or the DelayedExpansion registry value) cmd.exe"
    " expands !VARIABLE! even inside double quotes, and the escape differs between modes",
    # ^ & | < > are literal inside double quotes, but only while cmd.exe's quote state is
    # "inside". Any layer that re-quotes or strips quotes on the way (cmd /c quote stripping,
    # PowerShell passing arguments to a native program, a wrapper script) flips that state,
    # and then these become command separators, pipes and redirections: a name would turn into
    # a second command. '^' is also eaten inside quotes when delayed expansion is on. Refusing
    # them keeps the line safe in every context; the PowerShell dialect can carry such names.
    "^": "cmd.exe's escape character; consumed inside quotes when delayed expansion is on,"
    " and an escape outside them",
    "&": "a command separator to cmd.exe whenever the quoting is lost on the way",
    "|": "a pipe to cmd.exe whenever the quoting is lost on the way",
    "<": "a redirection to cmd.exe whenever the quoting is lost on the way",
    ">": "a redirection to cmd.exe whenever the quoting is lost on the way",
}
_CONTROL_REASON = (
    "cmd.exe ends a command line at a newline or carriage return and cannot carry NUL;"
    " other control characters (tab included) would corrupt the column layout the output is"
    " read back from"
)
_ALLOWED_NOTE = (
    "double quote, %, !, ^, &, |, <, >, control characters and the Unicode look-alikes Windows"
    " may convert into them (clusterlib.wire.cmdline.BEST_FIT) are not allowed"
)


# Unicode characters Windows may turn into one of the characters above. A program that reads
# its command line as ANSI (GetCommandLineA, an ANSI main(), or any layer that converts with
# WideCharToMultiByte without WC_NO_BEST_FIT_CHARS) gets the system code page's "best fit" for
# characters the code page lacks: U+FF02 FULLWIDTH QUOTATION MARK becomes '"', U+FF05 '%',
# U+FF3C '\\'. A name that passed the rules above as Unicode could then end the quoting or
# expand a variable after the conversion.
#
# Source: Microsoft's best-fit tables published by unicode.org, Public/MAPPINGS/VENDORS/MICSFT/
# WindowsBestFit/bestfit<CP>.txt (WCTABLE section: Unicode -> code page byte), for every
# "ANSI" code page there: 874, 932, 936, 949, 950 and 1250-1258. Listed: every character from
# U+0080 up whose best fit in at least one of them is a refused ASCII character or a control
# character (0x00-0x1F, 0x7F), with the code pages after the '#'. The cluster's code page is not
# known in advance, so the union is refused where the best fit is one of the refused characters
# or a newline, carriage return or NUL (see _best_fit_refusal). The OEM code pages (437, 850:
# the console's) have no such published table; they are not the ones an ANSI command line is
# converted with [P].
# A best fit to '\\' (yen sign in 932, won sign in 949) is listed for completeness: '\\' is
# allowed in names, so it only matters where '\\' is refused (the end of a wmic command line).
BEST_FIT: dict[str, str] = {
    "\u00a1": "!",  # inverted exclamation mark: 932 950 1250
    "\u00a5": "\\",  # yen sign: 932
    "\u00a6": "|",  # broken bar: 932 936 949 950
    "\u00a7": "\x15",  # section sign: 874
    "\u00b6": "\x14",  # pilcrow sign: 874
    "\u01c0": "|",  # latin letter dental click: 1250 1252 1254
    "\u01c3": "!",  # latin letter retroflex click: 1250 1252 1254
    "\u02ba": "\"",  # modifier letter double prime: 1250 1252 1254
    "\u02c4": "^",  # modifier letter up arrowhead: 1250 1252 1254
    "\u02c6": "^",  # modifier letter circumflex accent: 1250
    "\u02c7": "^",  # caron: 1254
    "\u02d8": "^",  # breve: 1254
    "\u0302": "^",  # combining circumflex accent: 1250 1252 1254
    "\u030e": "\"",  # combining double vertical line above: 1250 1252
    "\u066a": "%",  # arabic percent sign: 1250 1252 1254
    "\u203c": "!",  # double exclamation mark: 1250 1251 1253 1254; also '\x13' in 874
    "\u20a9": "\\",  # won sign: 949
    "\u2190": "<",  # leftwards arrow: 1251 1253; also '\x1b' in 874
    "\u2191": "^",  # upwards arrow: 1250 1251 1253 1254; also '\x18' in 874
    "\u2192": ">",  # rightwards arrow: 1251 1253; also '\x1a' in 874
    "\u2193": "\x19",  # downwards arrow: 874
    "\u2194": "\x1d",  # left right arrow: 874
    "\u2195": "|",  # up down arrow: 1250 1254; also '\x12' in 874
    "\u21a8": "|",  # up down arrow with base: 1250 1254; also '\x17' in 874
    "\u2216": "\\",  # set minus: 1250 1252 1254
    "\u221f": "\x1c",  # right angle: 874
    "\u2223": "|",  # divides: 1250 1252 1254
    "\u2302": "\x7f",  # house: 874
    "\u2303": "^",  # up arrowhead: 1250 1252 1254
    "\u2329": "<",  # left-pointing angle bracket: 1250 1252 1254
    "\u232a": ">",  # right-pointing angle bracket: 1250 1252 1254
    "\u25ac": "\x16",  # black rectangle: 874
    "\u25b2": "^",  # black up-pointing triangle: 1250 1251 1253 1254; also '\x1e' in 874
    "\u25ba": ">",  # black right-pointing pointer: 1250 1251 1253 1254; also '\x10' in 874
    "\u25bc": "\x1f",  # black down-pointing triangle: 874
    "\u25c4": "<",  # black left-pointing pointer: 1250 1251 1253 1254; also '\x11' in 874
    "\u25cb": "\x09",  # white circle: 874
    "\u25d8": "\x08",  # inverse bullet: 874
    "\u25d9": "\x0a",  # inverse white circle: 874
    "\u263a": "\x01",  # white smiling face: 874
    "\u263b": "\x02",  # black smiling face: 874
    "\u263c": "\x0f",  # white sun with rays: 874
    "\u2640": "\x0c",  # female sign: 874
    "\u2642": ">",  # male sign: 1250 1251 1253 1254; also '\x0b' in 874
    "\u2660": "\x06",  # black spade suit: 874
    "\u2663": "\x05",  # black club suit: 874
    "\u2665": "\x03",  # black heart suit: 874
    "\u2666": "\x04",  # black diamond suit: 874
    "\u266a": "\x0d",  # eighth note: 874
    "\u266b": "\x0e",  # beamed eighth notes: 874
    "\u2758": "|",  # light vertical bar: 1250 1252 1254
    "\u3008": "<",  # left angle bracket: 1250 1252 1254
    "\u3009": ">",  # right angle bracket: 1250 1252 1254
    "\u301d": "\"",  # reversed double prime quotation mark: 1254
    "\u301e": "\"",  # double prime quotation mark: 1254
    "\uff01": "!",  # fullwidth exclamation mark: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff02": "\"",  # fullwidth quotation mark: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff05": "%",  # fullwidth percent sign: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff06": "&",  # fullwidth ampersand: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff1c": "<",  # fullwidth less-than sign: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff1e": ">",  # fullwidth greater-than sign: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff3c": "\\",  # fullwidth reverse solidus: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff3e": "^",  # fullwidth circumflex accent: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
    "\uff5c": "|",  # fullwidth vertical line: 874 1250 1251 1252 1253 1254 1255 1256 1257 1258
}


_LINE_BREAKERS = "\n\r\0"


def _best_fit_refusal(ch: str) -> str | None:
    target = BEST_FIT.get(ch)
    # Only the control characters that end or cut a command line count: a best fit to another
    # control character (the Thai code page 874 maps the section and pilcrow signs, common in
    # names, to 0x15 and 0x14) cannot split or inject anything.
    if target is None or not (target in _REFUSED or target in _LINE_BREAKERS):
        return None
    shown = _describe_char(target)
    return (
        f"Windows' best-fit conversion to an ANSI code page (WideCharToMultiByte without"
        f" WC_NO_BEST_FIT_CHARS) may turn it into {shown}, which cmd.exe or the program would"
        " then read as that character"
    )


def _describe_char(ch: str) -> str:
    names = {"\n": "newline", "\r": "carriage return", "\t": "tab", "\0": "NUL"}
    if ch in names:
        return f"{ch!r} ({names[ch]})"
    return f"{ch!r} ({unicodedata.name(ch, f'U+{ord(ch):04X}').lower()})"


def check_name(value: str, kind: str = "name", *, allow_empty: bool = False) -> str:
    """Return ``value`` if cmd.exe quoting can carry it to cluster.exe, else raise UnsafeName.

    ``kind`` ("node name", "group name", ...) only shapes the message. Spaces, non-ASCII letters,
    ``: , = / \\ ( )`` and the like are allowed: they travel inside double quotes.
    """
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, not {type(value).__name__}")
    if not value and not allow_empty:
        raise UnsafeName(f"{kind} is empty: cluster.exe needs a non-empty name")
    for ch in value:
        if ch in _REFUSED:
            reason = _REFUSED[ch]
        elif unicodedata.category(ch) == "Cc":
            reason = _CONTROL_REASON
        elif (best_fit := _best_fit_refusal(ch)) is not None:
            reason = best_fit
        else:
            continue
        raise UnsafeName(
            f"{kind} {value!r} cannot be sent through cmd.exe to cluster.exe: it contains"
            f" {_describe_char(ch)}, which is not allowed because {reason}."
            f" In names, {_ALLOWED_NOTE}."
        )
    return value


def quote_arg(value: str) -> str:
    """Validate a name (see :func:`check_name`) and return it in double quotes.

    Every name is quoted, even ``NODE1``: cluster.exe's lexer treats a token that starts with
    ``"`` as a plain parameter, never as a ``/switch``, so a name like ``/evict`` stays a name.
    """
    return f'"{check_name(value)}"'


@frozen
class Name:
    """An object name (node, group, resource, cluster) for :func:`build_line`.

    Validated when made (raises :class:`~clusterlib.errors.UnsafeName`) and always quoted on
    the line. ``"/moveto:" + NodeName("NODE 2")`` gives a :class:`Switch` that renders as
    ``/moveto:"NODE 2"``, so the natural spelling stays safe.
    """

    value: str
    kind = "name"

    def __attrs_post_init__(self) -> None:
        check_name(self.value, self.kind)

    def render(self) -> str:
        return f'"{self.value}"'

    def plain(self) -> str:
        """The token cluster.exe's lexer reads back (quotes removed)."""
        return self.value

    def __radd__(self, prefix: str) -> Switch:
        match = _ATTACH.fullmatch(prefix) if isinstance(prefix, str) else None
        if match is None:
            return NotImplemented
        return Switch(match.group(1), self)

    def __str__(self) -> str:
        return self.value


class NodeName(Name):
    kind = "node name"


class GroupName(Name):
    kind = "group name"


class ResourceName(Name):
    kind = "resource name"


class ClusterName(Name):
    kind = "cluster name"


@frozen
class PropValue(Name):
    """A property value for ``/priv Name="value"``: same rules as names, but may be empty
    (cluster.exe's help: 'Use "" to specify empty values')."""

    kind = "property value"

    def __attrs_post_init__(self) -> None:
        check_name(self.value, self.kind, allow_empty=True)


_SWITCH_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_ATTACH = re.compile(r"/([A-Za-z][A-Za-z0-9]*):")
_PROP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._:/=,+-]*")


@frozen
class Switch:
    """A ``/switch`` with an optional name attached: ``/moveto:"NODE 2"``, ``/wait:60``, ``/prop``.

    A name attached to a switch is quoted after the colon, ``/moveto:"NODE 2"``, not as a
    whole token (``"/moveto:NODE 2"``). cluster.exe reads its own command line (cmdline.cpp,
    Windows Server 2003 source): a token is an option only if it *starts* with the option
    character, and a quoted part anywhere in a token is appended to it (``hel"lo wor"ld`` is
    ``hello world``). So ``/moveto:"NODE 2"`` is option ``moveto`` with value ``NODE 2``, while
    ``"/moveto:NODE 2"`` would be read as a plain parameter (a name). This follows the source
    and the documented ``Name="value"`` property syntax; it has not been run against a live
    cluster.exe.
    """

    word: str
    value: Name | int | None = None

    def __attrs_post_init__(self) -> None:
        if not _SWITCH_WORD.fullmatch(self.word):
            raise ValueError(f"switch word must be letters and digits, got {self.word!r}")
        if isinstance(self.value, bool) or (isinstance(self.value, int) and self.value < 0):
            raise ValueError(f"/{self.word} takes a non-negative integer, got {self.value!r}")

    def render(self) -> str:
        if self.value is None:
            return f"/{self.word}"
        if isinstance(self.value, Name):
            return f"/{self.word}:{self.value.render()}"
        return f"/{self.word}:{self.value}"

    def plain(self) -> str:
        if self.value is None:
            return f"/{self.word}"
        shown = self.value.plain() if isinstance(self.value, Name) else str(self.value)
        return f"/{self.word}:{shown}"


@frozen
class SetProp:
    """``Name="value"`` in a property list (``/priv Name="value"``); ints go as ``Name=5:DWORD``.

    The ``:DWORD`` suffix is cluster.exe's documented format syntax; without it a new property
    would be created as a string.
    """

    name: str
    value: PropValue | int

    def __attrs_post_init__(self) -> None:
        if not _PROP_NAME.fullmatch(self.name):
            raise ValueError(f"property name must be an identifier, got {self.name!r}")
        if isinstance(self.value, bool) or (
            isinstance(self.value, int) and not 0 <= self.value <= 0xFFFFFFFF
        ):
            raise ValueError(f"{self.name}: a DWORD must be 0..4294967295, got {self.value!r}")

    def render(self) -> str:
        if isinstance(self.value, PropValue):
            return f"{self.name}={self.value.render()}"
        return f"{self.name}={self.value}:DWORD"

    def plain(self) -> str:
        if isinstance(self.value, PropValue):
            return f"{self.name}={self.value.plain()}"
        return f"{self.name}={self.value}:DWORD"


Part = str | Name | Switch | SetProp


def build_line(*parts: Part | None) -> str:
    """Join parts into one cmd.exe line; the only place such lines are made.

    * :class:`Name` (and kinds): validated when made, always double-quoted.
    * :class:`Switch` / :class:`SetProp`: ``/word``, ``/word:"name"``, ``/wait:60``,
      ``Name="value"``.
    * ``str``: a fixed word written as is (``cluster.exe``, ``group``, ``/status``). It must look
      like one (letters, digits, ``/ : . _ = , + -``); anything else is refused with ValueError,
      because a name passed as a plain string is a bug: it would bypass quoting.
    * ``None`` is skipped, so optional parts can be written inline.
    """
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, (Name, Switch, SetProp)):
            out.append(part.render())
        elif isinstance(part, str):
            if not _LITERAL.fullmatch(part):
                raise ValueError(
                    f"fixed word {part!r} is not a plain word; wrap names in Name/NodeName/"
                    "GroupName/... so they are validated and quoted"
                )
            out.append(part)
        else:
            raise TypeError(f"cannot put {type(part).__name__} on a cluster.exe line")
    return " ".join(out)


def split_line(line: str) -> list[str]:
    """Split a line the way cluster.exe's lexer reads it, with quotes removed.

    Tokens are separated by spaces or tabs outside quotes. A ``"`` anywhere starts a quoted
    part that runs to the next single ``"`` and is appended to the current token; inside it,
    ``""`` is one literal quote (cmdline.cpp's ReadQuotedToken). So ``/moveto:"NODE 2"`` gives
    ``/moveto:NODE 2`` and ``"SQL Group 1"`` gives ``SQL Group 1``. An unclosed quote raises
    ParseError, as cluster.exe refuses it ("Closing quote not found").

    ``split_line(build_line(*parts)) == [part.plain() or the fixed word, ...]`` for every part
    :func:`build_line` accepts.
    """
    tokens: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return tokens
        token: list[str] = []
        while i < n and line[i] not in " \t":
            if line[i] != '"':
                token.append(line[i])
                i += 1
                continue
            i += 1
            while True:
                if i >= n:
                    raise ParseError("closing quote not found in cluster.exe command line", line)
                if line[i] == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        token.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                token.append(line[i])
                i += 1
        tokens.append("".join(token))


# ---------------------------------------------------------------------------------------------
# Command builders
# ---------------------------------------------------------------------------------------------


def _prefix(cluster: str | None) -> tuple[str, Switch | None]:
    return PROGRAM, (Switch("cluster", ClusterName(cluster)) if cluster is not None else None)


def list_nodes_command(*, cluster: str | None = None) -> str:
    """``cluster.exe [/cluster:"C"] node``: status of every node."""
    return build_line(*_prefix(cluster), "node")


def node_status_command(node: str, *, cluster: str | None = None) -> str:
    """``cluster.exe node "N" /status``: one node's status row."""
    return build_line(*_prefix(cluster), "node", NodeName(node), "/status")


def node_props_command(node: str, *, cluster: str | None = None) -> str:
    """``cluster.exe node "N" /prop``: a node's common properties (listing format [U])."""
    return build_line(*_prefix(cluster), "node", NodeName(node), "/prop")


def pause_node_command(node: str, *, cluster: str | None = None) -> str:
    """``cluster.exe node "N" /pause`` (Exchange DAG scripts, [V])."""
    return build_line(*_prefix(cluster), "node", NodeName(node), "/pause")


def resume_node_command(node: str, *, cluster: str | None = None) -> str:
    """``cluster.exe node "N" /resume`` (Exchange DAG scripts, [V]); exit code 5058 if the node
    was not paused."""
    return build_line(*_prefix(cluster), "node", NodeName(node), "/resume")


def list_groups_command(*, cluster: str | None = None) -> str:
    """``cluster.exe group``: status of every group."""
    return build_line(*_prefix(cluster), "group")


def group_status_command(group: str, *, cluster: str | None = None) -> str:
    """``cluster.exe group "G" /status``: one group's status row."""
    return build_line(*_prefix(cluster), "group", GroupName(group), "/status")


def group_props_command(group: str, *, cluster: str | None = None) -> str:
    """``cluster.exe group "G" /prop``: a group's common properties."""
    return build_line(*_prefix(cluster), "group", GroupName(group), "/prop")


def group_owners_command(group: str, *, cluster: str | None = None) -> str:
    """``cluster.exe group "G" /listowners``: the group's *preferred* owners."""
    return build_line(*_prefix(cluster), "group", GroupName(group), "/listowners")


def move_group_command(
    group: str, node: str, *, wait_seconds: int | None = None, cluster: str | None = None
) -> str:
    """``cluster.exe group "G" /moveto:"N" [/wait:S]``.

    Without ``wait_seconds`` cluster.exe waits 20 s (Win2003 help, [V]); whether a timeout gives
    a non-zero exit code is unknown, so callers poll the group afterwards regardless.
    """
    wait = Switch("wait", wait_seconds) if wait_seconds is not None else None
    return build_line(
        *_prefix(cluster), "group", GroupName(group), Switch("moveto", NodeName(node)), wait
    )


def list_resources_command(*, cluster: str | None = None) -> str:
    """``cluster.exe res``: status of every resource."""
    return build_line(*_prefix(cluster), "res")


def resource_owners_command(resource: str, *, cluster: str | None = None) -> str:
    """``cluster.exe res "R" /listowners``: the resource's *possible* owners."""
    return build_line(*_prefix(cluster), "res", ResourceName(resource), "/listowners")


def version_command(*, cluster: str | None = None) -> str:
    """``cluster.exe /ver``."""
    return build_line(*_prefix(cluster), "/ver")


def cluster_private_props_command(*, cluster: str | None = None) -> str:
    """``cluster.exe /priv``: the cluster's private properties."""
    return build_line(*_prefix(cluster), "/priv")


def set_cluster_private_prop_command(
    name: str, value: str | int, *, cluster: str | None = None
) -> str:
    """``cluster.exe /priv Name="value"`` (or ``Name=5:DWORD``); the value obeys the name rules
    of :func:`check_name` except that it may be empty."""
    prop = SetProp(name, value if isinstance(value, int) else PropValue(value))
    return build_line(*_prefix(cluster), "/priv", prop)



# ---------------------------------------------------------------------------------------------
# wmic: starting a program on a node that has no WinRM (Windows 2000)
# ---------------------------------------------------------------------------------------------

# Characters refused in a wmic line on top of check_name's (which already refuses '"', '%',
# '!', '^', '&', '|', '<', '>' and control characters). WMIC reads its own command line and
# separates method arguments with commas; whether a comma inside the quoted CommandLine reaches
# Create() whole is not verified [P], so it is refused rather than guessed.
_WMIC_LINE_REFUSED = {
    ",": "WMIC separates method arguments with commas and may split the command line there",
}
# /node: takes a host name. A leading '@' makes WMIC read a node list from a file and ',' separates
# several nodes (WMIC's /NODE help, learn.microsoft.com "WMIC" command reference [V]); host names
# (NetBIOS or DNS) need nothing beyond letters, digits, '-', '.' and '_'.
_WMIC_NODE = re.compile(r"[^\W_](?:[\w.-]*)")


def wmic_process_create(node: str, line: str) -> CmdLine:
    """``wmic /node:"NODE" process call create "LINE"``: start ``line`` on ``node`` through WMI
    over DCOM (Win32_Process.Create), the channel a Windows 2000 node has without WinRM.

    Run on a management host (Windows XP / Server 2003 or later ship wmic.exe; Windows 2000 has
    the WMI service but not the wmic tool [P]). The started program runs detached: ``ProcessId``
    in the answer says it started, not that it finished (:func:`parse_wmic_create`).

    Quoting, the one place it is decided: ``node`` must be a host name (letters, digits, ``- .
    _``; no ``@`` list file, no ``,`` list); ``line`` goes inside one pair of double quotes, so it
    obeys :func:`check_name` (no ``"``, ``%``, ``!``, ``^``, ``&``, ``|``, ``<``, ``>``, control
    or best-fit look-alike characters) and may not contain ``,``. Anything else raises
    :class:`~clusterlib.errors.UnsafeName` naming the character. The result is never retried
    blindly (``idempotent=False``): a second Create() would start a second installer.

    Sources: "Create method of the Win32_Process class" and the "WMIC" command-line reference
    (learn.microsoft.com). How WMIC itself splits a quoted argument that contains a comma is not
    verified [P].
    """
    if not isinstance(node, str) or not isinstance(line, str):
        raise TypeError("node and line must be str")
    if not _WMIC_NODE.fullmatch(node):
        bad = next((ch for ch in node if not (ch.isalnum() or ch in "-._")), None)
        what = f"contains {_describe_char(bad)}" if bad else "must start with a letter or digit"
        raise UnsafeName(
            f"node name {node!r} cannot be given to wmic /node: it {what}; a host name is"
            " letters, digits, '-', '.' and '_' (a leading '@' would name a list file, ','"
            " would start a second node)"
        )
    check_name(node, "node name")
    if not line.strip():
        raise UnsafeName("command line is empty or blank: wmic needs a program to start")
    check_name(line, "command line")
    for ch in line:
        if ch in _WMIC_LINE_REFUSED:
            raise UnsafeName(
                f"command line {line!r} cannot be sent through wmic: it contains"
                f" {_describe_char(ch)}, which is not allowed because {_WMIC_LINE_REFUSED[ch]}"
            )
    last = line[-1:]
    if last == "\\" or BEST_FIT.get(last) == "\\":
        raise UnsafeName(
            f"command line {line!r} cannot be sent through wmic: it ends with"
            f" {_describe_char(last)}; before the closing double quote a backslash (or a"
            " character Windows may best-fit into one) can escape the quote for programs that"
            " split their command line with the C runtime's rules. Add a trailing space or drop it"
        )
    text = f'wmic /node:"{node}" process call create "{line}"'
    if len(text) > _WMIC_MAX_LINE:
        raise UnsafeName(
            f"command line is {len(line)} characters; with the wmic prefix the line would pass"
            f" cmd.exe's limit (8191 characters, KB 830473; {_WMIC_MAX_LINE} kept as margin)"
        )
    return CmdLine(text, idempotent=False)


_WMIC_MAX_LINE = 8000
