"""The simulator's cmd shell: the commands a host runs (hostname, echo, exit, ver, wmic, cluster.exe,
the installer), answered from the same model as the PowerShell host.

A node's shell (``node="NODE1"``) is that host's cmd.exe: ``hostname``, ``echo``, ``exit N``,
``cmd /c <line>``, ``ver``, ``&`` chains, cluster.exe, and the installer (only a line matching the
simulator's ``installer=`` pattern upgrades the node). The shell with ``node=None`` is the host
that serves the cluster endpoint: a node itself on releases with WinRM, a management host
(:data:`~clusterlib.sim.simcluster.MANAGEMENT_HOST`) for Windows 2000/2003 clusters, whose nodes have
no WinRM listener; it also answers ``wmic /node:"NODE" process call create "<line>"``, which
starts ``<line>`` on that node through WMI over DCOM (Win32_Process.Create).

Any other program is what cmd.exe says about a program it cannot find:
``'x' is not recognized as an internal or external command,`` / ``operable program or batch
file.`` with exit code 9009, naming the word typed (cmd.exe's text [V]). Commands that exist on
Windows but are not modelled here answer ``not simulated: the program 'x' ...`` (exit 1), never
"not recognized": a test must not see a real command claimed missing. ``powershell`` runs its
``-Command``/``-EncodedCommand`` script through the simulator's PowerShell host where the release
has the FailoverClusters module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clusterlib.wire import CmdResult

if TYPE_CHECKING:
    from clusterlib.sim.releases import Release
    from clusterlib.sim.simcluster import SimCluster

__all__ = ["installer_image", "not_recognized", "run_command_line", "tasklist", "wmic_answer"]

#: cmd.exe's exit code for a program it cannot find.
NOT_FOUND_EXIT = 9009

# The management host of a Windows 2000/2003 cluster: a Windows Server 2003 machine with the
# cluster administration tools and wmic (reference section 7 [P]).
_MANAGEMENT_VER = "Microsoft Windows [Version 5.2.3790]"


def not_recognized(word: str) -> CmdResult:
    """cmd.exe's answer for a program it cannot find: names the word as typed, exit 9009."""
    return CmdResult(stdout="", stderr=f"'{word}' is not recognized as an internal or external"
                     " command,\r\noperable program or batch file.\r\n", exit_code=NOT_FOUND_EXIT)


def run_command_line(sim: SimCluster, line: str, node: str | None = None) -> CmdResult:
    """Run one cmd.exe line as a shell on ``node`` (None: the host serving the cluster endpoint).

    Commands chained with ``&`` run in turn (the exit code is the last one's); ``exit N`` ends the
    line there with code N. A node that is Down cannot be reached: raises
    :class:`~clusterlib.sim.simcluster.SimHostDown` (the transports report a failed connection).
    An installer whose answer is lost raises :class:`~clusterlib.sim.simcluster.SimAnswerLost`.
    """
    from clusterlib.model import NodeState
    from clusterlib.sim.simcluster import SimHostDown

    sim.log("call", "cmd", line=line, node=node or "")
    if node is not None:
        host = next((n for n in sim.nodes.values() if n.name.lower() == node.lower()), None)
        if host is None:
            raise SimHostDown(node, f"{node} is not reachable (no such host in cluster"
                              f" {sim.name}; nodes: {', '.join(sim.nodes)})")
        if host.state is NodeState.Down:
            raise SimHostDown(host.name, f"{host.name} is not reachable (the host is down)")
    return _run_chain(sim, line, node)


def _run_chain(sim: SimCluster, line: str, node: str | None) -> CmdResult:
    out: list[str] = []
    err: list[str] = []
    code = 0
    for part in _split_chain(line):
        if not part.strip():
            continue
        result, stop = _run_one(sim, part, node)
        out.append(result.stdout)
        err.append(result.stderr)
        code = result.exit_code
        if stop:
            break
    return CmdResult(stdout="".join(out), stderr="".join(err), exit_code=code)


