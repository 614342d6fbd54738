"""The wire's records: what travels to a cluster (pipelines, cmd.exe lines) and what comes back.

A transport moves commands and nothing else (compare httpx's ``BaseTransport``). It knows no
nodes or groups; parsing, state rules, retries and orchestration live above it, so the same code
runs over WinRM and against the in-process simulator. A transport raises only
``clusterlib.errors.ConnectionFailed`` (and subclasses) for failures to talk; what the cluster
itself says (error records, exit codes) comes back inside the result for the dialect to map.

Names and values travel as cmdlet parameters, never inside script text: there is deliberately no
way to send a script string through this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

# A parameter value: a switch is True; strings, ints, lists of strings travel as typed values.
ParamValue = Any


def _params(value: Mapping[str, ParamValue] | tuple[tuple[str, ParamValue], ...]) -> tuple[
    tuple[str, ParamValue], ...
]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), v) for k, v in items)


@frozen
class Cmdlet:
    """One command of a pipeline: a cmdlet name and its named parameters (in order)."""

    name: str
    params: tuple[tuple[str, ParamValue], ...] = field(default=(), converter=_params)

    def param(self, key: str, default: ParamValue = None) -> ParamValue:
        for k, v in self.params:
            if k.lower() == key.lower():
                return v
        return default

    def describe(self) -> str:
        """A one-line, PowerShell-like rendering for plans and error messages (never executed)."""
        parts = [self.name]
        for key, value in self.params:
            if value is True:
                parts.append(f"-{key}")
            elif isinstance(value, (list, tuple)):
                parts.append(f"-{key} " + ",".join(_show(v) for v in value))
            else:
                parts.append(f"-{key} {_show(value)}")
        return " ".join(parts)


def _show(value: ParamValue) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


@frozen
class Statement:
    """Cmdlets joined by ``|``."""

    commands: tuple[Cmdlet, ...]

    def describe(self) -> str:
        return " | ".join(c.describe() for c in self.commands)


@frozen
class Pipeline:
    """One PowerShell invocation: one or more statements, run in order in one round trip.

    ``idempotent`` marks reads: only those may be retried blindly by a transport.
    """

    statements: tuple[Statement, ...]
    idempotent: bool = False

    @classmethod
    def of(cls, *commands: Cmdlet, idempotent: bool = False) -> Pipeline:
        return cls(statements=(Statement(tuple(commands)),), idempotent=idempotent)

    def describe(self) -> str:
        return "; ".join(s.describe() for s in self.statements)


@frozen
class CmdLine:
    """A cmd.exe command line, already quoted by the one place that quotes
    (``clusterlib.wire.cmdline``). ``idempotent`` as for Pipeline."""

    line: str
    idempotent: bool = False

    def describe(self) -> str:
        return self.line


@frozen
class ErrorRecord:
    """A PowerShell ErrorRecord, reduced to what a person or the error mapping needs."""

    message: str
    category: str = ""
    error_id: str = ""  # FullyQualifiedErrorId, e.g. "Move-ClusterGroup,Microsoft.Failover..."
    target: str = ""
    win32_code: int | None = None  # when the record carried one (HResult 0x8007xxxx or native code)


@frozen
class PSResult:
    """What a pipeline produced: one output list per statement, and its error records."""

    outputs: tuple[tuple[Any, ...], ...]
    errors: tuple[ErrorRecord, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def output(self) -> tuple[Any, ...]:
        """All statements' output, flattened (convenient for one-statement pipelines)."""
        return tuple(item for out in self.outputs for item in out)


@frozen
class CmdResult:
    """What a command line produced."""

    stdout: str
    stderr: str
    exit_code: int
