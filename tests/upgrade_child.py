"""Crash-test helper: a long-lived simulator server process, and an upgrade child process to SIGKILL.

``python upgrade_child.py serve --nodes 4 --groups 12 --speed 5000`` hosts a SimCluster and
prints one line ``ADDRESS host port`` (authkey from $UPGRADE_CHILD_AUTHKEY). It answers
transport calls (``run_pipeline`` / ``run_cmd``, on the cluster endpoint or on one node) over
``multiprocessing.connection``, so the cluster's state lives in this process and survives the
death of any client, the way a real cluster outlives the operator's laptop.

``python upgrade_child.py run|resume --port P --journal J`` connects through ``RPCTransport``
(a Transport whose calls are executed by the server's InProcessTransport), runs or resumes the
upgrade, and prints every event as a JSON line so the parent can kill it at a chosen moment.
Exit codes: 0 completed, 4 UpgradeStopped, 3 anything else.

Why not the loopback WinRM endpoint: the upgrade action runs on each node
(``transport.for_node``), and the endpoint serves the cluster as one host with no per-node
routing, so an installer cannot reach a simulated node over it. The RPC transport keeps the
property that matters here (state outside the killed process) with every layer above the
transport unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clusterlib.errors import ConnectionFailed
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult

SETUP = r"D:\setup.exe /unattend"


def _authkey() -> bytes:
    return bytes.fromhex(os.environ["UPGRADE_CHILD_AUTHKEY"])


# ---- server ----------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    from clusterlib.model import GroupState
    from clusterlib.sim import NodeCrashesDuringDrain, SimCluster
    from clusterlib.sim.transport import InProcessTransport

    sim = SimCluster.build(args.nodes, args.groups, os="2012R2", upgrade_to="2016",
                           speed=args.speed)
    if args.crash_node:
        sim.inject(NodeCrashesDuringDrain(args.crash_node, after_moves=1))
    online = sorted(g.name for g in sim.snapshot().groups if g.state is GroupState.Online)
    original = sim.snapshot().placement()
    listener = Listener(("127.0.0.1", 0), authkey=_authkey())
    host, port = listener.address
    print(f"ADDRESS {host} {port}", flush=True)
    stop = threading.Event()

    def handle(conn: Connection) -> None:
        transports: dict[str | None, InProcessTransport] = {}
        try:
            while True:
                try:
                    request = conn.recv()
                except (EOFError, OSError):
                    return  # the client died (SIGKILL): nothing to clean up
                kind = request[0]
                try:
                    if kind == "pipeline":
                        node = request[1]
                        t = transports.setdefault(node, InProcessTransport(sim, node=node))
                        reply: Any = ("ok", t.run_pipeline(request[2]))
                    elif kind == "cmd":
                        node = request[1]
                        t = transports.setdefault(node, InProcessTransport(sim, node=node))
                        reply = ("ok", t.run_cmd(request[2]))
                    elif kind == "inspect":
                        snap = sim.snapshot()
                        reply = ("ok", {
                            "placement": snap.placement(), "original": original,
                            "online_at_start": online,
                            "groups": {g.name: g.state.name for g in snap.groups},
                            "nodes": {n.name: [n.state.name, sim.nodes[n.name].release.key]
                                      for n in snap.nodes},
                            "private_props": dict(sim.private_props),
                            "installs": [e.subject for e in sim.events
                                         if e.kind == "upgrade-start"],
                            "pending": bool(sim._queue),
                        })
                    elif kind == "shutdown":
                        stop.set()
                        reply = ("ok", None)
                    else:
                        reply = ("error", f"unknown request {kind!r}")
                except Exception as exc:  # report it to the client, keep serving
                    reply = ("error", f"{type(exc).__name__}: {exc}")
                try:
                    conn.send(reply)
                except (EOFError, OSError):
                    return
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn = listener.accept()
            except (EOFError, ConnectionError, AuthenticationError):
                continue  # a client killed during the handshake: serve the next one
            except OSError:
                return  # the listener was closed
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    stop.wait()
    listener.close()


# ---- client transport ------------------------------------------------------------------------


class RPCTransport:
    """A Transport whose commands run in the simulator server process."""

    def __init__(self, port: int, node: str | None = None, speed: float = 1.0) -> None:
        self.port = port
        self.node = node
        self.time_scale = speed
        self.endpoint = f"rpc:127.0.0.1:{port}" + (f"/{node}" if node else "")
        self._conn: Connection | None = None

    def _call(self, *request: Any) -> Any:
        if self._conn is None:
            try:
                self._conn = Client(("127.0.0.1", self.port), authkey=_authkey())
            except OSError as exc:
                raise ConnectionFailed(f"{self.endpoint}: {exc}") from exc
        try:
            self._conn.send(request)
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise ConnectionFailed(f"{self.endpoint}: {exc}") from exc
        if status != "ok":
            raise RuntimeError(value)
        return value

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        result: PSResult = self._call("pipeline", self.node, pipeline)
        return result

    def run_cmd(self, line: CmdLine) -> CmdResult:
        result: CmdResult = self._call("cmd", self.node, line)
        return result

    def for_node(self, node: str) -> RPCTransport:
        return RPCTransport(self.port, node, self.time_scale)

    def inspect(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("inspect")
        return result

    def shutdown(self) -> None:
        self._call("shutdown")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---- upgrade child ---------------------------------------------------------------------------


def upgrade(args: argparse.Namespace) -> int:
    import clusterlib
    from clusterlib.upgrade import RemoteCommand, RollingUpgrade, UpgradeStopped

    transport = RPCTransport(args.port, speed=args.speed)
    cluster = clusterlib.connect(transport)  # type: ignore[arg-type]

    def show(event: Any) -> None:
        print(json.dumps(event.to_dict()), flush=True)

    try:
        if args.mode == "run":
            report = RollingUpgrade(cluster, action=RemoteCommand(SETUP), journal=args.journal,
                                    on_event=show, target="9.3").run()
        else:
            report = RollingUpgrade.resume(cluster, journal=args.journal, on_event=show,
                                           resend_action=args.resend_action).run()
    except UpgradeStopped as exc:
        print(json.dumps({"type": "stopped", "text": str(exc)}), flush=True)
        return 4
    except Exception as exc:
        print(json.dumps({"type": "error", "text": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 3
    print(json.dumps({"type": "done", "outcome": report.outcome}), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("serve", "run", "resume"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--journal", default="")
    parser.add_argument("--speed", type=float, default=5000.0)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--groups", type=int, default=12)
    parser.add_argument("--crash-node", default="")
    parser.add_argument("--resend-action", action="append", default=[])
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args)
        return 0
    return upgrade(args)


if __name__ == "__main__":
    sys.exit(main())