def _split_chain(line: str) -> list[str]:
    """Split at cmd.exe's ``&`` outside double quotes (inside them it is a literal). Blanks
    around each part are kept, as cmd.exe keeps them (``echo a & echo b`` prints "a ")."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "&" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _first_word(line: str) -> tuple[str, str]:
    """The program word as typed (quotes kept, as cmd.exe echoes it back) and the rest."""
    text = line.strip()
    if text.startswith('"'):
        end = text.find('"', 1)
        if end == -1:
            return text, ""
        return text[: end + 1], text[end + 1 :].strip()
    # cmd.exe ends the program word at a blank or at a switch character glued to it ("ver/?").
    m = re.match(r"[^\s/]+|/\S*", text)
    word = m.group(0) if m else text
    return word, text[len(word) :].strip()


def _program(word: str) -> str:
    """The program a word names: quotes and directory dropped, lower case, without ``.exe``."""
    name = word.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def _run_one(sim: SimCluster, line: str, node: str | None) -> tuple[CmdResult, bool]:
    """One command; the flag says the line stops here (``exit``)."""
    word, rest = _first_word(line)
    prog = _program(word)
    if node is not None and sim.is_installer(line):
        return _installer(sim, node, line), False
    if prog == "echo" and not word.startswith('"'):
        # cmd.exe's echo prints the rest as written after one delimiter, trailing blanks
        # included; alone it reports the echo state, which is on in a cmd /c shell.
        text = line.lstrip()[len(word):]
        if not text.strip():
            text = " ECHO is on."
        return CmdResult(stdout=text[1:] + "\r\n", stderr="", exit_code=0), False
    if prog.startswith("echo.") and not word.startswith('"'):
        # "echo." prints an empty line; "echo.text" prints "text".
        return CmdResult(stdout=line.lstrip()[5:] + "\r\n", stderr="", exit_code=0), False
    if prog == "exit" and not word.startswith('"'):
        return _exit(rest), True
    if prog == "cmd":
        return _cmd(sim, rest, node), False
    if prog == "hostname":
        return CmdResult(stdout=_host_name(sim, node) + "\r\n", stderr="", exit_code=0), False
    if prog == "ver" and not word.startswith('"'):
        return CmdResult(stdout=f"\r\n{_ver(sim, node)}\r\n", stderr="", exit_code=0), False
    if prog == "cluster":
        from clusterlib.sim.clusterexe_emulator import run_cluster_exe

        return run_cluster_exe(sim, line), False
    if prog == "wmic" and _has_wmic(sim, node):
        return wmic_answer(sim, rest), False
    if prog == "tasklist" and _has_wmic(sim, node):
        return tasklist(sim, node, rest), False
    if prog == "powershell" and _release(sim, node).powershell:
        from clusterlib.sim.powershell_host import run_powershell_exe

        out, err, code = run_powershell_exe(sim, rest)
        return CmdResult(stdout=out, stderr=err, exit_code=code), False
    if _exists_on_windows(prog, _release(sim, node)):
        # A program Windows has but the simulator does not model: say so, never claim that a
        # real command does not exist (that would make a real host look broken in a test).
        return CmdResult(stdout="", stderr=f"not simulated: the program {word!r} exists on"
                         " Windows but the simulator does not model it\r\n", exit_code=1), False
    return not_recognized(word), False


# Programs in System32 that Windows 2000 does not ship (Support Tools, later releases).
_NOT_ON_2000 = {"whoami", "dism", "wusa", "klist", "setspn", "repadmin", "dcdiag", "gpresult",
                "bcdedit", "winrm", "icacls", "robocopy", "taskkill", "schtasks", "powershell",
                "wmic", "tasklist"}


def _release(sim: SimCluster, node: str | None) -> Release:
    return sim.node(node).release if node is not None else _serving_release(sim)


def _serving_release(sim: SimCluster) -> Release:
    if not sim.initial_release.winrm:
        from clusterlib.sim.releases import release

        return release("2003")  # the management host (see _MANAGEMENT_VER)
    return _serving_node_release(sim)[1]


def _exists_on_windows(prog: str, rel: Release) -> bool:
    from clusterlib.sim.ps_catalog import PROGRAMS as _PROGRAMS

    if prog not in _PROGRAMS or prog == "cluster":
        return False
    return not (rel.key == "2000" and prog in _NOT_ON_2000)


def _exit(rest: str) -> CmdResult:
    """``exit [/b] [N]``: the shell ends with code N (0 without one; cmd.exe reads a leading
    number and ignores what follows it)."""
    args = rest.split()
    if args and args[0].lower() == "/b":
        args = args[1:]
    code = 0
    if args:
        m = re.match(r"[+-]?\d+", args[0])
        code = int(m.group(0)) if m else 0
    return CmdResult(stdout="", stderr="", exit_code=code)


def _cmd(sim: SimCluster, rest: str, node: str | None) -> CmdResult:
    """``cmd /c LINE`` (and ``/k``, which in a non-interactive shell also ends): run LINE in a
    child shell; its exit code is the child's (``cmd /c exit 3`` is 3)."""
    m = re.match(r"(?i)/[ck]\s*(.*)$", rest.strip(), re.DOTALL)
    if m is None:
        # An interactive cmd.exe with no command waits for input the simulator never sends.
        return CmdResult(stdout="", stderr="not simulated: cmd without /c\r\n", exit_code=1)
    inner = m.group(1).strip()
    if len(inner) >= 2 and inner.startswith('"') and inner.endswith('"') and inner.count('"') == 2:
        inner = inner[1:-1]  # cmd /c "a b": the outer quotes are stripped (cmd /? rules)
    return _run_chain(sim, inner, node)


