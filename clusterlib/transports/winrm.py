"""The WinRM transport: pipelines over one reused pypsrp RunspacePool, command lines over WinRS,
every pypsrp/requests failure translated into clusterlib's ConnectionFailed branch.

Retry rule, declared once here: an ``idempotent`` pipeline or command line is re-sent on a
transient transport failure (the transport's ``retry``, a ``TransportRetry``); anything else is
sent at most once, because a lost answer does not say whether the command ran. Opening the
runspace pool is always retryable: nothing was sent yet. Every attempt of a call shares one
``CallBudget`` (connect_timeout, read_timeout, call_timeout): re-sends never stretch a call
past its bounds, and the final error states the time taken and the attempts made. Answers are
bounded in size and depth (``clusterlib.transports.bounded``). Back-off sleeps go through the
library's one clock, ``clusterlib.retry.CLOCK``, so tests can switch them off
(``clusterlib.retry.testing(wait=False)``).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import math
import os
import uuid
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import tenacity
from attrs import frozen

from clusterlib import retry as _retry
from clusterlib.errors import (
    AuthenticationError,
    ClusterError,
    ConnectionFailed,
    InsecureConnection,
    ResponseTooLarge,
    TransportTimeout,
)
from clusterlib.transports.bounded import (
    BoundedDefragmenter,
    CallBudget,
    ConnectionRegistry,
    Limits,
    bounded_send,
)
from clusterlib.transports.psrp_messages import BodyCache, build_powershell, install
from clusterlib.wire import CmdLine, CmdResult, ErrorRecord, Pipeline, PSResult
from clusterlib.wire.limits import DEFAULT_MAX_ENVELOPE_SIZE

if TYPE_CHECKING:
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.shell import WinRS
    from pypsrp.wsman import WSMan

log = logging.getLogger("clusterlib.transports.winrm")

T = TypeVar("T")

AUTH_CHOICES = ("negotiate", "kerberos", "ntlm", "basic", "credssp", "certificate")


@frozen
class TransportRetry:
    """How often an idempotent command is re-sent after a transient transport failure (always
    within the call's deadlines: a re-send that cannot finish in time is not made)."""

    attempts: int = 3
    initial: float = 0.5  # seconds before the first re-send (jittered, exponential)
    max_wait: float = 4.0


#: The default of ``WinRMTransport(retry=...)``; immutable, pass another to change it.
DEFAULT_RETRY = TransportRetry()

#: The default bound of one whole call (all attempts): generous enough for a long drain with
#: -Wait, finite so that no host can hold a call forever.
DEFAULT_CALL_TIMEOUT = 3600.0

# Marks the end of a statement's output. PSRP output carries no statement index, so between
# statements the transport adds ``Write-Output -InputObject <marker>`` (a cmdlet with a parameter,
# never script text) and splits the flat output on it. One random marker per transport: the
# cluster cannot guess it, and a repeated read's message stays byte-identical (cacheable).
_MARKER_PREFIX = "clusterlib:end-of-statement:"

#: Serialized messages of repeated reads kept per transport (``pipeline_cache``).
DEFAULT_PIPELINE_CACHE = 128
_NOT_STARTED = 0  # pypsrp PSInvocationState.NOT_STARTED: begin_invoke's Command did not go out


class _Retryable(Exception):
    """Internal: a transient ConnectionFailed, wrapped so tenacity can tell. ``unsent`` when the
    command never left (opening the pool failed): then even a non-idempotent one may go again."""

    def __init__(self, error: ConnectionFailed, unsent: bool = False) -> None:
        self.error = error
        self.unsent = unsent
        super().__init__(str(error))


class _OutOfTime(tenacity.stop.stop_base):
    """Stop re-sending once a deadline of the call has passed."""

    def __init__(self, budget: CallBudget) -> None:
        self.budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.budget.expired or self.budget.remaining() <= 0


def _retrying(policy: TransportRetry, budget: CallBudget) -> tenacity.Retrying:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("re-sending an idempotent command (attempt %d failed: %s)",
                    state.attempt_number, exc)

    return tenacity.Retrying(
        stop=tenacity.stop_any(tenacity.stop_after_attempt(max(1, policy.attempts)),
                               _OutOfTime(budget)),
        wait=tenacity.wait_random_exponential(multiplier=policy.initial, max=policy.max_wait),
        retry=tenacity.retry_if_exception_type(_Retryable),
        before_sleep=before_sleep,
        # A back-off never sleeps past the call's deadline.
        # The library's one clock: clusterlib.retry.testing() stops these sleeps too.
        sleep=lambda seconds: _retry.CLOCK.sleep(min(seconds, max(0.0, budget.remaining()))),
        reraise=True,
    )


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the name localhost (RFC 6761 6.3: it always resolves to loopback)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WinRMTransport:
    """Carries pipelines and command lines to one Windows host over WinRM (pypsrp).

    ``host`` is a cluster node or a management host with the FailoverClusters tools;
    ``cluster`` names the cluster when it is not the host's own (the dialect adds -Cluster).
    Credentials come from the arguments or ``CLUSTERLIB_USERNAME``/``CLUSTERLIB_PASSWORD``.
    ``cert_validation`` is True, False (warns) or the path of a CA bundle.

    Bounds of every call (all attempts included; see docs/connecting.md, "Timeouts and
    limits"): ``connect_timeout`` for reaching the host and opening a session;
    ``read_timeout`` for the host's next complete answer (default operation_timeout + 10; the
    WSMan operation timeout is lowered below it when needed); ``call_timeout`` for the whole
    call. ``max_response_bytes`` (default 4 x max_envelope_size, at least 1 MiB),
    ``max_message_bytes`` and ``max_depth`` bound what one answer or object may hold.
    Basic authentication over plain HTTP to a host outside the loopback range is refused
    unless ``allow_cleartext_basic=True`` (which warns on every connect).
    ``pipeline_cache`` bounds how many serialized messages of repeated reads are kept (0: none;
    see ``clusterlib.transports.psrp_messages``).
    """

    def __init__(
        self, host: str, *,
        username: str | None = None, password: str | None = None, auth: str = "negotiate",
        ssl: bool = True, port: int | None = None, cert_validation: bool | str = True,
        connect_timeout: float = 30.0, operation_timeout: float = 60.0,
        read_timeout: float | None = None, call_timeout: float = DEFAULT_CALL_TIMEOUT,
        cluster: str | None = None, time_scale: float = 1.0,
        max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE, max_response_bytes: int | None = None,
        max_message_bytes: int | None = None, max_depth: int | None = None,
        encryption: str = "auto", proxy: str | None = None,
        certificate_pem: str | None = None, certificate_key_pem: str | None = None,
        path: str = "wsman", node_path: str | None = None,
        retry: TransportRetry = DEFAULT_RETRY, allow_cleartext_basic: bool = False,
        pipeline_cache: int = DEFAULT_PIPELINE_CACHE,
    ) -> None:
        if auth not in AUTH_CHOICES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_CHOICES)}, got {auth!r}")
        self.host = host
        self.port = int(port) if port is not None else (5986 if ssl else 5985)
        self.endpoint = f"{host}:{self.port}"
        self.username = username if username is not None else os.environ.get("CLUSTERLIB_USERNAME")
        self.__password = _Secret(password if password is not None
                                  else os.environ.get("CLUSTERLIB_PASSWORD"))
        password = None  # no plain copy left in this frame for tracebacks to show
        self.auth = auth
        self.ssl = ssl
        self.cert_validation = cert_validation
        (self.connect_timeout, self.operation_timeout, self.read_timeout,
         self.call_timeout) = _timeouts(connect_timeout, operation_timeout, read_timeout,
                                        call_timeout)
        self.limits = Limits.for_envelope(max_envelope_size, max_response_bytes=max_response_bytes,
                                          max_message_bytes=max_message_bytes, max_depth=max_depth)
        self.retry = retry
        self.allow_cleartext_basic = bool(allow_cleartext_basic)
        self.cluster = cluster
        self.time_scale = float(time_scale)
        self.max_envelope_size = int(max_envelope_size)
        self.encryption = encryption
        self.proxy = proxy
        self._cert = (certificate_pem, certificate_key_pem)
        self.path = path
        # How to reach one node's own shell: None means the node's host name on the same port
        # (a real cluster); a template such as "wsman/node/{node}" keeps host and port and
        # changes the URL path (the simulator's endpoint, which serves every node).
        self.node_path = node_path
        self._wsman: WSMan | None = None
        self._pool: RunspacePool | None = None
        self._winrs: WinRS | None = None
        self._budget: CallBudget | None = None
        self._unresponsive = False  # the last call ran out of time
        self._registry = ConnectionRegistry()
        self._marker = f"{_MARKER_PREFIX}{uuid.uuid4()}"
        self._bodies = BodyCache(int(pipeline_cache))
        self._cached = False  # the pool's serializer goes through _bodies
        self.closed = False

        _check_security(self.endpoint, host, auth=auth, ssl=ssl, cert_validation=cert_validation,
                        allow_cleartext_basic=self.allow_cleartext_basic,
                        credentials=bool(self.username) and self.__password.value is not None)

    # ---- the Transport protocol ----

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self._check_open()
        log.debug("%s: pipeline %s", self.endpoint, pipeline.describe())
        return self._call(lambda: self._run_pipeline_once(pipeline), pipeline.idempotent)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        self._check_open()
        log.debug("%s: command line %s", self.endpoint, line.describe())
        return self._call(lambda: self._run_cmd_once(line), line.idempotent)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._unresponsive:
            # The last call ran out of time: do not wait for that host once more to say goodbye
            # (its shells end with the listener's IdleTimeout).
            self._pool = None
            self._winrs = None
        # Closing sends a request or two: bounded like a call, but short.
        self._budget = self._new_budget(call_timeout=min(self.call_timeout, self.read_timeout,
                                                         10.0))
        for closer in (self._close_pool, self._close_winrs):
            closer()
        self._budget = None
        self._registry.watchdog.close()
        if self._wsman is not None:
            try:
                self._wsman.close()
            except Exception:  # noqa: S110 - closing a dead session has nothing to report
                pass
            self._wsman = None

    def for_node(self, node: str) -> WinRMTransport:
        """A transport to one node's own host (same credentials and options), for actions that
        must run on the node itself."""
        from urllib.parse import quote

        host, path = node, "wsman"
        if self.node_path is not None:
            host, path = self.host, self.node_path.format(node=quote(node, safe=""))
        return WinRMTransport(
            host, path=path, node_path=self.node_path, username=self.username,
            password=self.__password.value, auth=self.auth,
            ssl=self.ssl, port=self.port, cert_validation=self.cert_validation,
            connect_timeout=self.connect_timeout, operation_timeout=self.operation_timeout,
            cluster=self.cluster or None, time_scale=self.time_scale,
            max_envelope_size=self.max_envelope_size, encryption=self.encryption,
            proxy=self.proxy, certificate_pem=self._cert[0], certificate_key_pem=self._cert[1],
            read_timeout=self.read_timeout, call_timeout=self.call_timeout,
            max_response_bytes=self.limits.max_response_bytes,
            max_message_bytes=self.limits.max_message_bytes, max_depth=self.limits.max_depth,
            retry=self.retry, allow_cleartext_basic=self.allow_cleartext_basic,
            pipeline_cache=self._bodies.entries)

    def __repr__(self) -> str:
        user = f" user={self.username!r}" if self.username else ""
        return f"<WinRMTransport {self.endpoint} auth={self.auth}{user}>"

    # ---- deadlines and retries ----

    def _new_budget(self, call_timeout: float | None = None) -> CallBudget:
        return CallBudget(self.endpoint, connect_timeout=self.connect_timeout,
                          read_timeout=self.read_timeout,
                          call_timeout=self.call_timeout if call_timeout is None else call_timeout)

    def _call(self, once: Callable[[], T], idempotent: bool) -> T:
        """One call under one budget; a failure's message ends with the real figures."""
        budget = self._budget = self._new_budget()
        try:
            result = self._with_retry(once, idempotent, budget)
            self._unresponsive = False
            return result
        except ConnectionFailed as exc:
            self._unresponsive = budget.expired
            # The pool is kept even when an answer was cut off: the shell lives on in the host
            # (dropping it would leave one more shell there, against MaxShellsPerUser), and the
            # next call's Command starts on a fresh connection.
            plural = "s" if budget.attempts != 1 else ""
            exc.args = (f"{exc} (gave up after {budget.elapsed():.2f} s,"
                        f" {budget.attempts} attempt{plural})",)
            raise
        finally:
            self._budget = None

    def _with_retry(self, once: Callable[[], T], idempotent: bool, budget: CallBudget) -> T:
        def attempt() -> T:
            budget.attempts += 1
            try:
                return once()
            except _Retryable as wrapped:
                if idempotent or wrapped.unsent:
                    raise
                raise wrapped.error from wrapped.error.__cause__

        try:
            return _retrying(self.retry, budget)(attempt)
        except _Retryable as wrapped:
            # Every attempt failed before the command left: say so, so an installer that was
            # never sent is a plain failure, not an "unconfirmed start" (upgrade.actions).
            wrapped.error.unsent = wrapped.unsent
            raise wrapped.error from wrapped.error.__cause__

    def _connection(self) -> WSMan:
        from pypsrp.wsman import WSMan

        if self._wsman is None:
            kwargs: dict[str, Any] = {}
            if self.auth == "certificate":
                kwargs.update(certificate_pem=self._cert[0], certificate_key_pem=self._cert[1])
            encryption = self.encryption
            if encryption == "auto" and not self.ssl and self.auth in ("basic", "certificate"):
                encryption = "never"  # pypsrp refuses Basic over HTTP otherwise
            secret = self.__password.value
            wsman = WSMan(
                self.host, port=self.port, path=self.path, username=self.username,
                password=_HiddenStr(secret) if secret is not None else None,
                # pypsrp hands cert_validation to requests' ``verify``: a CA bundle path works
                # although its annotation says bool.
                ssl=self.ssl, auth=self.auth,
                cert_validation=self.cert_validation,  # type: ignore[arg-type]
                connection_timeout=_secs(self.connect_timeout),
                read_timeout=_secs(self.read_timeout),
                # The host may hold a Receive for the whole operation timeout before answering
                # "no output yet": keep that below read_timeout, or every quiet Receive of a
                # long drain would look like a dead host.
                operation_timeout=self._wire_operation_timeout(),
                max_envelope_size=self.max_envelope_size, encryption=encryption,
                proxy=self.proxy, no_proxy=self.proxy is None and _is_loopback(self.host),
                reconnection_retries=0, **kwargs)
            del secret
            self._bound(wsman)
            self._wsman = wsman
        return self._wsman

    def _wire_operation_timeout(self) -> int:
        margin = max(1.0, min(10.0, self.read_timeout / 3))
        return max(1, math.floor(min(self.operation_timeout, self.read_timeout - margin)))

    def _bound(self, wsman: WSMan) -> None:
        """Route pypsrp's HTTP sends through ``bounded_send`` under the current call's budget,
        and drop pypsrp's copy of the password once its session (which needs it for the auth
        handshake) exists."""
        http = wsman.transport
        build = http._build_session

        def build_session() -> Any:
            session = build()
            self._registry.instrument(session)
            http.password = None
            return session

        def send_request(request: Any, timeout: Any = None) -> bytes:
            budget = self._budget or self._new_budget()
            return bounded_send(http, request, budget=budget, limits=self.limits,
                                registry=self._registry, connect_timeout=self.connect_timeout)

        # Instance attributes shadow the methods pypsrp calls through ``self``.
        http._build_session = build_session  # type: ignore[method-assign]
        http._send_request = send_request  # type: ignore[method-assign]

    # ---- PowerShell ----

    def _open_pool(self) -> RunspacePool:
        """The transport's one runspace pool, opened on first use (several round trips) and
        kept; any failure here happened before a command was sent, so it is retryable."""
        if self._pool is not None:
            return self._pool
        from pypsrp.powershell import RunspacePool

        try:
            with self._opening():
                pool = RunspacePool(self._connection())
                pool._fragmenter.defragment = BoundedDefragmenter(  # type: ignore[method-assign]
                    pool._fragmenter, self.limits, self.endpoint)
                self._cached = install(pool, self._bodies)
                pool.open()
        except Exception as exc:
            self._discard_session()
            raise self._retryable(exc, unsent=True) from None
        self._pool = pool
        return pool

    def _opening(self) -> Any:
        budget = self._budget or self._new_budget()
        return budget.opening()

    def _run_pipeline_once(self, pipeline: Pipeline) -> PSResult:
        pool = self._open_pool()
        marker = self._marker
        ps = self._build(pool, pipeline, marker)
        reopened = False
        while True:
            try:
                ps.begin_invoke()
                ps.end_invoke()
                break
            except Exception as exc:
                pool.pipelines.pop(ps.id, None)
                # The shell is gone (listener restarted, idle timeout): the Command never
                # reached a runspace, so reopen once and send it again whatever the pipeline is.
                if not reopened and ps.state == _NOT_STARTED and _shell_missing(exc):
                    reopened = True
                    self._discard_pool()
                    pool = self._open_pool()
                    ps = self._build(pool, pipeline, marker)
                    continue
                # A lost request or answer leaves the shell alive on the host: keep the pool
                # (the next call finds out if it is not) and let the caller decide on re-sending.
                if _shell_missing(exc):
                    self._discard_pool()
                raise self._retryable(exc) from None
        # pypsrp keeps every PowerShell in pool.pipelines until close() (one more round trip,
        # a Signal): forget it here, or a long-lived transport grows by one per call.
        pool.pipelines.pop(ps.id, None)
        return _result(ps, len(pipeline.statements), marker)

    def _build(self, pool: RunspacePool, pipeline: Pipeline, marker: str) -> PowerShell:
        # Only reads are answered from the cache: an action's message is built afresh each time.
        return build_powershell(pool, pipeline, marker,
                                cached=pipeline.idempotent and self._cached)

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            _quietly(pool.close)

    def _close_pool(self) -> None:
        self._discard_pool()

    def _discard_session(self) -> None:
        self._pool = None
        wsman, self._wsman = self._wsman, None
        if wsman is not None:
            _quietly(wsman.close)

    # ---- cmd.exe over WinRS ----

    def _open_winrs(self) -> WinRS:
        if self._winrs is not None:
            return self._winrs
        from pypsrp.shell import WinRS

        try:
            with self._opening():
                shell = WinRS(self._connection(), codepage=65001)  # UTF-8 console output
                shell.open()
        except Exception as exc:
            self._discard_winrs()
            raise self._retryable(exc, unsent=True) from None
        self._winrs = shell
        return shell

    def _run_cmd_once(self, line: CmdLine) -> CmdResult:
        from pypsrp.shell import Process, SignalCode

        shell = self._open_winrs()
        # The whole line is the WinRS Command: the listener hands it to cmd.exe /c unchanged,
        # so the quoting done by clusterlib.dialects.clusterexe_dialect is what cmd.exe parses.
        proc = Process(shell, line.line)
        try:
            proc.begin_invoke()
            proc.end_invoke()
        except Exception as exc:
            if _shell_missing(exc):
                self._discard_winrs()
            raise self._retryable(exc) from None
        _quietly(lambda: proc.signal(SignalCode.TERMINATE))
        return CmdResult(stdout=proc.stdout.decode("utf-8", errors="replace"),
                         stderr=proc.stderr.decode("utf-8", errors="replace"),
                         exit_code=int(proc.rc if proc.rc is not None else -1))

    def _discard_winrs(self) -> None:
        shell, self._winrs = self._winrs, None
        if shell is not None:
            _quietly(shell.close)

    def _close_winrs(self) -> None:
        self._discard_winrs()

    # ---- errors ----

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionFailed(f"{self.endpoint}: the transport is closed")

    def _retryable(self, exc: BaseException, *, unsent: bool = False) -> BaseException:
        """Translate, and mark what a blind re-send may fix (not rejected credentials)."""
        error = translate_error(exc, endpoint=self.endpoint, path=self.path,
                                username=self.username, auth=self.auth,
                                timeouts=(self.connect_timeout, self.read_timeout),
                                secret=self.__password.value)
        if isinstance(error, (AuthenticationError, ResponseTooLarge)) or not isinstance(
                error, ConnectionFailed):
            return error
        return _Retryable(error, unsent=unsent)


