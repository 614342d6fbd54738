"""Commands for a node's own host, not the cluster: an installer's line, one cmdlet, the wmic start.

The upgrade actions (``clusterlib.upgrade.actions``) say *what* runs on a node; this module says
*how* it is put on the wire, so no room above the dialects builds wire records itself:

* :func:`host_line`: the operator's own cmd.exe line, sent as written (the operator wrote it for
  that shell; clusterlib's own lines are built and quoted by :mod:`clusterlib.wire.cmdline`).
* :func:`cmdlet_call` / :func:`powershell_call`: one cmdlet with named parameters, whose values
  travel as typed PSRP parameters and are never pasted into script text.
* :func:`wmic_create` / :func:`read_wmic_create`: ``wmic /node:"N" process call create "LINE"``
  from the management host (Win32_Process.Create), quoted in the one place that quotes.
* :func:`probe_line`: the read-only ``ver`` that asks whether a node's listener answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clusterlib.wire import Cmdlet, CmdLine, Pipeline
from clusterlib.wire.cluster_text import WMI_CREATE_RESULTS, parse_wmic_create
from clusterlib.wire.cmdline import wmic_process_create

__all__ = [
    "cmdlet_call",
    "host_line",
    "powershell_call",
    "probe_line",
    "read_wmic_create",
    "wmi_create_result",
    "wmic_create",
]


def host_line(line: str) -> CmdLine:
    """The operator's command line for the node's cmd.exe, exactly as given. Never re-sent
    blindly (``idempotent=False``): a lost answer does not say whether an installer started."""
    return CmdLine(line)


def probe_line() -> CmdLine:
    """``ver``: changes nothing and answers on every Windows release, so a node whose listener
    is in doubt is asked once. Not marked idempotent: a silent node is not asked again."""
    return CmdLine("ver")


def cmdlet_call(name: str, params: Mapping[str, Any] | None = None) -> Cmdlet:
    """One cmdlet with its named parameters, in order (values stay typed values)."""
    return Cmdlet(name, dict(params or {}))


def powershell_call(cmdlet: Cmdlet) -> Pipeline:
    """A pipeline of the one cmdlet, run in one round trip; not idempotent (it is an action)."""
    return Pipeline.of(cmdlet)


def wmic_create(node: str, line: str) -> CmdLine:
    """``wmic /node:"NODE" process call create "LINE"``, built and checked by
    :func:`clusterlib.wire.cmdline.wmic_process_create` (raises ``UnsafeName`` naming a
    character it cannot pass; never idempotent)."""
    return wmic_process_create(node, line)


def read_wmic_create(text: str) -> tuple[int, int | None]:
    """``(ReturnValue, ProcessId)`` from wmic's answer (:func:`clusterlib.wire.cluster_text.
    parse_wmic_create`; ``ParseError`` when there is no readable answer block)."""
    return parse_wmic_create(text)


def wmi_create_result(code: int) -> str:
    """The documented meaning of a Win32_Process.Create ReturnValue ("unknown" otherwise)."""
    return WMI_CREATE_RESULTS.get(code, "unknown")
