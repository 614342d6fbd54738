"""The target of one invocation (which cluster, how to reach it): the Target record and its validation.

``make_target`` turns the parsed connection options into a :class:`Target`: it merges a
``--profile`` under them, settles ``--host`` against ``--sim`` by where each came from, and
refuses option combinations that make no sense as usage errors (exit 2) before anything connects.
``build_sim`` makes the embedded simulator of ``--sim LAYOUT``; layouts themselves belong to the
library (:mod:`clusterlib.sim.layouts`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from clusterlib.sim import SimCluster
    from clusterlib.sim.layouts import Layout

DEFAULT_CONNECT_TIMEOUT = 30.0

NO_TARGET_MESSAGE = (
    "no cluster chosen: give --host HOST (or set CLUSTERLIB_HOST, or --profile NAME with a host),"
    " or --sim classic to try the simulator")


class Auth(str, enum.Enum):
    negotiate = "negotiate"
    ntlm = "ntlm"
    kerberos = "kerberos"
    basic = "basic"
    credssp = "credssp"
    certificate = "certificate"


class DialectChoice(str, enum.Enum):
    auto = "auto"
    powershell = "powershell"
    clusterexe = "clusterexe"


@dataclass(frozen=True)
class Target:
    """Where to connect and how: the parsed connection options of one invocation."""

    host: str | None = None
    cluster: str | None = None
    user: str | None = None
    auth: Auth | None = None
    ssl: bool | None = None
    port: int | None = None
    ca_bundle: Path | None = None
    insecure: bool = False
    dialect: DialectChoice = DialectChoice.auto
    sim: str | None = None
    speed: float | None = None
    time_scale: float | None = None
    node_path: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float | None = None
    call_timeout: float | None = None
    cert_pem: Path | None = None
    cert_key_pem: Path | None = None
    allow_cleartext_basic: bool = False
    keyring: bool = False
    password_stdin: bool = False
    # The plain --password option: accepted, warned about, never shown in a repr.
    password: str | None = field(default=None, repr=False)
    profile: str | None = None
    debug: bool = False

    @property
    def is_sim(self) -> bool:
        """An embedded simulator, chosen explicitly (--sim, CLUSTERLIB_SIM or a profile):
        there is no implicit one any more."""
        return self.sim is not None

    @property
    def layout(self) -> str:
        return self.sim or "classic"

    def describe(self) -> str:
        """Where we are going, for messages (never with credentials)."""
        if self.is_sim:
            return f"simulator ({self.layout})"
        port = f":{self.port}" if self.port else ""
        return f"{self.host}{port}"

    def connection_args(self) -> list[str]:
        """Every option that re-creates this target on another command line, secrets excepted
        (the password comes back from $CLUSTERLIB_PASSWORD, --password-stdin or the prompt).

        Values are spelled out even when a profile gave them, so the command still works if
        the profile is edited later; --profile is kept too, for the reader. Paths are made
        absolute: a resume may run from another folder.
        """
        if self.is_sim:
            args = ["--sim", self.layout]
            if self.speed is not None:
                args += ["--speed", f"{self.speed:g}"]
            return args
        args = ["--host", self.host or ""]
        for option, value in self._option_values():
            if value is True:
                args.append(option)
            elif isinstance(value, str):
                args += [option, value]
        return args

    def _option_values(self) -> list[tuple[str, str | bool | None]]:
        """(option, value) in command-line order: a string is the option's value, True a flag
        given alone, None or False an option left out."""
        def path(value: Path | None) -> str | None:
            return None if value is None else str(Path(value).expanduser().resolve())

        def number(value: float | None) -> str | None:
            return None if value is None else f"{value:g}"

        ssl = None if self.ssl is None else ("--ssl" if self.ssl else "--no-ssl")
        timeout = self.connect_timeout if self.connect_timeout != DEFAULT_CONNECT_TIMEOUT else None
        return [
            ("--profile", self.profile or None), ("--cluster", self.cluster or None),
            ("--port", str(self.port) if self.port else None), (ssl or "", ssl is not None),
            ("--ca-bundle", path(self.ca_bundle)), ("--insecure", self.insecure),
            ("--auth", self.auth.value if self.auth is not None else None),
            ("--user", self.user or None), ("--password-stdin", self.password_stdin),
            ("--keyring", self.keyring),
            ("--dialect", None if self.dialect is DialectChoice.auto else self.dialect.value),
            ("--connect-timeout", number(timeout)), ("--read-timeout", number(self.read_timeout)),
            ("--call-timeout", number(self.call_timeout)), ("--cert-pem", path(self.cert_pem)),
            ("--cert-key-pem", path(self.cert_key_pem)),
            ("--allow-cleartext-basic", self.allow_cleartext_basic),
            ("--time-scale", number(self.time_scale)), ("--node-path", self.node_path)]

    # The earlier name, kept for callers outside the CLI package.
    sim_args = connection_args


# --- from options to a Target ---------------------------------------------------------------------

def make_target(*, sources: dict[str, str] | None = None, **conn: Any) -> Target:
    """Validate option combinations (usage errors, exit 2) and fill in the profile.

    ``sources`` (option name -> Click's ParameterSource name) lets the command line win over
    CLUSTERLIB_* variables and both win over a profile, also between --host and --sim: a
    ``--sim`` typed on the command line overrides a host from the environment or a profile.
    Called without sources (e.g. by ``sim serve`` or ``demo``), every given value counts as typed.
    """
    from clusterlib_cli import profiles, render

    render.set_debug(bool(conn.get("debug")))
    src = dict(sources or {})
    for name, value in conn.items():
        if name not in src:
            src[name] = "DEFAULT" if value in (None, False) else "COMMANDLINE"
    if conn.get("profile"):
        profiles.apply_profile(conn["profile"], conn, src)
    _settle_host_or_sim(conn, src)
    if conn.get("host") is None and conn.get("sim") is None:
        render.usage_line(NO_TARGET_MESSAGE)
        raise typer.Exit(render.USAGE)
    if conn.get("dialect") is None:
        conn["dialect"] = DialectChoice.auto
    if conn.get("connect_timeout") is None:
        conn["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    target = Target(**conn)
    render.set_target(target)
    if target.is_sim:
        _check_sim_target(target)
    else:
        _check_host_target(target)
    return target


def _settle_host_or_sim(conn: dict[str, Any], src: dict[str, str]) -> None:
    """Both --host and --sim given: the stronger source wins; from the same source, refused."""
    from clusterlib_cli.profiles import rank

    if conn.get("host") is None or conn.get("sim") is None:
        return
    host_rank, sim_rank = rank(src, "host", 3), rank(src, "sim", 3)
    if host_rank == sim_rank:
        raise typer.BadParameter("give either --host (a real cluster) or --sim (the"
                                 " simulator), not both", param_hint="'--host' / '--sim'")
    loser = "sim" if host_rank > sim_rank else "host"
    conn[loser] = None
    if loser == "sim" and rank(src, "speed") < host_rank:
        conn["speed"] = None
    if loser == "host":
        # The host's companions from the same weaker source go with it (a profile's user
        # and port mean nothing to the simulator); typed ones stay and are refused below.
        from clusterlib.profiles import PROFILE_KEYS  # not at import: --help stays light

        for key in PROFILE_KEYS:
            if key not in ("sim", "speed") and 0 < rank(src, key) <= host_rank:
                conn[key] = None if key not in ("insecure",) else False


def _check_sim_target(target: Target) -> None:
    host_only = [opt for opt, on in (
        ("--cluster", target.cluster), ("--user", target.user), ("--auth", target.auth),
        ("--ssl/--no-ssl", target.ssl is not None), ("--port", target.port),
        ("--ca-bundle", target.ca_bundle), ("--insecure", target.insecure),
        ("--password-stdin", target.password_stdin), ("--password", target.password),
        ("--time-scale", target.time_scale), ("--node-path", target.node_path),
        ("--read-timeout", target.read_timeout), ("--call-timeout", target.call_timeout),
        ("--cert-pem", target.cert_pem), ("--cert-key-pem", target.cert_key_pem),
        ("--allow-cleartext-basic", target.allow_cleartext_basic),
        ("--keyring", target.keyring)) if on]
    if host_only:
        raise typer.BadParameter(f"{', '.join(host_only)} only apply with --host; the"
                                 " simulator needs no connection options",
                                 param_hint="'--host'")
    parse_layout(target.layout)  # fail fast, as a usage error, on an unknown layout


def _check_host_target(target: Target) -> None:
    if target.speed is not None:
        raise typer.BadParameter("--speed only applies to the simulator", param_hint="'--speed'")
    if target.insecure and target.ca_bundle is not None:
        raise typer.BadParameter("--insecure turns certificate validation off; --ca-bundle"
                                 " makes no sense with it", param_hint="'--insecure'")
    given = [name for name, on in (("--password", target.password is not None),
                                    ("--password-stdin", target.password_stdin),
                                    ("--keyring", target.keyring)) if on]
    if len(given) > 1:
        raise typer.BadParameter(f"give one password source, not {' and '.join(given)}",
                                 param_hint="'--password'")
    if target.insecure and target.ssl is False:
        raise typer.BadParameter("--insecure only concerns HTTPS; it makes no sense with"
                                 " --no-ssl", param_hint="'--insecure'")
    certs = target.cert_pem is not None or target.cert_key_pem is not None
    if certs and target.auth is not Auth.certificate:
        raise typer.BadParameter("--cert-pem/--cert-key-pem are for --auth certificate",
                                 param_hint="'--cert-pem'")
    if target.auth is Auth.certificate and (target.cert_pem is None
                                            or target.cert_key_pem is None):
        raise typer.BadParameter("--auth certificate needs --cert-pem FILE and --cert-key-pem"
                                 " FILE (the client certificate and its key, PEM)",
                                 param_hint="'--auth'")


# --- the simulator of --sim -----------------------------------------------------------------------

def parse_layout(text: str) -> Layout:
    """``classic``, ``classic-OS``, ``build:NxM`` or ``build:NxM@OS`` (usage error otherwise);
    one definition: :func:`clusterlib.sim.layouts.parse_layout`."""
    from clusterlib.sim.layouts import parse_layout as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--sim'") from exc


def build_sim(target: Target) -> SimCluster:
    """The simulator of ``--sim LAYOUT`` (a usage error for a layout Windows refuses, e.g. more
    nodes than the release allows)."""
    from clusterlib.sim.layouts import build

    layout = parse_layout(target.layout)
    try:
        return build(layout, speed=target.speed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--sim'") from exc
