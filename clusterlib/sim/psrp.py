"""The PSRP side of the simulator endpoint: a psrpcore server runspace pool per shell, pipelines
rebuilt from CreatePipeline and run in the simulator, objects and error records serialized as a
Windows host would.

The psrpcore objects are not thread-safe, so every touch of a pool happens under the shell's
condition lock; cmdlets themselves run outside it in a worker thread per pipeline, which is how a
drain with ``-Wait`` taking simulated minutes streams back while Receives time out and retry.
"""

from __future__ import annotations

import binascii
import struct
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from psrpcore import ServerPipeline, ServerRunspacePool
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSEnumBase,
    PSInvocationState,
    PSNoteProperty,
    PSType,
    PSVersion,
)
from psrpcore.types import PSObject as CorePSObject
from psrpcore.types import _serializer as psrpcore_serializer
from psrpcore.types._enum import PSEnumMeta

from clusterlib.sim.powershell_host import PowerShellHost
from clusterlib.sim.ps_catalog import SimErrorRecord, bind_positional, script_pipeline
from clusterlib.sim.psobjects import PSEnumValue
from clusterlib.sim.psobjects import PSObject as SimPSObject
from clusterlib.sim.simcluster import SimCluster
from clusterlib.wire import Cmdlet, Pipeline, Statement

_FRAGMENT_HEADER = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length

# Core cmdlets the endpoint answers itself because the simulator's PowerShell host models only
# what the FailoverClusters dialect pipes into. Write-Output is what WinRMTransport places between
# statements to mark where one statement's output ends (PSRP output carries no statement index).
_NATIVE = {"write-output"}
_CUSTOM = "System.Management.Automation.PSCustomObject"


class EndpointPipelineError(Exception):
    """A pipeline the endpoint refuses before running it (script text outside the subset)."""


# ---- objects ---------------------------------------------------------------------------------

_ENUM_TYPES: dict[tuple[str, str, int], Any] = {}
_ENUM_LOCK = threading.Lock()


def _enum(value: PSEnumValue) -> PSEnumBase:
    """A psrpcore enum member carrying the real .NET enum type name, so the client reads
    ``<ToString>Up</ToString>`` plus the integer, as from a Windows host."""
    key = (value.type_name, value.name, value.value)
    with _ENUM_LOCK:
        cls = _ENUM_TYPES.get(key)
        if cls is None:
            # One single-member enum class per (type, member): psrpcore serializes the type
            # names, the integer and ToString, which is all the wire carries of an enum.
            short = value.type_name.rsplit(".", 1)[-1]
            namespace: Any = PSEnumMeta.__prepare__(short, (PSEnumBase,))
            namespace[value.name] = value.value
            raw: Any = PSEnumMeta(short, (PSEnumBase,), namespace)
            cls = PSType([value.type_name], rehydrate=False)(raw)
            _ENUM_TYPES[key] = cls
    member: PSEnumBase = cls(value.value)
    return member


