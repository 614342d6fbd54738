"""Everything the CLI prints: the invocation's output context, terminal-safe text, JSON/YAML/CSV, errors.

Commands compute; this module presents. Each invocation has one :class:`RenderContext` (its
--debug, its target, the secrets no line may contain, its consoles), made by the app's callback;
every line goes through it, scrubbed of secrets and with control characters shown. The records'
documents and tables are in ``views``; exit codes and the one-line form of a failure in
``failures`` (re-exported here: ``render.exit_code_for`` and the codes).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

# The exit codes and the classification of failures live in failures.py; importable from here too.
from clusterlib_cli.failures import (
    CONNECT,
    FINISHED_WITH_PROBLEMS,
    INTERRUPTED,
    OK,
    REFUSED,
    STOPPED,
    USAGE,
    connection_hint,
    error_line,
    exit_code_for,
    exit_code_for_report,
    is_resumable_stop,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "CONNECT", "FINISHED_WITH_PROBLEMS", "INTERRUPTED", "OK", "REFUSED", "SIM_HTML_BANNER",
    "STOPPED", "USAGE", "RenderContext", "add_secret", "begin", "cell", "confirm",
    "connection_hint", "console", "current", "debug_enabled", "emit_csv", "emit_json", "emit_yaml",
    "error_line", "exit_code_for", "exit_code_for_report", "html_report", "info",
    "is_resumable_stop", "is_simulated", "mark", "mark_json_text", "out", "present_error",
    "print_serving", "scrub", "set_debug", "set_target", "sim_banner", "usage_line", "visible",
    "visible_lines", "warn", "yaml_text",
]

# --- the state of one invocation ------------------------------------------------------------------

class _WarnHandler(logging.Handler):
    """Library log records as one ``warning:`` line each (scrubbed), instead of Python's bare
    last-resort output."""

    def __init__(self, ui: RenderContext) -> None:
        super().__init__()
        self.ui = ui

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.ui.warn(record.getMessage())
        except Exception:  # noqa: S110 - a log line must never break a command
            pass


class RenderContext:
    """What the output of one invocation remembers: --debug, its target (so an error can say
    which option to change), the secrets no line may contain, and the rich consoles.

    The app's callback creates one per invocation and keeps it on typer's ``ctx.obj``; commands
    reach it with :func:`current`, and code that runs on other threads (progress lines, timers,
    log records) is handed it explicitly. The module-level ``out``/``info``/``warn``/... are
    the same methods on the current invocation's context.
    """

    def __init__(self) -> None:
        self.debug = False
        self.target: Any = None
        self.secrets: set[str] = set()
        self._consoles: dict[str, Console] = {}
        self._logger_before: tuple[int, bool] | None = None  # the library logger's, see close()

    def set_debug(self, on: bool) -> None:
        """--debug: every library log record with timestamps. Otherwise only errors, as
        warnings: routine retry notes would bury the one line that matters."""
        self.debug = on
        lib = logging.getLogger("clusterlib")
        if self._logger_before is None:
            self._logger_before = (lib.level, lib.propagate)
        for old in [h for h in lib.handlers if isinstance(h, _WarnHandler)]:
            lib.removeHandler(old)  # an earlier setting's, or an unclosed invocation's
        handler = _WarnHandler(self)
        lib.addHandler(handler)
        lib.propagate = on
        handler.setLevel(logging.CRITICAL + 1 if on else logging.ERROR)
        lib.setLevel(logging.DEBUG if on else logging.ERROR)
        if on:
            logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                                format="%(asctime)s %(name)s %(levelname)s %(message)s")

    def close(self) -> None:
        """The invocation is over: the library logger as it was before (an embedding program's
        or a test's next invocation starts from there)."""
        lib = logging.getLogger("clusterlib")
        for old in [h for h in lib.handlers if isinstance(h, _WarnHandler) and h.ui is self]:
            lib.removeHandler(old)
        if self._logger_before is not None:
            lib.setLevel(self._logger_before[0])
            lib.propagate = self._logger_before[1]
            self._logger_before = None

    def debug_enabled(self) -> bool:
        return self.debug or bool(os.environ.get("CLUSTERLIB_DEBUG"))

    def add_secret(self, secret: str) -> None:
        """Remember a secret so no message this invocation prints can contain it."""
        if secret:
            self.secrets.add(secret)

    def scrub(self, text: str) -> str:
        """Remove every known secret from ``text`` (defence in depth: the library never puts a
        password in a message, but a transport's foreign exception text might)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "********")
        return text

    def console(self, stderr: bool = False) -> Console:
        """Rich consoles, created on first use (rich is not imported for ``--help``). Colour
        only on a terminal; NO_COLOR is honoured by rich itself."""
        key = "err" if stderr else "out"
        con = self._consoles.get(key)
        stream = sys.stderr if stderr else sys.stdout
        # CliRunner swaps sys.stdout per invocation, so a cached console must follow the stream.
        if con is None or con.file is not stream:
            from rich.console import Console

            con = Console(file=stream, stderr=stderr, highlight=False, soft_wrap=False)
            self._consoles[key] = con
        return con

    def out(self, text: str = "") -> None:
        """Plain text to stdout, no markup interpretation, control characters shown."""
        sys.stdout.write(visible_lines(self.scrub(text)) + "\n")
        sys.stdout.flush()

    def info(self, text: str) -> None:
        """A human note on stderr (keeps stdout clean for --json)."""
        self.console(stderr=True).print(visible_lines(self.scrub(text)), markup=False,
                                        highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        self.console(stderr=True).print(
            f"[bold yellow]warning:[/] {_escape(visible_lines(self.scrub(text)))}",
            highlight=False, soft_wrap=True)

    def usage_line(self, text: str) -> None:
        """A usage problem as one line on stderr (the caller exits 2): no usage box, no
        traceback."""
        self.console(stderr=True).print(f"[bold red]error:[/] {_escape(self.scrub(text))}",
                                        highlight=False, soft_wrap=True)

    def present_error(self, exc: BaseException) -> int:
        """Print the error (one red line; the traceback too with --debug) and return the exit
        code."""
        return _present_error(self, exc)


#: The running invocation's context: set by the app's callback for the invocation's duration
#: (the same object as typer's ctx.obj). New threads start without it, by design of contextvars.
_CURRENT: contextvars.ContextVar[RenderContext | None] = contextvars.ContextVar(
    "clusterlib_cli_render", default=None)


def begin(ctx: Any) -> RenderContext:
    """Make a fresh context for the invocation of typer context ``ctx``: kept on ``ctx.obj``
    and current until the invocation's context closes."""
    ui = RenderContext()
    ctx.obj = ui
    token = _CURRENT.set(ui)

    def end() -> None:
        ui.close()
        _CURRENT.reset(token)

    ctx.call_on_close(end)
    return ui


def current() -> RenderContext:
    """The running invocation's context. Outside an invocation, or on a thread the invocation
    started, a fresh one: code that runs there is handed its context explicitly."""
    found = _CURRENT.get()
    return found if found is not None else RenderContext()


def __getattr__(name: str) -> Any:
    # The earlier module-level set of secrets, for callers that cleared it between invocations.
    if name == "_SECRETS":
        return current().secrets
    raise AttributeError(name)


def set_debug(on: bool) -> None:
    current().set_debug(on)


def debug_enabled() -> bool:
    return current().debug_enabled()


def set_target(target: Any) -> None:
    """The invocation's connection options, so errors can say which option to change."""
    current().target = target


def add_secret(secret: str) -> None:
    """Remember a secret so no message this invocation prints can contain it."""
    current().add_secret(secret)


def scrub(text: str) -> str:
    return current().scrub(text)


def console(stderr: bool = False) -> Console:
    return current().console(stderr)


# --- terminal safety -------------------------------------------------------------------------------
# Names come from the cluster, and a hostile or broken one can hold ESC sequences (recolour,
# retitle or rewrite the terminal), other control characters, or Unicode bidi overrides that
# display text in another order than it is stored (CVE-2021-42574, "Trojan Source"). Every
# piece of text the CLI sends to a terminal goes through ``visible`` (``out``, ``info``,
# ``warn``, errors, table cells, progress lines), which shows such characters as escapes
# instead of letting the terminal act on them. JSON needs nothing: json.dumps writes them as
# \uXXXX escapes (ensure_ascii).

#: Invisible format characters that reorder or hide text: bidi embeddings, overrides and
#: isolates, directional marks, zero-width characters, the line and paragraph separators and
#: the byte order mark.
_INVISIBLE = frozenset([0x061C, 0x180E, *range(0x200B, 0x2010), 0x2028, 0x2029,
                        *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF])


def _shown(ch: str) -> str:
    code = ord(ch)
    if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
        return f"\\x{code:02x}"
    if code in _INVISIBLE:
        return f"\\u{code:04x}"
    return ch


def visible(text: object) -> str:
    """``text`` with every control character (C0, DEL, C1; ESC becomes ``\\x1b``) and every
    invisible bidi/zero-width format character (``\\u202e``) written out as an escape."""
    raw = str(text)
    if raw.isprintable() and raw.isascii():
        return raw  # the common case, kept cheap
    return "".join(_shown(ch) for ch in raw)


def visible_lines(text: str) -> str:
    """Multi-line text made safe line by line (the line breaks stay; a carriage return,
    which would let a line overwrite itself, is shown)."""
    return "\n".join(visible(line) for line in text.split("\n"))


def out(text: str = "") -> None:
    current().out(text)


def info(text: str) -> None:
    current().info(text)


def warn(text: str) -> None:
    current().warn(text)


def cell(text: object) -> str:
    """A cluster-supplied value for a rich table cell or markup string: shown, then escaped."""
    return _escape(visible(text))


# --- simulated outputs say so ---------------------------------------------------------------------

def is_simulated(target: Any) -> bool:
    return bool(getattr(target, "is_sim", False))


def sim_banner(target: Any) -> None:
    """The SIMULATED line of every text output against the embedded simulator."""
    if is_simulated(target):
        out(f"SIMULATED: embedded simulator ({target.layout}); no real cluster was read or"
            " changed")


def mark(doc: dict[str, Any], target: Any) -> dict[str, Any]:
    """A JSON document with ``"simulated": true|false`` (documented in docs/cli.md)."""
    doc["simulated"] = is_simulated(target)
    return doc


def mark_json_text(text: str, target: Any) -> str:
    """The same for a library's ready-made JSON text (plan, report)."""
    doc = json.loads(text)
    if isinstance(doc, dict):
        recorded = doc.get("simulated") is True  # a report's own record of its endpoint
        doc = mark(doc, target)
        doc["simulated"] = doc["simulated"] or recorded
        return json.dumps(doc, indent=2, default=str)
    return text


SIM_HTML_BANNER = ('<p style="background:#fde68a;border:2px solid #b45309;padding:8px;'
                   'font-weight:bold">SIMULATED: this report comes from the embedded simulator;'
                   ' no real cluster was changed.</p>')


def html_report(report: Any, target: Any) -> str:
    """The self-contained HTML report, with a SIMULATED banner at the top of the body for a
    simulated run (the banner is fixed text: nothing cluster-supplied goes into it)."""
    from clusterlib.upgrade.report_html import report_document

    page = str(report_document(report))
    # The report's own record (its journal's endpoint) counts too: `upgrade report` has no target.
    if is_simulated(target) or getattr(report, "simulated", False) is True:
        page = page.replace("<body>", "<body>" + SIM_HTML_BANNER, 1)
    return page


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def usage_line(text: str) -> None:
    current().usage_line(text)


def emit_csv(rows: Sequence[Mapping[str, Any]], target: Any = None) -> None:
    """Records as CSV: the JSON field names as the header (plus ``simulated``), lists joined
    with ';', null as an empty cell. A cell that a spreadsheet would run as a formula (starting
    with = + - @, tab or CR: OWASP "CSV injection") gets a leading apostrophe."""
    import csv

    if not rows:
        return
    ui = current()
    fields = [*rows[0].keys(), "simulated"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        cells = []
        for key in fields:
            value = is_simulated(target) if key == "simulated" else row.get(key)
            text = ("" if value is None else ";".join(map(str, value))
                    if isinstance(value, (list, tuple)) else str(value).lower()
                    if isinstance(value, bool) else str(value))
            if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
                text = "'" + text
            cells.append(ui.scrub(text))
        writer.writerow(cells)
    sys.stdout.flush()


def yaml_text(doc: Any, indent: int = 0) -> str:
    """``doc`` (what JSON output holds: mappings, lists, strings, numbers, booleans, null) as
    block-style YAML 1.2. Every string is double-quoted with JSON's escapes, which YAML reads
    unchanged, so no name (``yes``, ``0x10``, ``- x``, ``: ``) can turn into another type; keys
    are quoted the same way. Written here rather than adding a YAML library for one emitter."""
    pad = "  " * indent
    if isinstance(doc, Mapping):
        if not doc:
            return "{}"
        lines = []
        for key, value in doc.items():
            head = f"{pad}{json.dumps(str(key))}:"
            lines.append(head + _yaml_child(value, indent))
        return "\n".join(lines)
    if isinstance(doc, (list, tuple)):
        if not doc:
            return "[]"
        return "\n".join(f"{pad}-" + _yaml_child(item, indent) for item in doc)
    return json.dumps(doc, default=str)


def _yaml_child(value: Any, indent: int) -> str:
    if isinstance(value, (Mapping, list, tuple)) and value:
        return "\n" + yaml_text(value, indent + 1)
    return " " + yaml_text(value, indent + 1)


def emit_yaml(doc: Mapping[str, Any]) -> None:
    sys.stdout.write(scrub(yaml_text(doc)) + "\n")
    sys.stdout.flush()


def emit_json(doc: Mapping[str, Any]) -> None:
    sys.stdout.write(scrub(json.dumps(doc, indent=2, default=str)) + "\n")
    sys.stdout.flush()


def present_error(exc: BaseException) -> int:
    """Print the error (one red line; the traceback too with --debug) and return the exit code."""
    return current().present_error(exc)


def _present_error(ui: RenderContext, exc: BaseException) -> int:
    con = ui.console(stderr=True)
    if ui.debug_enabled():
        import traceback

        con.print(ui.scrub("".join(traceback.format_exception(exc))), markup=False,
                  highlight=False, end="")
    # soft_wrap: the message stays one line whatever the terminal width (greppable logs).
    failed = getattr(exc, "failed", None)
    if type(exc).__name__ == "PreflightFailed" and failed:
        # One failed check per line: the point of a preflight is the list.
        con.print(f"[bold red]error:[/] preflight failed ({len(failed)} check"
                  f"{'s' if len(failed) != 1 else ''}); nothing was changed:", highlight=False,
                  soft_wrap=True)
        for check in failed:
            con.print(f"  - {cell(getattr(check, 'name', '?'))}:"
                      f" {cell(getattr(check, 'message', check))}", highlight=False,
                      soft_wrap=True)
        return exit_code_for(exc)
    line = ui.scrub(error_line(exc)).removeprefix("error: ")
    try:
        hint = connection_hint(exc, ui.target)
    except Exception:  # a hint must never hide the error itself
        hint = None
    if hint:
        line += f"; {hint}"
    con.print(f"[bold red]error:[/] {cell(line)}",
              highlight=False, soft_wrap=True)
    return exit_code_for(exc)


# --- confirmation ----------------------------------------------------------------------------------

def confirm(question: str, *, yes: bool) -> None:
    """Ask before changing the cluster; ``--yes`` skips. Without a terminal there is no one to
    ask, so refuse (exit 2) rather than guess."""
    import typer

    if yes:
        return
    question = visible(question)  # it names cluster-supplied nodes and groups
    if not sys.stdin.isatty():
        raise typer.BadParameter(f"{question} Refusing without confirmation: no terminal to ask"
                                 " on; pass --yes to proceed", param_hint="'--yes'")
    if not typer.confirm(question, default=False, err=True):
        info("Nothing was changed.")
        raise typer.Exit(REFUSED)


# --- sim serve -------------------------------------------------------------------------------------

def print_serving(endpoint: Any, *, layout: str, speed: float, password_file: Any) -> None:
    """How to reach a ``sim serve`` endpoint. The password is shown exactly once, or only
    written to a file readable by the owner alone."""
    import shlex

    if password_file is not None:
        fd = os.open(str(password_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(endpoint.password + "\n")
        os.chmod(str(password_file), 0o600)  # O_CREAT's mode does not apply to an existing file
        secret_ref = f"$(cat {shlex.quote(str(password_file))})"
    else:
        secret_ref = "'<password above>'"  # noqa: S105 - a placeholder shown to the user
    args = ["--host", endpoint.host, "--port", str(endpoint.port),
            "--ssl" if endpoint.ssl else "--no-ssl", "--auth", "basic",
            "--user", endpoint.username, "--time-scale", f"{speed:g}",
            "--node-path", endpoint.connect_options()["node_path"]]
    if endpoint.ssl and endpoint.ca_bundle:
        args += ["--ca-bundle", endpoint.ca_bundle]
    lines = [f"Serving simulated cluster ({layout}) on {endpoint.url}",
             f"user:     {endpoint.username}"]
    if password_file is None:
        lines.append(f"password: {endpoint.password}   (shown once; not stored anywhere)")
    else:
        lines.append(f"password: written to {password_file} (mode 0600)")
    lines += ["connect with:",
              f"  CLUSTERLIB_PASSWORD={secret_ref} clusterlib status {shlex.join(args)}",
              "Ctrl-C stops the endpoint."]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