# ---- helpers ---------------------------------------------------------------------------------


def translate_error(exc: BaseException, *, endpoint: str, path: str, username: str | None,
                    auth: str, timeouts: tuple[float, float], secret: str | None) -> ClusterError:
    """pypsrp/requests exception -> clusterlib exception, naming host:port, never the
    password; the original is chained with its request/response detached."""
    import requests
    from pypsrp.exceptions import (
        AuthenticationError as PypsrpAuthError,
    )
    from pypsrp.exceptions import (
        WinRMTransportError,
        WSManFaultError,
    )

    if isinstance(exc, ClusterError):
        return exc
    error: ClusterError
    if isinstance(exc, PypsrpAuthError):
        error = AuthenticationError(
            f"{endpoint}: the credentials of user {username!r} were rejected (auth={auth})")
    elif isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout)):
        kind = "connect" if isinstance(exc, requests.exceptions.ConnectTimeout) else "read"
        limit = timeouts[0] if kind == "connect" else timeouts[1]
        error = TransportTimeout(f"{endpoint}: no answer within {kind}_timeout={limit:g} s")
    elif isinstance(exc, requests.exceptions.SSLError):
        error = ConnectionFailed(f"{endpoint}: TLS handshake failed: {_reason(exc)}")
    elif isinstance(exc, requests.exceptions.ConnectionError):
        # Behind one host:port (node_path), only the path says which node has no listener.
        where = endpoint if path == "wsman" else f"{endpoint}/{path}"
        error = ConnectionFailed(f"{where}: cannot reach the WinRM listener: {_reason(exc)}")
    elif isinstance(exc, WSManFaultError):
        error = ConnectionFailed(f"{endpoint}: WSMan fault {exc.code}: {exc.reason}")
    elif isinstance(exc, WinRMTransportError):
        text = (exc.response_text or "").strip().replace("\n", " ")[:300]
        error = ConnectionFailed(f"{endpoint}: HTTP {exc.code} from the WinRM listener"
                                 + (f": {text}" if text else ""))
    elif isinstance(exc, requests.exceptions.RequestException):
        error = ConnectionFailed(f"{endpoint}: {type(exc).__name__}: {_reason(exc)}")
    else:
        error = ConnectionFailed(f"{endpoint}: {type(exc).__name__}: {exc}")
    if isinstance(exc, requests.exceptions.RequestException):
        # The request carries the Authorization header; keep it out of reach of loggers.
        exc.request = None
        exc.response = None
    if secret and secret in str(error):
        error = type(error)(str(error).replace(secret, "***"))
    error.__cause__ = exc
    return error