def _installer(sim: SimCluster, node: str, line: str) -> CmdResult:
    from clusterlib.sim.simcluster import SimError

    try:
        code, stdout = sim.start_installer(node, line)
    except SimError as err:
        return CmdResult(stdout="", stderr=err.detail + "\r\n", exit_code=err.code)
    return CmdResult(stdout=stdout, stderr="", exit_code=code)


def _serving_node_release(sim: SimCluster) -> tuple[str, Release]:
    from clusterlib.model import NodeState

    nodes = list(sim.nodes.values())
    answering = next((n for n in nodes if n.state in (NodeState.Up, NodeState.Paused)), nodes[0])
    return answering.name, answering.release


def _host_name(sim: SimCluster, node: str | None) -> str:
    if node is not None:
        return sim.node(node).name
    if not sim.initial_release.winrm:
        from clusterlib.sim.simcluster import MANAGEMENT_HOST

        return MANAGEMENT_HOST
    return _serving_node_release(sim)[0]


def _ver(sim: SimCluster, node: str | None) -> str:
    if node is not None:
        return sim.node(node).release.ver
    if not sim.initial_release.winrm:
        return _MANAGEMENT_VER
    return _serving_node_release(sim)[1].ver


def _has_wmic(sim: SimCluster, node: str | None) -> bool:
    """wmic.exe ships with Windows XP / Server 2003 and later, not with Windows 2000 [P]."""
    if node is None:
        return True
    return sim.node(node).release.key != "2000"


# --- wmic ----------------------------------------------------------------------------------------

_WMIC_CREATE = re.compile(
    r'(?i)^/node:(?P<node>"[^"]*"|[^\s"]+)\s+process\s+call\s+create\s+"(?P<line>[^"]*)"\s*$')

# What WMIC prints when the node cannot be reached over DCOM (0x800706BA, "The RPC server is
# unavailable."): "Node - NAME", "ERROR:", then the error's fields [P]: the exact field set
# varies between WMIC versions (XP/2003 print Code, Description and Facility).
_RPC_UNAVAILABLE = 0x800706BA


