"""A loopback WinRM listener serving a SimCluster to unmodified pypsrp: HTTP(S), Basic auth,
WS-Management shells (PowerShell via psrpcore, and cmd), request counting and wire faults.

::

    with sim.serve(ssl=True) as ep:             # or clusterlib.sim.endpoint.serve(sim, ...)
        cluster = clusterlib.connect(**ep.connect_options())
        ep.requests                              # HTTP requests served so far
        ep.set_faults(WireFaults(http500=0.2, seed=1))

What is and is not emulated is written down in docs/simulator-endpoint.md.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import datetime
import hmac
import http.server
import ipaddress
import logging
import random
import secrets
import shutil
import socket
import ssl as ssl_module
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from clusterlib.sim import wsman
from clusterlib.sim.wsman import Chunk, Request, WSManError
from clusterlib.wire.limits import DEFAULT_MAX_ENVELOPE_SIZE  # responses <= min(this, the ask)

if TYPE_CHECKING:
    from clusterlib.sim.psrp import PSRPShell
    from clusterlib.sim.simcluster import SimCluster

log = logging.getLogger(__name__)

# winrm/config/Winrs IdleTimeout, 7,200,000 ms by default: a shell no request touched for this
# long is deleted (learn.microsoft.com "Installation and configuration for Windows Remote
# Management", WinRS settings).
DEFAULT_IDLE_TIMEOUT = 7200.0
# How long a connection may sit without sending a byte: http.sys's IdleConnectionTimeout and
# HeaderWaitTimeout default to 120 s (learn.microsoft.com "Http.sys registry settings for Windows").
DEFAULT_READ_TIMEOUT = 120.0


@frozen
class WireFaults:
    """Faults the endpoint applies to a seeded-random fraction of requests.

    ``drop`` closes the connection without an answer, ``http500`` answers a bare HTTP 500,
    ``delay`` holds the answer ``delay_seconds``, ``reject_auth`` answers 401 even to good
    credentials. With ``after=True`` drops and 500s happen after the request took effect (the
    answer is lost, the command ran), the case where blind re-sending would repeat an action.
    ``actions`` limits faults to some WSMan actions by short name (``{"Command", "Receive"}``).
    """

    drop: float = 0.0
    http500: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.2
    reject_auth: float = 0.0
    seed: int | None = None
    after: bool = False
    actions: frozenset[str] = field(default=frozenset(), converter=frozenset)


@frozen
class _Decision:
    drop: bool = False
    http500: bool = False
    delay: bool = False
    reject_auth: bool = False


class _Dice:
    def __init__(self, faults: WireFaults | None) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed if faults else None)
        self.lock = threading.Lock()

    def roll(self, action: str) -> _Decision:
        f = self.faults
        if f is None or (f.actions and action not in f.actions):
            return _Decision()
        with self.lock:
            # One draw per kind, in a fixed order, so a seed reproduces the same run.
            return _Decision(drop=self.rng.random() < f.drop,
                             http500=self.rng.random() < f.http500,
                             delay=self.rng.random() < f.delay,
                             reject_auth=self.rng.random() < f.reject_auth)


@define
class _CmdCommand:
    line: str
    codepage: str
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int | None = None
    done: bool = False
    lost: bool = False  # SimAnswerLost: it ran, but the connection drops instead of the answer


@define
class _CmdShell:
    shell_id: str
    codepage: str
    node: str | None = None  # a shell on one node itself (path /wsman/node/NAME), else the host
    cond: threading.Condition = field(factory=threading.Condition)
    commands: dict[str, _CmdCommand] = field(factory=dict)


@define(repr=False)
class Endpoint:
    """A running loopback endpoint. ``password`` never appears in repr."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    ssl: bool
    ca_bundle: str | None
    time_scale: float
    max_envelope_size: int
    _server: _Server = field(alias="server")

    @property
    def requests(self) -> int:
        """HTTP requests received so far (every POST, including refused and faulted ones)."""
        return self._server.counter.total

    @property
    def actions(self) -> collections.Counter[str]:
        """Requests per WSMan action short name (``Create``, ``Command``, ``Receive``, ...)."""
        with self._server.counter.lock:
            return collections.Counter(self._server.counter.actions)

    @property
    def shells(self) -> int:
        """Shells open now (PowerShell and cmd)."""
        with self._server.lock:
            return len(self._server.ps_shells) + len(self._server.cmd_shells)

    @property
    def shells_expired(self) -> int:
        """Shells deleted so far by the idle timeout."""
        return self._server.shells_expired

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}/wsman"

    @property
    def exchanges(self) -> list[tuple[bytes, bytes]]:
        """(request, response) bodies, when served with ``record=True``."""
        return list(self._server.exchanges)

    def set_faults(self, faults: WireFaults | None) -> None:
        """Replace the wire faults (``None`` turns them off)."""
        self._server.dice = _Dice(faults)

    def set_receive_timeout(self, seconds: float | None) -> None:
        """Cap how long a Receive waits for output before the TimedOut fault (None: the
        client's OperationTimeout, as a real listener)."""
        self._server.receive_timeout = seconds

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``clusterlib.connect`` reaching this endpoint:
        ``clusterlib.connect(**ep.connect_options())``."""
        return {
            "target": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "auth": "basic",
            "ssl": self.ssl,
            "cert_validation": self.ca_bundle if self.ssl else True,
            "time_scale": self.time_scale,
            "node_path": "wsman/node/{node}",
        }

    def __repr__(self) -> str:
        return (f"<Endpoint {self.url} user={self.username!r} requests={self.requests}"
                f"{' tls' if self.ssl else ''}>")


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.actions: collections.Counter[str] = collections.Counter()

    def add(self) -> None:
        with self.lock:
            self.total += 1

    def action(self, name: str) -> None:
        with self.lock:
            self.actions[name] += 1


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a sixth simultaneous client waited for a SYN
    # retransmit (1 s) before being accepted.
    request_queue_size = 128

    def __init__(self, sim: SimCluster, address: tuple[str, int], *, username: str,
                 password: str, faults: WireFaults | None, max_envelope_size: int,
                 receive_timeout: float | None, record: bool, idle_timeout: float,
                 read_timeout: float) -> None:
        super().__init__(address, _Handler)
        self.idle_timeout = idle_timeout
        self.read_timeout = read_timeout
        self.last_used: dict[str, float] = {}  # shell id -> monotonic time of its last request
        self.shells_expired = 0
        self.sim = sim
        self.username = username
        self.password = password
        self.dice = _Dice(faults)
        self.max_envelope_size = max_envelope_size
        self.receive_timeout = receive_timeout
        self.counter = _Counter()
        self.record = record
        self.exchanges: list[tuple[bytes, bytes]] = []
        self.lock = threading.Lock()
        self.ps_shells: dict[str, PSRPShell] = {}
        self.cmd_shells: dict[str, _CmdShell] = {}
        self.tls: ssl_module.SSLContext | None = None
        self.address = ""

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # Handshake lazily in the handler thread so a slow client cannot stall accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished, spoke plain HTTP to the TLS port or failed its handshake is
        the client's problem: one DEBUG line, never a traceback in the ``sim serve`` terminal."""
        import sys

        exc = sys.exc_info()[1]
        log.debug("endpoint: connection from %s ended: %s: %s", client_address[0],
                  type(exc).__name__, exc)

    def register(self, shells: dict[str, Any], shell_id: str, shell: Any) -> None:
        """A new shell in ``shells`` (ps_shells or cmd_shells), idle from now."""
        with self.lock:
            shells[shell_id] = shell
            self.last_used[shell_id] = time.monotonic()

    def forget(self, shell_id: str) -> None:
        """A deleted shell: gone from both tables and from the idle clock."""
        with self.lock:
            self.ps_shells.pop(shell_id, None)
            self.cmd_shells.pop(shell_id, None)
            self.last_used.pop(shell_id, None)

    def touch(self, shell_id: str) -> None:
        with self.lock:
            if shell_id in self.ps_shells or shell_id in self.cmd_shells:
                self.last_used[shell_id] = time.monotonic()

    def expire_idle_shells(self) -> int:
        """Delete shells no request touched for ``idle_timeout`` seconds (as WinRS does for a
        client that vanished without deleting its shell). Returns how many were deleted."""
        now = time.monotonic()
        with self.lock:
            stale = [sid for sid, used in self.last_used.items()
                     if now - used >= self.idle_timeout]
            ps = [self.ps_shells.pop(sid) for sid in stale if sid in self.ps_shells]
            for sid in stale:
                self.cmd_shells.pop(sid, None)
                self.last_used.pop(sid, None)
            self.shells_expired += len(stale)
        for shell in ps:
            with shell.cond:
                shell.close()
        if stale:
            log.debug("endpoint: %d idle shell(s) deleted after %gs", len(stale), self.idle_timeout)
        return len(stale)

    def close_shells(self) -> None:
        with self.lock:
            shells = list(self.ps_shells.values())
            self.ps_shells.clear()
            self.cmd_shells.clear()
        for shell in shells:
            with shell.cond:
                shell.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    node: str | None = None

    protocol_version = "HTTP/1.1"  # keep-alive, as pypsrp's requests session expects
    # Headers and body leave in separate writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every round trip.
    disable_nagle_algorithm = True
    server: _Server
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("endpoint: " + format, *args)

    def setup(self) -> None:
        # A read timeout on the socket: a client that sends half a request, or keeps an idle
        # keep-alive connection, does not hold this thread forever (BaseHTTPRequestHandler
        # answers a timed-out read by closing the connection).
        super().setup()
        self.connection.settimeout(self.server.read_timeout)

    def do_GET(self) -> None:
        self.server.counter.add()
        self._send(405, b"", "text/plain")

    def do_POST(self) -> None:
        srv = self.server
        srv.counter.add()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        known, node = self._node_of_path()
        if not known:
            self._send(404, b"", "text/plain")
            return
        if node is not None and not self.server.sim.nodes[node].release.winrm:
            # Windows 2000 has no WinRM (reference section 7): nothing listens on that node, so
            # a client gets no answer at all (the connection closes), never an HTTP status.
            log.debug("endpoint: %s runs %s, which has no WinRM listener", node,
                      self.server.sim.nodes[node].release.label)
            self._drop()
            return
        self.node = node
        if not self._authorized():
            self._unauthorized()
            return
        try:
            req: Request | None = wsman.parse_request(body)
        except WSManError as err:
            self._send(500, wsman.fault("", err, srv.address), _SOAP)
            return
        assert req is not None
        short = req.action.rsplit("/", 1)[-1]
        srv.counter.action(short)
        dice = srv.dice  # one snapshot: set_faults() may swap it meanwhile
        roll = dice.roll(short)
        after = dice.faults is not None and dice.faults.after
        if roll.reject_auth:
            self._unauthorized()
            return
        if not after and roll.drop:
            self._drop()
            return
        if not after and roll.http500:
            self._send(500, b"Internal Server Error", "text/plain")
            return
        try:
            status, payload = self._dispatch(req, body)
        except _AnswerLost:
            self._drop()
            return
        if roll.delay and dice.faults is not None:
            time.sleep(dice.faults.delay_seconds)
        if roll.drop:
            self._drop()
            return
        if roll.http500:
            self._send(500, b"Internal Server Error", "text/plain")
            return
        if srv.record:
            with srv.lock:
                srv.exchanges.append((body, payload))
        self._send(status, payload, _SOAP)

    # ---- HTTP plumbing ----

    def _node_of_path(self) -> tuple[bool, str | None]:
        """(path known, node): /wsman is the cluster's host (node None); /wsman/node/NAME is a
        shell on node NAME itself (the simulator serves every node on one port)."""
        from urllib.parse import unquote

        path = self.path.rstrip("/")
        if path.lower() == "/wsman":
            return True, None
        prefix = "/wsman/node/"
        if path.lower().startswith(prefix):
            name = unquote(path[len(prefix):])
            for known in self.server.sim.nodes:
                if known.lower() == name.lower():
                    return True, known
        return False, None

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        # Compare in constant time; a Windows listener matches the user name case-insensitively.
        return (hmac.compare_digest(user.lower().encode(), self.server.username.lower().encode())
                and hmac.compare_digest(password.encode(), self.server.password.encode()))

    def _unauthorized(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", "Negotiate")
        self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # ---- WSMan dispatch ----

    def _dispatch(self, req: Request, raw: bytes) -> tuple[int, bytes]:
        srv = self.server
        try:
            if len(raw) > srv.max_envelope_size:
                raise WSManError(wsman.ENVELOPE_TOO_LARGE, "w:EncodingLimit",
                                 "The WS-Management service cannot process the request because"
                                 " the envelope size in the request is too large.")
            action, body = self._route(req)
            return 200, wsman.envelope(action, req.message_id, body)
        except WSManError as err:
            return 500, wsman.fault(req.message_id, err, srv.address)

    def _route(self, req: Request) -> tuple[str, str]:
        uri = req.resource_uri
        if req.shell_id:
            self.server.touch(req.shell_id)
        if req.action == wsman.GET and uri == wsman.SHELL_URI:
            shell_id = req.shell_id
            if shell_id not in self.server.ps_shells and shell_id not in self.server.cmd_shells:
                raise wsman.unknown_shell(shell_id)
            return (f"{wsman.TRANSFER}/GetResponse",
                    wsman.shell_get_response(shell_id or "", wsman.POWERSHELL_URI))
        if uri == wsman.POWERSHELL_URI:
            return self._powershell(req)
        if uri == wsman.CMD_URI:
            return self._cmd(req)
        raise WSManError(wsman.ACTION_NOT_SUPPORTED, "w:ActionNotSupported",
                         f"not simulated: action {req.action} on resource {uri}")

    def _budget(self, req: Request) -> int:
        return wsman.payload_budget(min(req.max_envelope_size, self.server.max_envelope_size))

    # ---- PowerShell (PSRP) ----

    def _ps_shell(self, req: Request) -> PSRPShell:
        shell = self.server.ps_shells.get(req.shell_id or "")
        if shell is None:
            raise wsman.unknown_shell(req.shell_id)
        return shell

    def _powershell(self, req: Request) -> tuple[str, str]:
        if req.action == wsman.CREATE:
            return self._ps_create(req)
        shell = self._ps_shell(req)
        if req.action == wsman.DELETE:
            self.server.forget(shell.shell_id)
            with shell.cond:
                shell.close()
            return f"{wsman.TRANSFER}/DeleteResponse", ""
        if req.action == wsman.COMMAND:
            return self._ps_command(req, shell)
        if req.action == wsman.SEND:
            return self._ps_send(req, shell)
        if req.action == wsman.RECEIVE:
            return f"{wsman.RSP}/ReceiveResponse", self._ps_receive(req, shell)
        if req.action == wsman.SIGNAL:
            return self._ps_signal(req, shell)
        raise WSManError(wsman.ACTION_NOT_SUPPORTED, "w:ActionNotSupported",
                         f"not simulated: action {req.action}")

    def _ps_create(self, req: Request) -> tuple[str, str]:
        from clusterlib.sim.psrp import PSRPShell

        srv = self.server
        body = req.body
        if body is None:
            raise _schema("rsp:Shell")
        shell_id = (body.attrib.get("ShellId") or str(uuid.uuid4())).upper()
        creation = body.find(f"{{{wsman.PWSH}}}creationXml")
        if creation is None or not creation.text:
            raise _schema("creationXml")
        shell = PSRPShell(srv.sim, shell_id, self._fragment_size(req))
        with shell.cond:
            shell.feed(base64.b64decode(creation.text))
        srv.register(srv.ps_shells, shell_id, shell)
        return self._created(req, shell_id, "stdin pr", "stdout")

    def _created(self, req: Request, shell_id: str, inputs: str, outputs: str) -> tuple[str, str]:
        """The CreateResponse of a new shell (the streams the client asked for, else ours)."""
        srv = self.server
        return (f"{wsman.TRANSFER}/CreateResponse",
                wsman.create_response(self._address(), req.resource_uri, shell_id,
                                      _text(req.body, "InputStreams") or inputs,
                                      _text(req.body, "OutputStreams") or outputs,
                                      srv.username, self.client_address[0], srv.idle_timeout))

    def _ps_command(self, req: Request, shell: PSRPShell) -> tuple[str, str]:
        body = req.body
        if body is None:
            raise _schema("rsp:CommandLine")
        command_id = (body.attrib.get("CommandId") or "").upper() or None
        args = [a.text or "" for a in body.findall(f"{{{wsman.RSP}}}Arguments")]
        with shell.cond:
            shell.fragment_size = self._fragment_size(req)
            for arg in args:
                shell.feed(base64.b64decode(arg), command_id)
            cmd = shell.command(command_id) if command_id else (
                list(shell.commands.values())[-1] if shell.commands else None)
        if cmd is None:
            raise _schema("a CreatePipeline fragment in rsp:Arguments")
        return f"{wsman.RSP}/CommandResponse", wsman.command_response(cmd.command_id)

    def _ps_send(self, req: Request, shell: PSRPShell) -> tuple[str, str]:
        if req.body is None:
            raise _schema("rsp:Send")
        with shell.cond:
            for stream in req.body.findall(f"{{{wsman.RSP}}}Stream"):
                cid = (stream.attrib.get("CommandId") or "").upper() or None
                if stream.text:
                    shell.feed(base64.b64decode(stream.text), cid)
        return f"{wsman.RSP}/SendResponse", "<rsp:SendResponse/>"

    def _ps_signal(self, req: Request, shell: PSRPShell) -> tuple[str, str]:
        if req.body is None:
            raise _schema("rsp:Signal")
        cid = (req.body.attrib.get("CommandId") or "").upper()
        code = _text(req.body, "Code") or ""
        with shell.cond:
            cmd = shell.command(cid)
            if cmd is not None:
                if code == wsman.SIGNAL_PS_CTRL_C:
                    shell.stop(cmd)
                else:
                    shell.terminate(cmd)
        return f"{wsman.RSP}/SignalResponse", "<rsp:SignalResponse/>"

    def _ps_receive(self, req: Request, shell: PSRPShell) -> str:
        desired = req.body.find(f"{{{wsman.RSP}}}DesiredStream") if req.body is not None else None
        cid = ((desired.attrib.get("CommandId") or "").upper() or None) if desired is not None \
            else None
        deadline = time.monotonic() + self._receive_wait(req)
        budget = self._budget(req)
        overhead = wsman.STREAM_OVERHEAD * 3 // 4
        with shell.cond:
            cmd = shell.command(cid) if cid else None
            if cid and cmd is None:
                raise wsman.unknown_command(shell.shell_id, cid)
            target = cmd.pipe.pipeline_id if cmd is not None else None
            while not shell.queues.get(target) and not (cmd is not None and cmd.done):
                if shell.closed:
                    raise wsman.unknown_shell(shell.shell_id)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise wsman.timed_out()
                shell.cond.wait(remaining)
            fragments = shell.take(target, budget, lambda f: len(f) + overhead)
            state = None
            if cmd is not None and cmd.done and not shell.queues.get(target):
                state = (wsman.STATE_DONE, 0)
                shell.terminate(cmd)  # delivered in full: nothing more to Receive
        return wsman.receive_response((Chunk("stdout", f) for f in fragments), cid, state)

    def _receive_wait(self, req: Request) -> float:
        cap = self.server.receive_timeout
        return req.operation_timeout if cap is None else min(cap, req.operation_timeout)

    def _fragment_size(self, req: Request) -> int:
        # One fragment must fit in one Stream of one response, with the PSRP header.
        return max(64, self._budget(req) - wsman.STREAM_OVERHEAD - 64)

    def _address(self) -> str:
        return f"{'https' if self.server.tls else 'http'}://{self.server.address}/wsman"

    # ---- cmd shell (WinRS) ----

    def _cmd(self, req: Request) -> tuple[str, str]:
        srv = self.server
        body = req.body
        if req.action == wsman.CREATE:
            shell_id = str(uuid.uuid4()).upper()
            page = req.options.get("WINRS_CODEPAGE", "437")
            srv.register(srv.cmd_shells, shell_id,
                         _CmdShell(shell_id, "utf-8" if page == "65001" else "cp437",
                                   node=self.node))
            return self._created(req, shell_id, "stdin", "stdout stderr")
        shell = srv.cmd_shells.get(req.shell_id or "")
        if shell is None:
            raise wsman.unknown_shell(req.shell_id)
        if req.action == wsman.DELETE:
            srv.forget(shell.shell_id)
            return f"{wsman.TRANSFER}/DeleteResponse", ""
        if req.action == wsman.COMMAND:
            if body is None:
                raise _schema("rsp:CommandLine")
            # WinRS runs "<Command> <Arguments...>" through cmd.exe /c: rebuild that line.
            parts = [_text(body, "Command") or ""]
            parts += [a.text or "" for a in body.findall(f"{{{wsman.RSP}}}Arguments")]
            line = " ".join(p for p in parts if p)
            command_id = (body.attrib.get("CommandId") or str(uuid.uuid4())).upper()
            command = _CmdCommand(line=line, codepage=shell.codepage)
            with shell.cond:
                shell.commands[command_id] = command
            threading.Thread(target=_run_cmd, args=(srv.sim, shell, command), daemon=True,
                             name=f"sim-winrs-{command_id[:8]}").start()
            return f"{wsman.RSP}/CommandResponse", wsman.command_response(command_id)
        if req.action == wsman.SEND:
            return f"{wsman.RSP}/SendResponse", "<rsp:SendResponse/>"
        if req.action == wsman.SIGNAL:
            cid = ((body.attrib.get("CommandId") if body is not None else None) or "").upper()
            with shell.cond:
                shell.commands.pop(cid, None)
            return f"{wsman.RSP}/SignalResponse", "<rsp:SignalResponse/>"
        if req.action == wsman.RECEIVE:
            return f"{wsman.RSP}/ReceiveResponse", self._cmd_receive(req, shell)
        raise WSManError(wsman.ACTION_NOT_SUPPORTED, "w:ActionNotSupported",
                         f"not simulated: action {req.action}")

    def _cmd_receive(self, req: Request, shell: _CmdShell) -> str:
        desired = req.body.find(f"{{{wsman.RSP}}}DesiredStream") if req.body is not None else None
        cid = (desired.attrib.get("CommandId") or "").upper() if desired is not None else ""
        deadline = time.monotonic() + self._receive_wait(req)
        budget = self._budget(req)
        with shell.cond:
            command = shell.commands.get(cid)
            if command is None:
                raise wsman.unknown_command(shell.shell_id, cid)
            while not command.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise wsman.timed_out()
                shell.cond.wait(remaining)
            if command.lost:
                shell.commands.pop(cid, None)
                raise _AnswerLost
            # As WinRS: data chunks first, then an empty End chunk per stream and the exit code.
            out = command.stdout[:budget]
            err = command.stderr[:max(0, budget - len(out))]
            command.stdout = command.stdout[len(out):]
            command.stderr = command.stderr[len(err):]
            chunks = [Chunk("stdout", out)] if out else []
            chunks += [Chunk("stderr", err)] if err else []
            finished = not command.stdout and not command.stderr
            if finished:
                chunks += [Chunk("stdout", b"", end=True), Chunk("stderr", b"", end=True)]
                state: tuple[str, int | None] = (wsman.STATE_DONE, command.exit_code)
            else:
                state = (wsman.STATE_RUNNING, None)
        return wsman.receive_response(chunks, cid, state)


_SOAP = "application/soap+xml;charset=UTF-8"


def _run_cmd(sim: SimCluster, shell: _CmdShell, command: _CmdCommand) -> None:
    """Worker: run a WinRS command line (cmd.exe, or powershell.exe) and keep its output."""
    from clusterlib.sim.cmdshell import run_command_line
    from clusterlib.sim.powershell_host import run_powershell_exe
    from clusterlib.sim.simcluster import SimAnswerLost

    try:
        word, _, rest = command.line.strip().partition(" ")
        program = word.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
        if program in ("powershell", "powershell.exe"):
            # powershell.exe exists on every release the endpoint serves (pywinrm's run_ps).
            out, err, code = run_powershell_exe(sim, rest)
        else:
            result = run_command_line(sim, command.line, node=shell.node)
            out, err, code = result.stdout, result.stderr, result.exit_code
    except SimAnswerLost as exc:
        log.debug("endpoint: answer lost: %s", exc)
        with shell.cond:
            command.lost = True
            command.done = True
            shell.cond.notify_all()
        return
    except Exception as exc:  # a simulator bug must reach the client as output
        out, err, code = "", f"simulator failure: {type(exc).__name__}: {exc}\r\n", 1
    with shell.cond:
        command.stdout = out.encode(command.codepage, errors="replace")
        command.stderr = err.encode(command.codepage, errors="replace")
        command.exit_code = code
        command.done = True
        shell.cond.notify_all()


class _AnswerLost(Exception):
    """The command ran but its answer is lost: the connection drops without a response."""


def _schema(what: str) -> WSManError:
    return WSManError(wsman.ACTION_NOT_SUPPORTED, "w:SchemaValidationError",
                      f"The SOAP XML in the message does not match the schema: missing {what}.")


def _text(body: Any, name: str) -> str | None:
    if body is None:
        return None
    el = body.find(f"{{{wsman.RSP}}}{name}")
    return el.text if el is not None else None


# ---- TLS ---------------------------------------------------------------------------------------


_RUN_PREFIX = "clusterlib-endpoint-"


def _clean_stale_run_dirs() -> None:
    """Delete the per-run TLS directories of endpoints whose process is gone (one SIGKILLed
    leaves its directory; it holds only the public CA certificate: the key never stays on disk).
    Directory names carry the owner's pid; another live process's directory is left alone."""
    import os

    base = Path(tempfile.gettempdir())
    for path in base.glob(f"{_RUN_PREFIX}*"):
        pid_text = path.name[len(_RUN_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or not path.is_dir() or path.is_symlink():
            continue
        try:
            if path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        pid = int(pid_text)
        if pid == os.getpid():
            continue  # an endpoint of this process still serving: its serve() removes it
        try:
            os.kill(pid, 0)
            continue  # alive: leave it
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


def _load_tls(directory: Path) -> tuple[str, ssl_module.SSLContext]:
    """The CA bundle path clients need, and a server context whose key was on disk only for
    the instant load_cert_chain read it (written 0600, then unlinked)."""
    import os

    ca_bundle, cert, key = _make_tls(directory)
    try:
        ctx = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl_module.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
    finally:
        for path in (key, cert):
            with contextlib.suppress(OSError):
                os.unlink(path)
    return ca_bundle, ctx


def _make_tls(directory: Path) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clusterlib simulator CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    import os

    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return str(ca_path), str(cert_path), str(key_path)


def _new_tls() -> tuple[str, str, ssl_module.SSLContext]:
    """A per-run directory (the CA bundle clients read stays there until the endpoint stops), the
    bundle's path and the server's TLS context."""
    import os

    _clean_stale_run_dirs()
    tmp = tempfile.mkdtemp(prefix=f"{_RUN_PREFIX}{os.getpid()}-")
    ca_bundle, context = _load_tls(Path(tmp))
    return tmp, ca_bundle, context


# ---- serve -------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(
    sim: SimCluster,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    username: str = "clusterlib",
    password: str | None = None,
    ssl: bool = False,
    faults: WireFaults | None = None,
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
    receive_timeout: float | None = None,
    record: bool = False,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Iterator[Endpoint]:
    """Serve ``sim`` on a loopback WinRM endpoint for the duration of the ``with`` block.

    ``port=0`` picks a free port; the password is random per call unless given.
    ``max_envelope_size`` is the listener's MaxEnvelopeSizekb*1024 (responses never exceed it
    nor the client's MaxEnvelopeSize). ``receive_timeout`` caps how long a Receive waits
    before answering the OperationTimeout fault (default: the client's OperationTimeout).
    ``record`` keeps every (request, response) body in ``Endpoint.exchanges``.
    ``idle_timeout`` (seconds, WinRS IdleTimeout: 7200 by default) deletes shells of clients
    that vanished; ``read_timeout`` (seconds, http.sys's 120 by default) closes connections that
    stay silent or send half a request.
    """
    secret = password if password is not None else secrets.token_urlsafe(18)
    server = _Server(sim, (host, port), username=username, password=secret, faults=faults,
                     max_envelope_size=max_envelope_size, receive_timeout=receive_timeout,
                     record=record, idle_timeout=idle_timeout, read_timeout=read_timeout)
    bound_port = int(server.server_address[1])
    server.address = f"{host}:{bound_port}"
    tmp: str | None = None
    ca_bundle = None
    try:
        if ssl:
            tmp, ca_bundle, server.tls = _new_tls()
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"sim-endpoint-{bound_port}", daemon=True)
        thread.start()
        stop_reaper, reaper = _start_reaper(server, idle_timeout, bound_port)
        endpoint = Endpoint(host=host, port=bound_port, username=username, password=secret,
                            ssl=ssl, ca_bundle=ca_bundle, time_scale=sim.speed,
                            max_envelope_size=max_envelope_size, server=server)
        log.debug("serving %r on %s", sim, endpoint.url)
        try:
            yield endpoint
        finally:
            stop_reaper.set()
            server.shutdown()
            thread.join(timeout=5)
            reaper.join(timeout=5)
    finally:
        server.close_shells()
        server.server_close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _start_reaper(server: _Server, idle_timeout: float,
                  port: int) -> tuple[threading.Event, threading.Thread]:
    """The thread deleting idle shells, and the event that stops it."""
    stop = threading.Event()

    def reap() -> None:
        # Checks a few times per idle period, at most once a second.
        interval = min(1.0, max(0.01, idle_timeout / 4))
        while not stop.wait(interval):
            server.expire_idle_shells()

    reaper = threading.Thread(target=reap, name=f"sim-endpoint-reaper-{port}", daemon=True)
    reaper.start()
    return stop, reaper
