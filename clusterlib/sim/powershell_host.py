"""The simulator's PowerShell surface: FailoverClusters cmdlets and the core cmdlets clusterlib pipes into.

Thin, like moto's ``responses.py``: bind parameters, call the model, shape the output objects the
way the real cmdlets do. A parameter the real cmdlet does not have fails as PowerShell fails
(ParameterBindingException); a real cmdlet or parameter the simulator does not model fails loudly
with ``NotSimulated`` so nothing silently succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from clusterlib import win32
from clusterlib.sim import locale as sim_locale
from clusterlib.sim import ps_actions, ps_core, ps_reads
from clusterlib.sim.ps_catalog import (
    ACTION_PREFERENCE,
    ALIASES,
    CLUSTER_MODULE,
    COMMON,
    DRAIN_PARAMS,
    PROGRAMS,
    REAL_PARAMS,
    REAL_UNMODELLED,
    REAL_UNMODELLED_CLUSTER_NAMES,
    SUSPEND_2012,
    SimErrorRecord,
    SimInvocation,
    Stop,
    bind_positional,
    binding_error,
    fq,
    not_recognized,
    not_simulated,
    script_pipeline,
)
from clusterlib.sim.ps_core import ps_to_string
from clusterlib.sim.ps_shapes import Shapes
from clusterlib.sim.psobjects import PSObject
from clusterlib.sim.simcluster import SimCluster, SimError
from clusterlib.wire import Cmdlet, Pipeline

Handler = Callable[["PowerShellHost", Cmdlet, "list[Any] | None"], "list[Any]"]

#: The cmdlets the host models: name -> the function that runs it (in ps_reads, ps_actions,
#: ps_core). A real cmdlet missing here is "not simulated".
HANDLERS: dict[str, Handler] = {
    "Get-Cluster": ps_reads.get_cluster,
    "Get-ClusterNode": ps_reads.get_node,
    "Get-ClusterGroup": ps_reads.get_group,
    "Get-ClusterResource": ps_reads.get_resource,
    "Get-ClusterOwnerNode": ps_reads.get_owner_node,
    "Get-ClusterQuorum": ps_reads.get_quorum,
    "Get-ClusterParameter": ps_reads.get_param,
    "Suspend-ClusterNode": ps_actions.suspend,
    "Resume-ClusterNode": ps_actions.resume,
    "Move-ClusterGroup": ps_actions.move,
    "Update-ClusterFunctionalLevel": ps_actions.update_fl,
    "Set-ClusterParameter": ps_actions.set_param,
    "Select-Object": ps_core.select,
    "ConvertTo-Json": ps_core.to_json,
    "ConvertTo-Csv": ps_core.to_csv,
    "Out-String": ps_core.out_string,
    "Get-Command": ps_core.get_command,
    "Invoke-Expression": ps_core.invoke_expression,
    "Write-Output": ps_core.write_output,
}



#: Cmdlets Windows PowerShell 3.0 added, clusterlib's among them (learn.microsoft.com,
#: ConvertTo-Json: "This cmdlet was introduced in Windows PowerShell 3.0"): on 2.0 (a stock
#: Windows Server 2008 R2) they are not recognized.
SINCE_3 = frozenset({"ConvertTo-Json", "ConvertFrom-Json"})


class PowerShellHost:
    """Runs pipelines against one SimCluster, as a remote runspace on a cluster node would."""

    #: The Windows PowerShell (major, minor) this host behaves as where versions differ in what
    #: clusterlib sends, or None (the default): the cluster's, asked at each use
    #: (``SimCluster.powershell_version``: 4.0 on a stock 2012 R2 cluster, 5.1 from 2016 or with
    #: WMF 5.1). (4, 0) and (3, 0): Select-Object -ExpandProperty of a single object drops
    #: -Property's notes ([P], see ps_core.select).
    ps_version: tuple[int, int] | None = None

    def __init__(self, sim: SimCluster, *, ps_version: tuple[int, int] | None = None) -> None:
        if ps_version is not None:
            self.ps_version = ps_version
        self.sim = sim
        self.shapes = Shapes.of(sim)
        # Errors an inner statement (Invoke-Expression) wrote, reported with the outer one's;
        # also a cmdlet's non-terminating errors per input object (write_error).
        self.side_errors: list[SimErrorRecord] = []
        # -ErrorAction of the cmdlet running now (write_error applies it).
        self.error_action = "Continue"

    # ---- the pipeline runner ----

    def invoke(self, pipeline: Pipeline) -> SimInvocation:
        """Run every statement; a terminating error (see SimErrorRecord.terminating) ends the
        invocation there, the statements after it get no output."""
        result = SimInvocation(outputs=[])
        statements = list(pipeline.statements)
        for index, statement in enumerate(statements):
            items: list[Any] | None = None
            out: list[Any] = []
            try:
                for cmd in statement.commands:
                    items = self._run(cmd, items)
                out = items or []
            except Stop as stop:
                result.errors.extend(self._take_side_errors())
                result.errors.append(stop.record)
                result.outputs.append([])
                if stop.record.terminating:
                    result.outputs.extend([] for _ in statements[index + 1:])
                    break
                continue
            result.errors.extend(self._take_side_errors())
            result.outputs.append(out)
        return result

    def _take_side_errors(self) -> list[SimErrorRecord]:
        taken, self.side_errors = self.side_errors, []
        return taken

    def _run(self, cmd: Cmdlet, items: list[Any] | None) -> list[Any]:
        name = self._canonical(cmd.name)
        self.sim.log("call", name, params={k: v for k, v in cmd.params},
                     pipeline_input=items is not None)
        bound, common = self._bind(name, cmd)
        outer, self.error_action = self.error_action, str(common.get("ErrorAction", "Continue"))
        try:
            return HANDLERS[name](self, bound, items)
        except SimError as err:
            record = self._record(name, err)
            action = str(common.get("ErrorAction", "Continue"))
            if action in ("SilentlyContinue", "Ignore"):
                return []
            raise Stop(attrs.evolve(record, terminating=action == "Stop")) from err
        finally:
            self.error_action = outer

    def write_error(self, record: SimErrorRecord) -> None:
        """A non-terminating error about one input object: the cmdlet goes on with the next.
        -ErrorAction SilentlyContinue/Ignore drops it, Stop makes it terminating."""
        if self.error_action in ("SilentlyContinue", "Ignore"):
            return
        if self.error_action == "Stop":
            raise Stop(attrs.evolve(record, terminating=True))
        self.side_errors.append(record)

    def _canonical(self, name: str) -> str:
        for known in REAL_PARAMS:
            if known.lower() == name.lower():
                if known in CLUSTER_MODULE and not self.sim.powershell:
                    raise Stop(not_recognized(name))
                if known in SINCE_3 and self.powershell_version() < (3, 0):
                    raise Stop(not_recognized(name))
                if known not in HANDLERS:
                    raise Stop(not_simulated(f"cmdlet {known}"))
                return known
        real = self.real_command(name)
        if real is None:
            raise Stop(not_recognized(name))
        if real in REAL_PARAMS:
            return self._canonical(real)
        raise Stop(not_simulated(f"command {real}"))

    def real_command(self, name: str) -> str | None:
        """The real command ``name`` names on this cluster's nodes (resolving built-in aliases and
        ``.exe``), or None where Windows would answer "is not recognized"."""
        low = name.lower()
        if low in ALIASES:
            return ALIASES[low]
        for known in REAL_PARAMS:
            if known.lower() == low:
                return None if known in CLUSTER_MODULE and not self.sim.powershell else known
        if low in REAL_UNMODELLED:
            if low in REAL_UNMODELLED_CLUSTER_NAMES and not self.sim.powershell:
                return None
            return REAL_UNMODELLED[low]
        program = low.replace("/", "\\").rsplit("\\", 1)[-1]
        program = program[:-4] if program.endswith(".exe") else program
        if program in PROGRAMS or (program == "cluster" and self.sim.cluster_exe):
            return f"{program}.exe"
        return None

    def real_params(self, name: str) -> set[str]:
        """The parameters ``name`` has on this cluster's release (without common parameters)."""
        real = set(REAL_PARAMS[name][0])
        if name == "Suspend-ClusterNode":
            if not self.sim.drain_supported:
                real -= DRAIN_PARAMS
            elif self.sim.initial_release.key == "2012":
                real = set(SUSPEND_2012)
        return real

    def _bind(self, name: str, cmd: Cmdlet) -> tuple[Cmdlet, dict[str, Any]]:
        """Bind as PowerShell's binder does: exact names, then unique prefixes (``-Comp`` is
        ``-Compress``), common parameters apart. Returns the cmdlet with canonical parameter
        names and the common parameters given."""
        real = self.real_params(name)
        modelled = set(REAL_PARAMS[name][1]) | {"ForceEvacuation"}
        params: list[tuple[str, Any]] = []
        common: dict[str, Any] = {}
        for key, value in cmd.params:
            if key == "":
                raise Stop(binding_error(
                    name, f"A positional parameter cannot be found that accepts argument"
                    f" '{ps_to_string(value)}'.", "PositionalParameterNotFound"))
            low = key.lower()
            canon = next((p for p in real if p.lower() == low), None) or COMMON.get(low)
            if canon is None:
                matches = sorted({p for p in real if p.lower().startswith(low)}
                                 | {c for c in COMMON.values() if c.lower().startswith(low)})
                if len(matches) > 1:
                    raise Stop(binding_error(
                        name, f"Parameter cannot be processed because the parameter name '{key}' is"
                        f" ambiguous. Possible matches include: {' '.join('-' + m for m in matches)}.",
                        "AmbiguousParameter"))
                canon = matches[0] if matches else None
            if canon is None:
                raise Stop(binding_error(
                    name, f"A parameter cannot be found that matches parameter name '{key}'.",
                    "NamedParameterNotFound"))
            if canon in COMMON.values():
                if canon == "ErrorAction":
                    choice = next((a for a in ACTION_PREFERENCE
                                   if a.lower() == str(value).lower()), None)
                    if choice is None:
                        raise Stop(binding_error(
                            name, f"Cannot bind parameter 'ErrorAction'. Cannot convert value"
                            f' "{value}" to type "System.Management.Automation.ActionPreference".'
                            " Error: \"Unable to match the identifier name"
                            f" {value} to a valid enumerator name. Specify one of the following"
                            f" enumerator names and try again:\r\n{', '.join(ACTION_PREFERENCE)}\"",
                            "CannotConvertArgumentNoMessage"))
                    value = choice
                common[canon] = value
                continue
            if canon not in modelled:
                raise Stop(not_simulated(f"parameter -{canon} of {name}"))
            params.append((canon, value))
        if name == "Suspend-ClusterNode" and self.sim.initial_release.key == "2012":
            # 2012 waits for the drain without being asked (reference section 7 [V]).
            params = [(k, v) for k, v in params if k != "Wait"] + [("Wait", True)]
        return Cmdlet(cmd.name, tuple(params)), common

    def _record(self, name: str, err: SimError) -> SimErrorRecord:
        # Real FailoverClusters errors carry the operation in the first line and the Win32 message
        # after it; the code itself is in the inner Win32Exception, which we expose as win32_code.
        # The message is in the cluster's UI language (clusterlib.sim.locale); with
        # error_codes=False the record carries no code at all, only its words.
        return SimErrorRecord(message=sim_locale.error_text(err.code, err.detail, self.sim.language),
                              category=err.category,
                              error_id=f"{err.error_id or name},{fq(name)}",
                              win32_code=err.code if self.sim.error_codes else None)

    # ---- helpers ----

    def powershell_version(self) -> tuple[int, int]:
        """The version this host behaves as now: ``ps_version`` when set, else the cluster's."""
        return self.ps_version or self.sim.powershell_version()

    def check_cluster(self, cmd: Cmdlet) -> None:
        self.sim.advance()
        self.sim._ensure_up()
        target = cmd.param("Cluster")
        if target is not None and str(target).lower() not in (self.sim.name.lower(), "."):
            raise SimError(1722, f"The cluster '{target}' could not be reached."
                           f" {win32.message(1722)}", category="ConnectionError",
                           error_id="ClusterRpcConnection")

    def names(self, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [str(value)]

    def input_of(self, items: list[Any] | None, cmd: Cmdlet, type_suffix: str) -> list[PSObject]:
        source = cmd.param("InputObject")
        objs = self.names(None) if source is None else [source]
        pool: list[Any] = list(items or []) + [o for o in objs]
        return [o for o in pool if isinstance(o, PSObject) and o.type_names[0].endswith(type_suffix)]

# ---- powershell.exe on a WinRS (cmd) shell --------------------------------------------------------

_EXE_FLAGS = {"noprofile", "nop", "noninteractive", "noni", "nologo", "sta", "mta"}
_EXE_VALUED = {"executionpolicy", "ex", "ep", "inputformat", "if", "outputformat", "of",
               "windowstyle", "w", "version", "v"}


def run_powershell_exe(sim: SimCluster, args: str) -> tuple[str, str, int]:
    """``powershell.exe <args>`` as a WinRS command runs it (pywinrm's ``run_ps`` sends
    ``powershell -encodedcommand <base64 of UTF-16LE>``): (stdout, stderr, exit code).

    The script runs through the same cmdlets as over PSRP; its output must be strings (objects
    would need PowerShell's default views, not modelled). Errors go to stderr as CLIXML
    ``<S S="Error">`` lines, the form powershell.exe writes when its output is redirected
    (pywinrm's ``_clean_error_msg`` reads it); the exit code is 1 when an error was written,
    as ``-Command`` sets it from ``$?`` [P].
    """
    import base64
    import binascii

    words = args.split()
    script: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        low = word.lower().lstrip("-/")
        if not word.startswith(("-", "/")):
            script = " ".join(words[i:])
            break
        if low in ("encodedcommand", "enc", "ec", "e"):
            try:
                script = base64.b64decode(words[i + 1]).decode("utf-16-le")
            except (IndexError, binascii.Error, UnicodeDecodeError):
                return "", clixml_error("Cannot process the command because the value specified"
                                         " with -EncodedCommand is not properly encoded."), 1
            break
        if low in ("command", "c"):
            script = " ".join(words[i + 1:])
            break
        if low in _EXE_FLAGS:
            i += 1
            continue
        if low in _EXE_VALUED:
            i += 2
            continue
        return "", clixml_error(f"not simulated: powershell.exe option {word}"), 1
    if script is None:
        return "", clixml_error("not simulated: an interactive powershell.exe"), 1
    host = PowerShellHost(sim)
    try:
        result = host.invoke(script_pipeline(script))
    except Stop as stop:
        return "", clixml_error(error_view(stop.record)), 1
    out_lines: list[str] = []
    errors = list(result.errors)
    for items in result.outputs:
        if all(isinstance(i, (str, int, float)) for i in items):
            out_lines.extend(line for item in items for line in str(item).splitlines() or [""])
        else:
            errors.append(not_simulated("formatting objects as text (the default view); pipe"
                                         " them through ConvertTo-Json or ConvertTo-Csv first"))
    stdout = "".join(line + "\r\n" for line in out_lines)
    if not errors:
        return stdout, "", 0
    return stdout, clixml_error("\r\n".join(error_view(r) for r in errors)), 1


def error_view(rec: SimErrorRecord) -> str:
    """An error as PowerShell's default error view prints it (message, CategoryInfo, FQID)."""
    head = rec.error_id.split(",")[0]
    short = rec.exception_type.rsplit(".", 1)[-1]
    activity = next((k for k in REAL_PARAMS if fq(k).endswith(rec.error_id.split(",")[-1])), "")
    prefix = f"{activity} : " if activity else ""
    return (f"{prefix}{rec.message}\r\n    + CategoryInfo          : {rec.category}:"
            f" ({rec.target}:String) [{activity}], {short}\r\n"
            f"    + FullyQualifiedErrorId : {rec.error_id if ',' in rec.error_id else head}\r\n")


def clixml_error(text: str) -> str:
    from xml.sax.saxutils import escape

    lines = text.replace("\r\n", "\n").split("\n")
    body = "".join(f'<S S="Error">{escape(line)}_x000D__x000A_</S>' for line in lines if line)
    return ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/'
            f'2004/04">{body}</Objs>')


__all__ = ["HANDLERS", "PROGRAMS", "PowerShellHost", "SimErrorRecord", "SimInvocation", "Stop",
           "bind_positional", "run_powershell_exe", "script_pipeline"]