def wmic_answer(sim: SimCluster, rest: str) -> CmdResult:
    """``wmic /node:"NODE" process call create "LINE"`` on the management host.

    Win32_Process.Create starts LINE on NODE and answers at once (the program runs detached; its
    exit code is never reported): ``ReturnValue = 0`` and a ``ProcessId`` for any program that
    exists, ``ReturnValue = 9`` (Path Not Found, no ProcessId) for one that does not ("Create
    method of the Win32_Process class", learn.microsoft.com [V]). The installer started this way
    runs as from the node's own shell (window, restarts, faults); a lost answer raises
    SimAnswerLost. A node that is unknown or Down: WMIC's error for an unreachable host
    (0x800706BA, "The RPC server is unavailable."). Anything other than this one form is not
    simulated (exit 1, saying so).
    """
    from clusterlib.model import NodeState
    from clusterlib.sim.simcluster import SimAnswerLost

    m = _WMIC_CREATE.match(rest.strip())
    if m is None:
        return CmdResult(stdout="", stderr=f"not simulated: wmic {rest}\r\n", exit_code=1)
    target = m.group("node").strip('"')
    line = m.group("line")
    found = next((n for n in sim.nodes.values() if n.name.lower() == target.lower()), None)
    sim.log("call", "wmic", node=target, line=line)
    if found is None or found.state is NodeState.Down:
        return CmdResult(
            stdout=f"Node - {target}\r\n",
            stderr=("ERROR:\r\nCode = 0x800706ba\r\nDescription = The RPC server is unavailable."
                    "\r\nFacility = Win32\r\n\r\n"),
            exit_code=_RPC_UNAVAILABLE - (1 << 32))  # cmd.exe's ERRORLEVEL is a signed int [U]
    head = "Executing (Win32_Process)->Create()\r\nMethod execution successful.\r\nOut Parameters:\r\n"
    word, _rest = _first_word(line)
    if sim.is_installer(line):
        try:
            code, _stdout = sim.start_installer(found.name, line)
        except SimAnswerLost:
            raise
        except Exception as exc:  # a SimError: the process still started and then failed
            from clusterlib.sim.simcluster import SimError

            if not isinstance(exc, SimError):
                raise
            code = exc.code
        run = found.install
        pid = run.pid if run is not None else 0
        sim.log("wmic-started", found.name, pid=pid, exit_code=code)
        return CmdResult(stdout=head + _parameters(pid, 0), stderr="", exit_code=0)
    prog = _program(word)
    if prog in ("cmd", "hostname", "ver", "echo", "exit", "cluster", "wmic"):
        # The program exists and runs detached on the node; what it does there is not visible.
        pid = sim.next_pid()
        sim.log("wmic-started", found.name, pid=pid, program=prog)
        return CmdResult(stdout=head + _parameters(pid, 0), stderr="", exit_code=0)
    return CmdResult(stdout=head + _parameters(None, 9), stderr="", exit_code=0)


def _parameters(pid: int | None, value: int) -> str:
    fields = ([f"        ProcessId = {pid};"] if pid is not None else []) + [
        f"        ReturnValue = {value};"]
    return "\r\n".join(["instance of __PARAMETERS", "{", *fields, "};", "", ""])


# --- tasklist ------------------------------------------------------------------------------------

# The processes every simulated host runs (besides a running installer): enough for a filter on
# the installer's image name to be meaningful.
_BASE_PROCESSES = (("System", 4, "Services", "236 K"), ("smss.exe", 368, "Services", "1,012 K"),
                   ("csrss.exe", 468, "Services", "4,420 K"), ("services.exe", 596, "Services",
                   "7,680 K"), ("lsass.exe", 608, "Services", "12,040 K"), ("svchost.exe", 784,
                   "Services", "18,932 K"), ("clussvc.exe", 1296, "Services", "21,764 K"))
