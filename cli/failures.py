"""What a failure means at the terminal: its documented exit code, its one line, and a hint at what to change.

Exit codes are decided here and nowhere else:
0 ok, 1 the cluster refused or a check failed, 2 usage, 3 could not connect or authenticate,
4 an upgrade stopped safely and can be resumed, 5 an upgrade finished with problems (its report
says "degraded" or "incomplete", report.ok False), 130 interrupted outside an upgrade.
Printing them (scrubbed, escaped, with the traceback under --debug) is ``render.present_error``.
"""

from __future__ import annotations

from typing import Any

OK, REFUSED, USAGE, CONNECT, STOPPED, INTERRUPTED = 0, 1, 2, 3, 4, 130
#: Every step ran, but the report is not a clean completion ("degraded": a group was down
#: beyond its moves; "incomplete": nodes failed within --max-failed-nodes). Not 0, so a script
#: never takes it for success; not 4, since a resume does not turn it into a completion.
FINISHED_WITH_PROBLEMS = 5


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception raised while running a command."""
    from clusterlib import errors

    if is_resumable_stop(exc):
        return STOPPED
    if isinstance(exc, errors.ConnectionFailed):
        return CONNECT
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    return REFUSED


def exit_code_for_report(report: Any) -> int:
    """The documented exit code for the report an upgrade returned (or stopped with)."""
    outcome = str(getattr(report, "outcome", "") or "")
    if outcome == "completed":
        return OK
    if outcome in ("degraded", "incomplete"):
        return FINISHED_WITH_PROBLEMS
    if outcome in ("stopped", "running"):
        return STOPPED
    return REFUSED


def is_resumable_stop(exc: BaseException) -> bool:
    # The upgrade's "stopped safely, resumable" exception carries its report; matched by that
    # attribute, so this module need not import the upgrade package to classify errors.
    return exc.__class__.__name__ in ("UpgradeStopped", "StoppedSafely") or (
        hasattr(exc, "report") and hasattr(exc, "journal"))


def error_line(exc: BaseException) -> str:
    """One line a person can act on: the kind of failure and the library's message."""
    from clusterlib import errors

    kind = {
        errors.AuthenticationError: "authentication failed",
        errors.TransportTimeout: "timed out",
        errors.ConnectionFailed: "could not connect",
        errors.NotFound: "not found",
        errors.PreconditionFailed: "refused before sending anything",
        errors.NotSupported: "not supported",
        errors.ClusterRefused: "the cluster refused",
        errors.WaitTimeout: "timed out waiting",
    }
    label = "error"
    for cls in type(exc).__mro__:
        if cls in kind:
            label = kind[cls]
            break
    if not isinstance(exc, errors.ClusterError):
        label = f"unexpected {type(exc).__name__}"
    message = str(exc).strip() or type(exc).__name__
    # Keep it one line. A ParseError's later lines are raw cluster output: cut them. Other
    # multi-line messages (a preflight's list of failed checks) are the point: join them.
    first, _, rest = message.partition("\n")
    if rest and isinstance(exc, errors.ParseError):
        first += " (the output is shown with --debug)"
    elif rest:
        first = " ".join(line.strip().removeprefix("- ") for line in message.splitlines()
                         if line.strip())
    return f"{label}: {first}"


def _answers_tls(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether host:port completes a TLS handshake (no certificate check, nothing sent after
    it): tells an HTTPS listener from a plain one when --no-ssl got its connection closed."""
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a probe of the protocol only; no data is exchanged
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return True
    except (OSError, ssl.SSLError):
        return False


#: What GSSAPI/SSPI (through pyspnego) say when there is no ticket to use.
_KERBEROS_MARKERS = ("No Kerberos credentials available", "No credentials were supplied",
                     "Ticket expired", "credentials cache", "krb5_cc", "SpnegoError",
                     "Server not found in Kerberos database")


def _chain_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " | ".join(parts)


def connection_hint(exc: BaseException, target: Any = None) -> str | None:
    """What to change when a connection failed for a reason the options explain (``target``:
    the invocation's Target, whose --auth, --ssl, --host and --port the hint speaks of)."""
    from clusterlib import errors

    chain = _chain_text(exc)
    auth = getattr(getattr(target, "auth", None), "value", None)
    if auth in (None, "negotiate", "kerberos") and any(
            m in chain for m in _KERBEROS_MARKERS):
        return ("no usable Kerberos ticket: run `kinit user@REALM` first (`klist` shows your"
                " tickets), or use --auth ntlm with --user and a password")
    if not isinstance(exc, errors.ConnectionFailed) or isinstance(exc, errors.AuthenticationError):
        return None
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return ("the server's certificate is not trusted: give its CA with --ca-bundle FILE"
                " (PEM), or for a lab only turn validation off with --insecure")
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "the port does not speak TLS: if it is an HTTP listener (WinRM 5985), use --no-ssl"
    host = getattr(target, "host", None)
    if getattr(target, "ssl", None) is False and host and any(
            m in text for m in ("Remote end closed", "Connection reset", "Connection aborted")):
        port = getattr(target, "port", None) or 5985
        if _answers_tls(host, port):
            return (f"--no-ssl, but {host}:{port} is an HTTPS listener (it answered a TLS"
                    " handshake): use --ssl")
    return None
