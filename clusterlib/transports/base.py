"""The transport protocol: what a transport must do to carry the wire's records to one endpoint.

A transport moves commands and nothing else (compare httpx's ``BaseTransport``). It knows no
nodes or groups; parsing, state rules, retries and orchestration live above it, so the same code
runs over WinRM and against the simulator (which brings its own in-process transport,
``clusterlib.sim.InProcessTransport``, as httpx's ``MockTransport`` is handed a handler). A
transport raises only ``clusterlib.errors.ConnectionFailed`` (and subclasses) for failures to
talk; what the cluster itself says (error records, exit codes) comes back inside the result for
the dialect to map.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from clusterlib.wire.records import CmdLine, CmdResult, Pipeline, PSResult

__all__ = ["NodeTransport", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """Carries commands to one cluster endpoint. Implementations: ``clusterlib.sim.InProcessTransport`` (the
    simulator, no wire) and ``WinRMTransport`` (pypsrp)."""

    #: "host[:port]" or "sim:NAME", for messages; never includes credentials.
    endpoint: str

    def run_pipeline(self, pipeline: Pipeline) -> PSResult: ...

    def run_cmd(self, line: CmdLine) -> CmdResult: ...

    def close(self) -> None: ...


@runtime_checkable
class NodeTransport(Transport, Protocol):
    """A transport that can also open a shell on one node's own host (for actions that must run
    on the node itself: an installer, a cmdlet). ``WinRMTransport`` reaches the node by its host
    name (or the ``node_path`` template of one endpoint serving every node); the simulator's
    ``InProcessTransport`` by the simulated node. A transport without it still drives the
    cluster; only node-side actions need it (``isinstance(t, NodeTransport)``)."""

    def for_node(self, node: str) -> Transport: ...
