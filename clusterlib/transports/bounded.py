"""Bounds on what a WinRM host can make the client wait for or hold: time, bytes and depth.

pypsrp reads every HTTP answer whole (``response.content``), hands socket-level timeouts to
requests (a host sending one byte every few seconds never trips them), retries a timed-out
Receive five times with growing sleeps, and parses CLIXML with a recursive deserializer. A
hostile or broken host could therefore keep a call waiting for minutes or fill the client's
memory. This module puts a bound on each of those, per transport call:

* ``CallBudget``: the deadlines of one ``run_pipeline``/``run_cmd`` call (connect_timeout for
  opening a session, read_timeout since the host's last answer, call_timeout overall), all
  attempts included. Each HTTP request gets the earliest of them as its deadline; a watchdog
  shuts the request's socket down when it passes, so a trickling answer is cut off too (one
  watchdog thread per transport, armed per request: ``Watchdog``).
* ``bounded_send``: pypsrp's ``_TransportHTTP._send_request`` with the body streamed and
  counted (``max_response_bytes``), compressed bodies refused, and the XML depth checked.
* ``BoundedDefragmenter``: pypsrp's PSRP defragmenter with a size bound per message
  (``max_message_bytes``) and a nesting-depth scan fed as fragments arrive, so a CLIXML object
  nested a million deep is refused after its first fragment, before any tree is built.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
import weakref
import xml.parsers.expat
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from attrs import frozen

from clusterlib.errors import ResponseTooLarge, TransportTimeout

if TYPE_CHECKING:
    import requests

log = logging.getLogger("clusterlib.transports.winrm")

MiB = 1024 * 1024


@frozen
class Limits:
    """How much one host may send. Every field is a hard bound; passing it fails the call with
    ``ResponseTooLarge`` naming the host and the bound.

    ``max_response_bytes``: one HTTP answer. A WinRM listener answers no larger than the
    MaxEnvelopeSize the client asked for (MS-WSMV 3.1.4.1.7, wsman:MaxEnvelopeSize; the
    transport's ``max_envelope_size``), so the default allows four times that (headroom for
    message encryption framing), at least 1 MiB.
    ``max_message_bytes``: one PSRP message reassembled from fragments (one output object or
    error record; MS-PSRP 2.2.4). 64 MiB by default.
    ``max_depth``: XML element nesting in an answer or a CLIXML message. In the exchanges with
    real Windows hosts that pypsrp records for its tests (jborean93/pypsrp v0.9.1,
    tests/tests_pypsrp/responses: 1024 envelopes, 395 PSRP messages including error records and
    PSVersionTable), the deepest envelope nests 9 levels and the deepest message 11. 100 by
    default: ample, and far below the recursion limit of pypsrp's deserializer.
    ``max_call_bytes``: everything received during one call (all answers, all attempts):
    256 MiB by default (a snapshot of 8000 groups is about 0.5 MB).
    """

    max_response_bytes: int
    max_message_bytes: int = 64 * MiB
    max_depth: int = 100
    max_call_bytes: int = 256 * MiB

    @classmethod
    def for_envelope(cls, max_envelope_size: int, **overrides: Any) -> Limits:
        given = {k: int(v) for k, v in overrides.items() if v is not None}
        given.setdefault("max_response_bytes", max(4 * int(max_envelope_size), MiB))
        for key, value in given.items():
            if value < 1:
                raise ValueError(f"{key} must be a positive number of bytes (or levels),"
                                 f" got {value}")
        return cls(**given)


class CallBudget:
    """The deadlines of one transport call, shared by all of its HTTP requests and attempts.

    ``connect_timeout`` bounds opening the session (TCP connect, the runspace pool or WinRS
    shell), counted from the first try in this call; ``read_timeout`` bounds the wait for the
    host's next complete answer, counted from its last one (a long drain whose Receives the
    host answers every operation timeout keeps going); ``call_timeout`` bounds the whole call.
    """

    def __init__(self, endpoint: str, *, connect_timeout: float, read_timeout: float,
                 call_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.call_timeout = call_timeout
        self.clock = clock
        self.started = clock()
        self.last_answer = self.started
        self._session_started: float | None = None  # set while no session could be opened yet
        self.attempts = 0
        self.received = 0
        self.expired = False  # a deadline passed: no further attempt can succeed

    def elapsed(self) -> float:
        return self.clock() - self.started

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """While no session is open, connect_timeout applies (all tries included, the pauses
        between them too)."""
        if self._session_started is None:
            # Counted from the start of the call when nothing has been answered yet (setting
            # up the client is part of reaching the host); from now on for a later reopen.
            fresh = self.last_answer == self.started
            self._session_started = self.started if fresh else self.clock()
        yield  # on failure the exception leaves here, and the bound keeps running
        self._session_started = None  # open: a later reopen in this call starts afresh

    def deadline(self) -> tuple[float, str]:
        """The earliest deadline for the next request and the name of the bound that sets it."""
        bounds = [(self.started + self.call_timeout, "call_timeout"),
                  (self.last_answer + self.read_timeout, "read_timeout")]
        if self._session_started is not None:  # opening, or between tries to open
            bounds.append((self._session_started + self.connect_timeout, "connect_timeout"))
        return min(bounds)

    def remaining(self) -> float:
        return self.deadline()[0] - self.clock()

    def answered(self, size: int) -> None:
        self.last_answer = self.clock()
        self.received += size

    def expire(self, bound: str) -> TransportTimeout:
        self.expired = True
        seconds = {"call_timeout": self.call_timeout, "read_timeout": self.read_timeout,
                   "connect_timeout": self.connect_timeout}[bound]
        what = {"call_timeout": "the call did not finish",
                "read_timeout": "no complete answer",
                "connect_timeout": "could not open a session"}[bound]
        return TransportTimeout(f"{self.endpoint}: {what} within {bound}={seconds:g} s")


class Watchdog:
    """Calls ``fire`` when an armed deadline passes: one thread for every request of a transport,
    where a ``threading.Timer`` per request started a thread each time (about 2 ms apiece on a
    loaded 2-core machine, a fifth of a small pipeline's cost). The thread sleeps until the
    earliest armed deadline, ends after ``idle`` seconds with nothing armed (or at ``close``),
    and starts again with the next ``arm``."""

    def __init__(self, fire: Callable[[], None], *, idle: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fire = fire
        self._idle = idle
        self._clock = clock
        self._cond = threading.Condition()
        self._armed: dict[int, float] = {}
        self._tokens = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, seconds: float) -> int:
        """Fire ``seconds`` from now unless disarmed first; returns the token for ``disarm``."""
        with self._cond:
            self._tokens += 1
            self._armed[self._tokens] = self._clock() + seconds
            self._closed = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="clusterlib-transport-watchdog")
                self._thread.start()
            else:
                self._cond.notify()
            return self._tokens

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def close(self) -> None:
        with self._cond:
            self._armed.clear()
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._armed:
                    if self._closed or (not self._cond.wait(self._idle) and not self._armed):
                        self._thread = None
                        return
                    continue
                token, deadline = min(self._armed.items(), key=lambda item: item[1])
                left = deadline - self._clock()
                if left > 0:
                    self._cond.wait(left)
                    continue
                del self._armed[token]
                self._cond.release()  # fire without the lock: it may take its own
                try:
                    self._fire()
                finally:
                    self._cond.acquire()


class ConnectionRegistry:
    """The HTTP connections one pypsrp session opened, so a watchdog can cut them off."""

    def __init__(self) -> None:
        self._conns: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.watchdog = Watchdog(self.cut)
        self._proxies: weakref.WeakKeyDictionary[Any, dict[str, Any]] = (
            weakref.WeakKeyDictionary())

    def proxies(self, session: requests.Session, request: Any) -> Any:
        """The proxies requests' ``Session.send`` would work out for ``request``, worked out once
        per session and URL. ``send`` does it on every request by reading every environment
        variable (a quarter of a small pipeline's client CPU); pypsrp has already fixed the
        session's proxies from the environment when it built the session, so the answer cannot
        change for the same URL unless the environment does. None where this requests has no
        ``resolve_proxies`` (``send`` then decides as before)."""
        try:
            from requests.utils import resolve_proxies
        except ImportError:
            return None
        with self._lock:
            known = self._proxies.setdefault(session, {})
            found = known.get(request.url)
        if found is None:
            found = resolve_proxies(request, session.proxies, session.trust_env)
            with self._lock:
                known[request.url] = found
        return found

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.add(conn)

    def cut(self) -> None:
        """Shut every socket down: a thread blocked reading one wakes up with EOF or an error.
        The plain socket's shutdown is used even for TLS so the TLS object is left to its
        reader thread."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is None:
                continue
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def instrument(self, session: requests.Session) -> None:
        """Register every connection the session's pools create from now on."""

        def wrap_pool(pool_cls: Callable[..., Any]) -> Callable[..., Any]:
            def make_pool(*args: Any, **kwargs: Any) -> Any:
                pool = pool_cls(*args, **kwargs)
                conn_cls = pool.ConnectionCls

                def make_conn(*cargs: Any, **ckwargs: Any) -> Any:
                    conn = conn_cls(*cargs, **ckwargs)
                    self.add(conn)
                    return conn

                pool.ConnectionCls = make_conn
                return pool

            return make_pool

        for adapter in session.adapters.values():
            manager = getattr(adapter, "poolmanager", None)
            if manager is None:
                continue
            classes = dict(manager.pool_classes_by_scheme)
            manager.pool_classes_by_scheme = {k: wrap_pool(v) for k, v in classes.items()}


# ---- depth ------------------------------------------------------------------------------------


class _TooDeep(Exception):
    pass


class _Refused(Exception):
    pass


class DepthScanner:
    """Feeds XML bytes to expat (C, streaming, no tree) and raises ``ResponseTooLarge`` once an
    element nests deeper than ``max_depth``. A DOCTYPE (entity expansion) is refused too: no
    WinRM or PSRP document has one. Malformed XML ends the scan quietly: the parser after us
    rejects it before building anything deep.

    Expat is only started when it could matter: an element opens at a ``<``, and a DOCTYPE or
    an entity declaration starts with ``<!``, so a document with no more ``<`` than
    ``max_depth`` and no ``<!`` can hold neither (counting bytes is C-speed; expat took 0.3 s of
    client CPU for the 21 MB of a 64 x 32,000 owner read, mostly one long string). Once the
    count passes ``max_depth`` or a ``<!`` arrives, what came so far is fed to expat and the
    scan goes on there: the same verdicts as expat from the first byte."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.failed: str | None = None
        self._done = False
        # Until expat is needed: the bytes so far, their count of "<", the last byte seen.
        self._held: list[bytes] | None = []
        self._opens = 0
        self._last = b""
        self._parser = xml.parsers.expat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._parser.EntityDeclHandler = self._doctype

    def _start(self, name: str, attrs: Any) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise _TooDeep

    def _end(self, name: str) -> None:
        self.depth -= 1

    def _doctype(self, *args: Any) -> None:
        raise _Refused

    def feed(self, data: bytes, final: bool = False) -> str | None:
        """None while fine; otherwise what was wrong ("nested deeper than N", "a DOCTYPE")."""
        if self._done:
            return self.failed
        if self._held is not None:
            self._opens += data.count(b"<")
            declares = b"<!" in data or (self._last == b"<" and data[:1] == b"!")
            self._held.append(data)
            self._last = data[-1:] or self._last
            if self._opens <= self.max_depth and not declares:
                self._done = final
                return None
            data, self._held = b"".join(self._held), None
        try:
            self._parser.Parse(data, final)
        except _TooDeep:
            self.failed = f"XML nested deeper than max_depth={self.max_depth}"
        except _Refused:
            self.failed = "an XML DOCTYPE or entity declaration"
        except xml.parsers.expat.ExpatError:
            pass
        else:
            if not final:
                return None
        self._done = True
        return self.failed


# ---- HTTP -------------------------------------------------------------------------------------


_CHUNK = 64 * 1024
_BOUNDARY = re.compile(r"boundary=['\"]?([^'\";]*)")


def bounded_send(transport: Any, request: requests.PreparedRequest, *, budget: CallBudget,
                 limits: Limits, registry: ConnectionRegistry, connect_timeout: float) -> bytes:
    """pypsrp ``_TransportHTTP._send_request``, bounded: same answer handling (message
    encryption, 401, other HTTP errors), but the answer must arrive whole before the call's
    deadline, within ``limits``, and never compressed. Timeouts surface as TransportTimeout,
    not requests' exceptions, so pypsrp's own re-send loop (five tries with sleeps of up to
    62 s) never runs: re-sending is decided once, above, within the same deadlines."""
    import requests

    deadline, bound = budget.deadline()
    remaining = deadline - budget.clock()
    if remaining <= 0:
        raise budget.expire(bound)
    if budget.received > limits.max_call_bytes:
        raise _too_large(budget.endpoint, "the answers of one call", "max_call_bytes",
                         limits.max_call_bytes)
    armed = registry.watchdog.arm(remaining)
    response = None
    try:
        # No redirects: a WinRM listener never sends one, and following it would carry the
        # request (and its credentials) to wherever the answer says.
        proxies = registry.proxies(transport.session, request)
        response = transport.session.send(
            request, stream=True, allow_redirects=False,
            timeout=(min(connect_timeout, remaining), remaining),
            **({} if proxies is None else {"proxies": proxies}))
        body = _read_body(response, limits, budget.endpoint)
    except ResponseTooLarge:
        with contextlib.suppress(Exception):
            response.raw.close()  # type: ignore[union-attr]  # set before the body is read
        raise
    except Exception as exc:  # requests', urllib3's, socket or TLS errors of a cut connection
        if response is not None:
            with contextlib.suppress(Exception):
                response.raw.close()
        # Message encryption is tied to the authenticated connection: as pypsrp does after its
        # own timeouts, make the next request authenticate afresh.
        transport.encryption = None
        # A read timeout is the deadline itself (the socket waits exactly what remains); a
        # connect timeout before the deadline is connect_timeout for this one connection, and
        # a later try may still fit.
        if budget.clock() >= deadline - 0.05 or isinstance(exc, requests.exceptions.ReadTimeout):
            raise budget.expire(bound) from None
        raise
    finally:
        registry.watchdog.disarm(armed)
    budget.answered(len(body))
    return _answer(transport, response, body, limits, budget.endpoint)


def _answer(transport: Any, response: Any, body: bytes, limits: Limits, endpoint: str) -> bytes:
    """What pypsrp's ``_send_request`` does with an answer: unwrap message encryption, raise
    on 401 and other HTTP errors; then the depth scan of the XML."""
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError

    response._content = body
    response._content_consumed = True
    response.raw.release_conn()
    content_type = response.headers.get("content-type", "")
    if content_type.startswith(("multipart/encrypted;", "multipart/x-multi-encrypted;")):
        match = _BOUNDARY.search(content_type)
        if match is None or transport.encryption is None:
            raise WinRMTransportError("http", response.status_code,
                                      "an encrypted answer without a boundary or a context")
        content = transport.encryption.unwrap_message(body, match.group(1))
    else:
        content = body
    text = content.decode("utf-8", errors="replace") if content else ""
    log.debug("Received message of %d bytes from %s", len(content), endpoint)
    if response.status_code == 401:
        raise AuthenticationError(f"Failed to authenticate the user {transport.username} with"
                                  f" {transport.auth}")
    if response.status_code >= 300:
        raise WinRMTransportError("http", response.status_code, text)
    problem = DepthScanner(limits.max_depth).feed(content, final=True) if content else None
    if problem is not None:
        raise ResponseTooLarge(f"{endpoint}: refused an answer containing {problem}")
    return content  # type: ignore[no-any-return]


def _read_body(response: Any, limits: Limits, endpoint: str) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # pypsrp asks for identity; a compressed answer could expand without bound.
        raise ResponseTooLarge(f"{endpoint}: refused an answer with Content-Encoding"
                               f" {encoding!r} (only uncompressed answers are accepted)")
    declared = response.headers.get("content-length")
    limit = limits.max_response_bytes
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(endpoint, f"an answer of {int(declared)} bytes", "max_response_bytes",
                         limit)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.raw.stream(_CHUNK, decode_content=False):
        total += len(chunk)
        if total > limit:
            raise _too_large(endpoint, "an answer", "max_response_bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(endpoint: str, what: str, bound: str, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"{endpoint}: refused {what} larger than {bound}={limit} bytes")


# ---- PSRP messages ----------------------------------------------------------------------------


class BoundedDefragmenter:
    """Replaces ``Fragmenter.defragment`` of one pypsrp RunspacePool: the same reassembly
    (MS-PSRP 2.2.4: object id, fragment id, start/end flags), with each message's size bounded
    and its CLIXML depth scanned while it arrives, before pypsrp deserializes it."""

    _HEADER = 40  # destination, message type, RPID, PID (MS-PSRP 2.2.1)

    def __init__(self, fragmenter: Any, limits: Limits, endpoint: str) -> None:
        self.fragmenter = fragmenter
        self.limits = limits
        self.endpoint = endpoint
        self._partial: dict[int, tuple[list[bytes], int, int, DepthScanner]] = {}

    def __call__(self, data: bytes) -> list[Any]:
        from pypsrp.exceptions import FragmentError
        from pypsrp.messages import Message
        from pypsrp.powershell import Fragment

        complete: list[bytes] = []
        while data:
            frag, data = Fragment.unpack(data)
            parts, next_id, size, scanner = self._partial.get(
                frag.object_id, ([], 0, 0, DepthScanner(self.limits.max_depth)))
            if frag.fragment_id != next_id:
                self._partial.pop(frag.object_id, None)
                raise FragmentError(f"Fragment Fragment Id: {frag.fragment_id} != Expected"
                                    f" Fragment Id: {next_id}")
            chunk = frag.data
            if frag.start:
                parts, size, scanner = [], 0, DepthScanner(self.limits.max_depth)
                scan_from = self._HEADER
            else:
                scan_from = max(0, self._HEADER - size)
            size += len(chunk)
            if size > self.limits.max_message_bytes:
                self._partial.pop(frag.object_id, None)
                raise _too_large(self.endpoint, "a PowerShell object", "max_message_bytes",
                                 self.limits.max_message_bytes)
            problem = scanner.feed(chunk[scan_from:], final=frag.end)
            if problem is not None:
                self._partial.pop(frag.object_id, None)
                raise ResponseTooLarge(f"{self.endpoint}: refused a PowerShell object"
                                       f" containing {problem}")
            parts.append(chunk)
            if frag.end:
                self._partial.pop(frag.object_id, None)
                complete.append(b"".join(parts))
            else:
                self._partial[frag.object_id] = (parts, next_id + 1, size, scanner)
        return [Message.unpack(message, self.fragmenter.serializer) for message in complete]