_TASK_HEAD = ("Image Name                     PID Session Name        Session#    Mem Usage\r\n"
              "========================= ======== ================ =========== ============\r\n")
_TASK_FILTER = re.compile(r'(?i)^"?\s*(imagename|pid)\s+eq\s+([^"]+?)\s*"?$')


def installer_image(line: str) -> str:
    """The image name an installer line runs as (``setup.exe``, ``winnt32.exe``; an ``.msu``
    package runs in ``wusa.exe``), as tasklist shows it."""
    text = line.strip()
    m = re.match(r"(?i)cmd(?:\.exe)?\s+/c\s+(.*)$", text)
    if m:
        text = m.group(1)
    word, _rest = _first_word(text)
    name = word.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if name.endswith(".msu"):
        return "wusa.exe"
    return name if name.endswith(".exe") else name + ".exe"


def tasklist(sim: SimCluster, node: str | None, rest: str) -> CmdResult:
    """``tasklist [/fi "imagename eq NAME"|"pid eq N"] [/fo table|csv] [/nh]`` on a host
    (Windows XP / Server 2003 and later; not on Windows 2000 [P]). A running or hung installer is
    listed under its image name, so "is the installer still running?" has an answer on the node
    (the installer's own marker). Table layout and the no-match line are Windows Server 2008 and
    later's [P] (2003 words the INFO line differently)."""
    from clusterlib.sim.simcluster import SimNode

    args = _tasklist_args(rest)
    if args is None:
        return CmdResult(stdout="", stderr=f"not simulated: tasklist {rest}\r\n", exit_code=1)
    fmt, header, flt = args
    host: SimNode | None = sim.node(node) if node is not None else None
    rows = list(_BASE_PROCESSES)
    run = host.install if host is not None else None
    if run is not None and run.state in ("running", "hung"):
        rows.append((installer_image(run.line), run.pid, "Services", "24,576 K"))
    if flt is not None:
        key, value = flt
        if key == "pid":
            rows = [r for r in rows if str(r[1]) == value]
        else:
            want = value.lower()
            rows = [r for r in rows if (r[0].lower().startswith(want[:-1]) if want.endswith("*")
                                        else r[0].lower() == want)]
    if not rows:
        return CmdResult(stdout="INFO: No tasks are running which match the specified criteria."
                         "\r\n", stderr="", exit_code=0)
    if fmt == "csv":
        lines = (['"Image Name","PID","Session Name","Session#","Mem Usage"'] if header else [])
        lines += [f'"{n}","{pid}","{sess}","0","{mem}"' for n, pid, sess, mem in rows]
        return CmdResult(stdout="\r\n".join(lines) + "\r\n", stderr="", exit_code=0)
    body = "".join(f"{n:<25} {pid:>8} {sess:<16} {0:>11} {mem:>12}\r\n"
                   for n, pid, sess, mem in rows)
    return CmdResult(stdout=("\r\n" + _TASK_HEAD if header else "") + body, stderr="",
                     exit_code=0)


def _tasklist_args(rest: str) -> tuple[str, bool, tuple[str, str] | None] | None:
    tokens = re.findall(r'"[^"]*"|\S+', rest)
    fmt, header, flt = "table", True, None
    i = 0
    while i < len(tokens):
        tok = tokens[i].lower()
        if tok == "/nh":
            header = False
        elif tok == "/fo" and i + 1 < len(tokens) and tokens[i + 1].strip('"').lower() in (
                "table", "csv"):
            fmt = tokens[i + 1].strip('"').lower()
            i += 1
        elif tok == "/fi" and i + 1 < len(tokens) and flt is None:
            m = _TASK_FILTER.match(tokens[i + 1])
            if m is None:
                return None
            flt = (m.group(1).lower(), m.group(2).strip())
            i += 1
        else:
            return None
        i += 1
    return fmt, header, flt