class _Secret:
    """Holds the password so that repr(), vars() and debuggers show a placeholder."""

    __slots__ = ("value",)

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


class _HiddenStr(str):
    """The password as handed to pypsrp/requests, which need a real str to build the auth
    header: its repr (what debuggers and tracebacks that show locals print) is a placeholder."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


def _positive(name: str, value: float) -> float:
    number = float(value)
    if not number > 0 or math.isinf(number):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return number


def _timeouts(connect: float, operation: float, read: float | None,
              call: float) -> tuple[float, float, float, float]:
    """(connect, operation, read, call) in seconds, validated; read defaults to operation + 10."""
    operation = _positive("operation_timeout", operation)
    read = _positive("read_timeout", read if read is not None else operation + 10)
    if read < 2:
        raise ValueError(f"read_timeout must be at least 2 s (the host may hold each Receive"
                         f" for a 1 s operation timeout), got {read:g}")
    return (_positive("connect_timeout", connect), operation, read,
            _positive("call_timeout", call))


def _check_security(endpoint: str, host: str, *, auth: str, ssl: bool,
                    cert_validation: bool | str, allow_cleartext_basic: bool,
                    credentials: bool) -> None:
    """Refusals and warnings decided before anything is sent (warnings point at the caller of
    WinRMTransport())."""
    if not ssl and auth == "basic" and not _is_loopback(host):
        # Basic sends base64("user:password") in every request: over HTTP anyone on the path
        # reads it. Refused before any connection unless the caller opted in, loudly.
        if not allow_cleartext_basic:
            raise InsecureConnection(
                f"{endpoint}: refusing Basic authentication over plain HTTP (the password"
                " would cross the network in cleartext); use HTTPS (ssl=True, port 5986), or"
                " auth=kerberos/negotiate, which encrypt the messages over HTTP"
                " (or allow_cleartext_basic=True to accept the risk)")
        msg = (f"{endpoint}: Basic authentication over plain HTTP: the password crosses"
               " the network in cleartext (allow_cleartext_basic=True)")
        warnings.warn(msg, stacklevel=3)
        log.warning(msg)
    _check_extra(auth)
    if auth in ("basic", "ntlm", "credssp") and not credentials:
        raise AuthenticationError(
            f"{endpoint}: auth={auth} needs a username and a password (arguments, or"
            " the CLUSTERLIB_USERNAME and CLUSTERLIB_PASSWORD environment variables)")
    if cert_validation is False and ssl:
        msg = (f"{endpoint}: TLS certificate validation is OFF; anyone on the path can"
               " impersonate the host and read the credentials")
        warnings.warn(msg, stacklevel=3)
        log.warning(msg)
    if not ssl and auth == "certificate" and not _is_loopback(host):
        log.warning("%s: auth=certificate over plain HTTP sends data unencrypted"
                    " (the listener must allow AllowUnencrypted)", endpoint)


def _check_extra(auth: str) -> None:
    """Kerberos and CredSSP need optional packages; say which extra installs them."""
    needs = {"kerberos": ("gssapi", "krb5"), "credssp": ("requests_credssp",)}.get(auth)
    if needs is None:
        return
    if os.name == "nt" and auth == "kerberos":
        return  # SSPI, through pyspnego, needs nothing more on Windows
    if not any(importlib.util.find_spec(mod) is not None for mod in needs):
        raise ClusterError(f"auth={auth!r} needs the optional {auth} support:"
                           f" pip install 'clusterlib[{auth}]'")


def _secs(value: float) -> int:
    return max(1, math.ceil(value))


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception as exc:  # best-effort cleanup of a session that may already be dead
        log.debug("ignored during cleanup: %s", type(exc).__name__)


def _reason(exc: BaseException) -> str:
    # urllib3 buries the useful part ("Connection refused") in nested reasons.
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "Remote end closed connection", "Connection reset", "Connection aborted",
                   "CERTIFICATE_VERIFY_FAILED", "certificate verify failed",
                   "No route to host", "Network is unreachable"):
        if marker in text:
            return marker
    return text[:300]


def _shell_missing(exc: BaseException) -> bool:
    from pypsrp.exceptions import WSManFaultError

    return isinstance(exc, WSManFaultError) and exc.code in (0x8033805B, 2150858843)


def _result(ps: PowerShell, statements: int, marker: str) -> PSResult:
    outputs: list[list[Any]] = [[]]
    for item in ps.output:
        if isinstance(item, str) and item == marker:
            outputs.append([])
            continue
        outputs[-1].append(_plain(item))
    while len(outputs) < statements:
        outputs.append([])
    errors = tuple(_error_record(e) for e in ps.streams.error)
    warns = tuple(str(getattr(w, "message", w)) for w in ps.streams.warning)
    return PSResult(outputs=tuple(tuple(o) for o in outputs), errors=errors, warnings=warns)


def _plain(value: Any) -> Any:
    """What pypsrp deserialized -> the same shapes InProcessTransport._plain produces: objects
    become dicts of their (adapted and extended) properties, enums their names."""
    from pypsrp.complex_objects import ComplexObject, GenericComplexObject

    if isinstance(value, GenericComplexObject):
        if "System.Enum" in (value.types or []):
            return str(value)
        props = dict(value.adapted_properties)
        props.update(value.extended_properties)
        if not props and value.to_string is not None:
            return str(value)
        return {str(k): _plain(v) for k, v in props.items()}
    if isinstance(value, ComplexObject):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_CATEGORIES = (
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected",
    "InvalidArgument", "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType",
    "MetadataError", "NotImplemented", "NotInstalled", "ObjectNotFound", "OperationStopped",
    "OperationTimeout", "SyntaxError", "ParserError", "PermissionDenied", "ResourceBusy",
    "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError", "FromStdErr",
    "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
    "LimitsExceeded", "QuotaExceeded", "NotEnabled",
)  # System.Management.Automation.ErrorCategory, in value order


def _props(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    out: dict[str, Any] = {}
    out.update(getattr(obj, "adapted_properties", {}) or {})
    out.update(getattr(obj, "extended_properties", {}) or {})
    return out


def _win32_from_exception(exc: Any) -> int | None:
    """The Win32 code of a .NET exception: an inner Win32Exception's NativeErrorCode, or an
    HResult of the form 0x8007xxxx (HRESULT_FROM_WIN32)."""
    seen = 0
    while exc is not None and seen < 5:
        props = _props(exc)
        native = props.get("NativeErrorCode")
        if isinstance(native, int):
            return native
        inner = props.get("InnerException")
        if inner is not None:
            inner_code = _win32_from_exception(inner)
            if inner_code is not None:
                return inner_code
        hresult = props.get("HResult")
        if isinstance(hresult, int) and (hresult & 0xFFFF0000) == 0x80070000:
            return hresult & 0xFFFF
        exc = None
        seen += 1
    return None


def _error_record(rec: Any) -> ErrorRecord:
    exc = getattr(rec, "exception", None)
    message = getattr(rec, "details_message", None) or _props(exc).get("Message") or str(rec)
    category = getattr(rec, "category", None)
    if isinstance(category, int) and 0 <= category < len(_CATEGORIES):
        category_name = _CATEGORIES[category]
    else:
        category_name = str(getattr(rec, "message", "") or "").split(" ", 1)[0]
    target = getattr(rec, "target_name", None) or getattr(rec, "target_object", None) or ""
    return ErrorRecord(message=str(message), category=category_name,
                       error_id=str(getattr(rec, "fq_error", "") or ""),
                       target=str(target), win32_code=_win32_from_exception(exc))