def to_clixml(value: Any) -> Any:
    """Simulator output -> a value psrpcore serializes like PowerShell would.

    Objects keep their .NET type names and carry their properties as adapted properties
    (``<Props>``), the way a deserialized FailoverClusters object arrives; nested objects
    (``OwnerNode``) are full objects whose ToString is the node name.
    """
    if isinstance(value, SimPSObject):
        obj = CorePSObject()
        obj.PSObject.type_names = list(value.type_names)
        obj.PSObject.to_string = value.to_string
        # A PSCustomObject (Select-Object's output) has only note properties, which PowerShell
        # serializes as <MS>; a .NET object's properties are adapted ones (<Props>).
        props = (obj.PSObject.extended_properties if _CUSTOM in value.type_names
                 else obj.PSObject.adapted_properties)
        props.extend(PSNoteProperty(name, to_clixml(v)) for name, v in value.props.items())
        return obj
    if isinstance(value, PSEnumValue):
        return _enum(value)
    if isinstance(value, (list, tuple)):
        return [to_clixml(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_clixml(v) for k, v in value.items()}
    return value


# ---- strings -------------------------------------------------------------------------------

# psrpcore escapes a string's control characters (MS-PSRP 2.2.5.3.2: _xHHHH_) with a Python
# callback per character: the 32,000 line breaks of a 64 x 32,000 snapshot's CSV cost 0.2-0.4 s of
# the endpoint's CPU. The common ones are replaced in bulk here; the text is the same.
_ORIGINAL_SERIALIZE_STRING = psrpcore_serializer._serialize_string
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_BULK_ESCAPES = (("\r", "_x000D_"), ("\n", "_x000A_"), ("\t", "_x0009_"))


def _escape_char(match: Any) -> str:
    hexed = binascii.hexlify(match.group(0).encode("utf-16-be", errors="surrogatepass"))
    units = hexed.decode().upper()
    return "".join(f"_x{units[i:i + 4]}_" for i in range(0, len(units), 4))


def serialize_string(value: str) -> str:
    """psrpcore's ``_serialize_string`` (the same text): ``_x`` escaped first, then line breaks
    and tabs in bulk, then any other control character or surrogate one by one. Printable ASCII
    text skips the per-character scan (32 MB of owner-list JSON took 0.3 s in it)."""
    if "_" in value and ("_x" in value or "_X" in value):
        value = psrpcore_serializer._STRING_SERIAL_ESCAPE_ESCAPE.sub("_x005F_\\1", value)
    for char, escaped in _BULK_ESCAPES:
        if char in value:
            value = value.replace(char, escaped)
    if value.isascii() and not value.encode("ascii").translate(None, _PRINTABLE_ASCII):
        return value  # nothing left to escape: no C0 control character, no DEL (a fast check)
    return psrpcore_serializer._STRING_SERIAL_ESCAPE.sub(_escape_char, value)


def _install_serialize_string() -> bool:
    """Use :func:`serialize_string` in psrpcore's serializer if it gives psrpcore's own text
    on a sample of every kind of character (else leave psrpcore as it is)."""
    sample = "a_xb_Xc\r\n\t\x01\x7f\x9f\U0001F600 é_x000D_\r\n"
    if serialize_string(sample) != _ORIGINAL_SERIALIZE_STRING(sample):
        return False
    psrpcore_serializer._serialize_string = serialize_string
    return True


STRING_SERIALIZER_INSTALLED = _install_serialize_string()


def _plain_param(value: Any) -> Any:
    """A deserialized parameter value -> the plain Python value a clusterlib Cmdlet carries."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain_param(v) for v in value]
    return str(value)


def rebuild_pipeline(metadata: Any) -> Pipeline:
    """CreatePipeline metadata (psrpcore ``PowerShell``) -> a clusterlib Pipeline.

    Statements end at each command flagged end-of-statement (psrpcore reads pypsrp's
    ``ExtraCmds``). A named parameter sent without a value is a switch. A script command
    (pypsrp's ``add_script``) runs when its text is in the subset clusterlib.sim.psscript
    accepts and it has no arguments; positional arguments (``add_argument``) bind to the
    parameters that take them.
    """
    statements: list[Statement] = []
    current: list[Cmdlet] = []
    for cmd in metadata.commands:
        if cmd.is_script:
            if cmd.parameters:
                raise EndpointPipelineError("not simulated: arguments to a script command")
            try:
                script = script_pipeline(str(cmd.command_text))
            except Exception as exc:  # _Stop: the script is outside the subset
                record = getattr(exc, "record", None)
                raise EndpointPipelineError(record.message if record else str(exc)) from exc
            if len(script.statements) != 1:
                raise EndpointPipelineError("not simulated: a script command of several statements")
            current.extend(script.statements[0].commands)
            if cmd.end_of_statement:
                statements.append(Statement(tuple(current)))
                current = []
            continue
        params: list[tuple[str, Any]] = []
        positional: list[Any] = []
        for name, value in cmd.parameters:
            if name is None:  # pypsrp's add_argument: bound by position, as PowerShell does
                positional.append(_plain_param(value))
                continue
            params.append((str(name), True if value is None else _plain_param(value)))
        current.append(bind_positional(str(cmd.command_text), params, positional))
        if cmd.end_of_statement:
            statements.append(Statement(tuple(current)))
            current = []
    if current:
        statements.append(Statement(tuple(current)))
    return Pipeline(statements=tuple(statements))


def _win32_hresult(code: int) -> int:
    """HRESULT_FROM_WIN32 as the signed Int32 .NET exceptions carry in ``HResult``."""
    hr = 0x80070000 | (code & 0xFFFF)
    return hr - 0x1_0000_0000


def write_error(pipe: ServerPipeline, rec: SimErrorRecord, activity: str) -> None:
    """Write ``rec`` to the pipeline's error stream (see error_record for its shape)."""
    pipe.write_error(**_error_parts(rec, activity))


def error_record(rec: SimErrorRecord, activity: str) -> ErrorRecord:
    """An ErrorRecord shaped like a FailoverClusters one: the exception's HResult is
    0x8007xxxx for a Win32 code, with a Win32Exception inside carrying NativeErrorCode."""
    parts = _error_parts(rec, activity)
    return ErrorRecord(Exception=parts["exception"], CategoryInfo=parts["category_info"],
                       TargetObject=parts["target_object"],
                       FullyQualifiedErrorId=parts["fully_qualified_error_id"])


def _error_parts(rec: SimErrorRecord, activity: str) -> dict[str, Any]:
    short = rec.exception_type.rsplit(".", 1)[-1]
    inner = None
    hresult = -2146233087  # COR_E_EXCEPTION, what a plain System.Exception carries
    if rec.win32_code:
        hresult = _win32_hresult(rec.win32_code)
        inner = NETException(Message=rec.message.splitlines()[-1], HResult=-2147467259)
        inner.PSObject.type_names = ["System.ComponentModel.Win32Exception",
                                     "System.Runtime.InteropServices.ExternalException",
                                     "System.SystemException", "System.Exception",
                                     "System.Object"]
        inner.PSObject.adapted_properties.append(
            PSNoteProperty("NativeErrorCode", rec.win32_code))
    exc = NETException(Message=rec.message, HResult=hresult, InnerException=inner)
    exc.PSObject.type_names = [rec.exception_type, "System.Exception", "System.Object"]
    exc.PSObject.to_string = f"{rec.exception_type}: {rec.message}"
    try:
        category = ErrorCategory[rec.category]
    except KeyError:
        category = ErrorCategory.NotSpecified
    info = ErrorCategoryInfo(Category=category, Activity=activity, Reason=short,
                             TargetName=rec.target or "", TargetType="")
    return {"exception": exc, "category_info": info, "target_object": rec.target or None,
            "fully_qualified_error_id": rec.error_id}


# ---- the shell ---------------------------------------------------------------------------------


def split_fragments(data: bytes) -> list[bytes]:
    """A PSRP payload -> its fragments (header included), so a Receive can stop between them."""
    out = []
    offset = 0
    while offset < len(data):
        length = _FRAGMENT_HEADER.unpack_from(data, offset)[3]
        end = offset + _FRAGMENT_HEADER.size + length
        out.append(data[offset:end])
        offset = end
    return out


def _message_pipeline_id(fragment: bytes) -> uuid.UUID | None:
    """The pipeline id in the PSRP message header of a start fragment (MS-PSRP 2.2.1)."""
    body = fragment[_FRAGMENT_HEADER.size:]
    if len(body) < 40:
        return None
    pid = uuid.UUID(bytes_le=bytes(body[24:40]))
    return None if pid.int == 0 else pid


# What $PSVersionTable says on each Windows PowerShell the simulator models, as a stock host of
# its release prints it (PSVersion, BuildVersion, CLRVersion, WSManStackVersion; PSEdition only
# from 5.1). The major.minor pairs are documented (learn.microsoft.com, "Windows PowerShell System
# Requirements"; about_Automatic_Variables); the build numbers are those of the releases' RTM
# builds (2008 R2 SP1 7601, 2012 9200, 2012 R2 9600, 2016 14393) with revisions as commonly
# published host outputs show them [P]; 5.1 on 2012/2012 R2 (WMF 5.1) is build 14409 [P].
_PS_VERSION_TABLES: dict[tuple[int, int], dict[str, str]] = {
    (2, 0): {"PSVersion": "2.0", "BuildVersion": "6.1.7601.17514", "CLRVersion": "2.0.50727.5420",
             "WSManStackVersion": "2.0"},
    (3, 0): {"PSVersion": "3.0", "BuildVersion": "6.2.9200.16398",
             "CLRVersion": "4.0.30319.18010", "WSManStackVersion": "3.0"},
    (4, 0): {"PSVersion": "4.0", "BuildVersion": "6.3.9600.16406",
             "CLRVersion": "4.0.30319.34209", "WSManStackVersion": "3.0"},
    (5, 1): {"PSVersion": "5.1.14393.2248", "PSEdition": "Desktop",
             "BuildVersion": "10.0.14393.2248", "CLRVersion": "4.0.30319.42000",
             "WSManStackVersion": "3.0"},
}


def ps_version_table(version: tuple[int, int]) -> dict[str, Any]:
    """The PSVersionTable a runspace of Windows PowerShell ``version`` sends in its
    ApplicationPrivateData (MS-PSRP 2.2.2.13), as psrpcore values; an unmodelled version is
    refused (ValueError naming the modelled ones)."""
    table = _PS_VERSION_TABLES.get(version)
    if table is None:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(_PS_VERSION_TABLES))
        raise ValueError(f"Windows PowerShell {version[0]}.{version[1]} is not simulated;"
                         f" the simulator models {known}")
    return {key: value if key == "PSEdition" else PSVersion(value) for key, value in table.items()}


class _Command:
    def __init__(self, pipe: ServerPipeline, command_id: str) -> None:
        self.pipe = pipe
        self.command_id = command_id
        self.started = False
        self.done = False  # the pipeline reached a final state; its last fragments may be queued
        self.stopped = False


class PSRPShell:
    """One PowerShell shell (= one remote runspace pool) of the endpoint."""

    def __init__(self, sim: SimCluster, shell_id: str, fragment_size: int) -> None:
        self.sim = sim
        self.shell_id = shell_id
        self.fragment_size = fragment_size
        self.cond = threading.Condition()
        # The PowerShell of this runspace, fixed when it opens, as a real runspace's is: the
        # simulator's override (PowerShellHost.ps_version) or the lowest among the cluster's
        # nodes (SimCluster.powershell_version); its pipelines run as that version.
        self.ps_version = PowerShellHost.ps_version or sim.powershell_version()
        self.pool = ServerRunspacePool(application_private_data={
            "PSVersionTable": ps_version_table(self.ps_version)})
        self.queues: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        self.commands: dict[str, _Command] = {}
        self._by_pid: dict[uuid.UUID, _Command] = {}
        self.closed = False

    # All methods below are called with self.cond held, except the worker body.

    def feed(self, data: bytes, command_id: str | None = None) -> None:
        """Bytes from creationXml, a Command's Arguments or a Send stream."""
        from psrpcore._payload import PSRPPayload, StreamType
        from psrpcore.types import PSRPMessageType

        for fragment in split_fragments(data):
            flags = fragment[16]
            if flags & 0x1:  # start fragment: the message header names the pipeline
                pid = _message_pipeline_id(fragment)
                if pid is not None and pid not in self.pool.pipeline_table:
                    cmd = _Command(ServerPipeline(self.pool, pid),
                                   command_id or str(pid).upper())
                    self.commands[cmd.command_id] = cmd
                    self._by_pid[pid] = cmd
                    self.queues[pid] = deque()
            self.pool.receive_data(PSRPPayload(fragment, StreamType.default, None))
            while True:
                event = self.pool.next_event()
                if event is None:
                    break
                if event.message_type == PSRPMessageType.CreatePipeline:
                    cmd = self._by_pid[event.pipeline_id]
                    self._start(cmd)
        self.flush()

    def flush(self) -> None:
        """Move what psrpcore queued into per-target fragment queues and wake Receives."""
        while True:
            payload = self.pool.data_to_send(self.fragment_size)
            if payload is None:
                break
            self.queues.setdefault(payload.pipeline_id, deque()).extend(
                split_fragments(payload.data))
        self.cond.notify_all()

    def command(self, command_id: str) -> _Command | None:
        return self.commands.get(command_id.upper())

    def _start(self, cmd: _Command) -> None:
        if cmd.started:
            return
        cmd.started = True
        metadata = cmd.pipe.metadata
        # No PipelineState(Running) message: a Windows host sends only the final state.
        cmd.pipe._change_state(PSInvocationState.Running, emit=False)
        thread = threading.Thread(target=self._run, args=(cmd, metadata),
                                  name=f"sim-psrp-{cmd.command_id[:8]}", daemon=True)
        thread.start()

    def _run(self, cmd: _Command, metadata: Any) -> None:
        """Worker: run the pipeline in the simulator, then serialize everything it produced."""
        produced: list[tuple[str, Any]] = []
        try:
            pipeline = rebuild_pipeline(metadata)
            for kind, item in self._execute(pipeline):
                produced.append((kind, item))
        except EndpointPipelineError as exc:
            produced.append(("error", (SimErrorRecord(
                message=str(exc), category="NotImplemented", error_id="NotSimulated",
                exception_type="clusterlib.NotSimulated", terminating=True), "")))
        except Exception as exc:  # a simulator bug must reach the client, not kill the thread
            produced.append(("error", (SimErrorRecord(
                message=f"simulator failure: {type(exc).__name__}: {exc}",
                category="NotSpecified", error_id="SimulatorFailure",
                exception_type="System.InvalidOperationException"), "")))
        with self.cond:
            if cmd.stopped or self.closed:
                return
            fatal = None
            for kind, item in produced:
                if kind == "output":
                    cmd.pipe.write_output(to_clixml(item))
                elif item[0].terminating:
                    fatal = item  # ends the pipeline: carried by PipelineState(Failed)
                else:
                    record, activity = item
                    write_error(cmd.pipe, record, activity)
            if fatal is not None:
                cmd.pipe._change_state(PSInvocationState.Failed, error=error_record(*fatal))
            else:
                cmd.pipe.complete()
            cmd.done = True
            self.flush()

    def _execute(self, pipeline: Pipeline) -> list[tuple[str, Any]]:
        """Run statements in order: runs of simulator statements in one invoke, native
        statements (Write-Output) answered here."""
        out: list[tuple[str, Any]] = []
        batch: list[Statement] = []

        def run_batch() -> None:
            if not batch:
                return
            host = PowerShellHost(self.sim, ps_version=self.ps_version)
            result = host.invoke(Pipeline(statements=tuple(batch)))
            for items in result.outputs:
                out.extend(("output", item) for item in items)
            for rec in result.errors:
                out.append(("error", (rec, _activity(batch, rec))))
            batch.clear()

        for statement in pipeline.statements:
            if len(statement.commands) == 1 and statement.commands[0].name.lower() in _NATIVE:
                run_batch()
                value = statement.commands[0].param("InputObject")
                items = value if isinstance(value, list) else [value]
                out.extend(("output", v) for v in items if v is not None)
            else:
                batch.append(statement)
        run_batch()
        return out

    def stop(self, cmd: _Command) -> None:
        """A PowerShell Ctrl+C: the pipeline ends Stopped; the simulator call, already in
        flight, finishes in the background and its results are dropped (as its effects are
        not: a real cluster would also have started the move)."""
        if cmd.done or cmd.stopped:
            return
        cmd.stopped = True
        cmd.pipe.stop()
        cmd.done = True
        self.flush()

    def terminate(self, cmd: _Command) -> None:
        cmd.stopped = True
        self.commands.pop(cmd.command_id, None)
        self._by_pid.pop(cmd.pipe.pipeline_id, None)
        self.queues.pop(cmd.pipe.pipeline_id, None)
        self.pool.pipeline_table.pop(cmd.pipe.pipeline_id, None)

    def take(self, pipeline_id: uuid.UUID | None, budget: int,
             size_of: Callable[[bytes], int]) -> list[bytes]:
        """Pop whole fragments for one target while they fit ``budget`` (always at least one)."""
        queue = self.queues.get(pipeline_id)
        taken: list[bytes] = []
        used = 0
        while queue:
            cost = size_of(queue[0])
            if taken and used + cost > budget:
                break
            taken.append(queue.popleft())
            used += cost
        return taken

    def close(self) -> None:
        self.closed = True
        for cmd in list(self.commands.values()):
            cmd.stopped = True
        self.cond.notify_all()


def _activity(batch: list[Statement], rec: SimErrorRecord) -> str:
    """The cmdlet name a record's CategoryInfo.Activity names (``[Move-ClusterGroup]``)."""
    head = rec.error_id.split(",")[0].lower()
    for statement in batch:
        for cmd in statement.commands:
            if cmd.name.lower() == head:
                return cmd.name
    fq = rec.error_id.split(",")[-1]
    for statement in batch:
        for cmd in statement.commands:
            if cmd.name.replace("-", "").lower() in fq.lower():
                return cmd.name
    return ""

