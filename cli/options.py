"""The options every command shares (where the cluster is, how to log in); turns them into a Cluster.

Commands declare one parameter, ``target: Target``; ``@connection_options`` replaces it in the
signature Typer reads with the individual ``--host``/``--sim``/... options, so each command stays a
typed signature plus one library call and the options are spelled (and documented) once.

Passwords never come from a plain option unless the user insists: ``CLUSTERLIB_PASSWORD``,
``--password-stdin`` or a hidden prompt; ``--password`` works but warns. Every password read is
registered with ``render.add_secret`` so error presentation can scrub it from any message.
"""

from __future__ import annotations

import enum
import inspect
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    import clusterlib
    from clusterlib.sim import SimCluster
    from clusterlib.sim.layouts import Layout

PASSWORD_ENV = "CLUSTERLIB_PASSWORD"  # noqa: S105 - the variable's name, not a secret
PROFILES_ENV = "CLUSTERLIB_PROFILES"
DEFAULT_CONNECT_TIMEOUT = 30.0
CONN_PANEL = "Connection"
SIM_PANEL = "Simulator"


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


class Failback(str, enum.Enum):
    NoFailback = "NoFailback"
    Immediate = "Immediate"
    Policy = "Policy"


SIM_LAYOUTS_HELP = (
    "classic (Windows 2000 -> 2003, two nodes, driven with cluster.exe), classic-OS (e.g."
    " classic-2012r2: the same layout on OS, upgrading to the next release where a rolling"
    " upgrade exists), build:NxM[@OS] (N nodes, M groups; OS default 2016)"
)  # the same words as clusterlib.sim.layouts.LAYOUTS_HELP, which --help must not import


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
        if self.profile:
            args += ["--profile", self.profile]
        if self.cluster:
            args += ["--cluster", self.cluster]
        if self.port:
            args += ["--port", str(self.port)]
        if self.ssl is not None:
            args += ["--ssl" if self.ssl else "--no-ssl"]
        if self.ca_bundle is not None:
            args += ["--ca-bundle", str(Path(self.ca_bundle).expanduser().resolve())]
        if self.insecure:
            args += ["--insecure"]
        if self.auth is not None:
            args += ["--auth", self.auth.value]
        if self.user:
            args += ["--user", self.user]
        if self.password_stdin:
            args += ["--password-stdin"]
        if self.keyring:
            args += ["--keyring"]
        if self.dialect is not DialectChoice.auto:
            args += ["--dialect", self.dialect.value]
        if self.connect_timeout != DEFAULT_CONNECT_TIMEOUT:
            args += ["--connect-timeout", f"{self.connect_timeout:g}"]
        if self.read_timeout is not None:
            args += ["--read-timeout", f"{self.read_timeout:g}"]
        if self.call_timeout is not None:
            args += ["--call-timeout", f"{self.call_timeout:g}"]
        for flag, path in (("--cert-pem", self.cert_pem), ("--cert-key-pem", self.cert_key_pem)):
            if path is not None:
                args += [flag, str(Path(path).expanduser().resolve())]
        if self.allow_cleartext_basic:
            args += ["--allow-cleartext-basic"]
        if self.time_scale is not None:
            args += ["--time-scale", f"{self.time_scale:g}"]
        if self.node_path is not None:
            args += ["--node-path", self.node_path]
        return args

    # The earlier name, kept for callers outside the CLI package.
    sim_args = connection_args


# --- the option declarations (one place) ---------------------------------------------------------
# Every connection option also reads a CLUSTERLIB_* variable (Typer shows it in --help); the
# command line wins over the variable, and both win over a --profile.

HostOpt = Annotated[str | None, typer.Option(
    "--host", envvar="CLUSTERLIB_HOST", help="A cluster node or management host reachable over"
    " WinRM. A command needs --host (or a --profile naming one) or --sim.",
    rich_help_panel=CONN_PANEL)]
ClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", envvar="CLUSTERLIB_CLUSTER",
    help="The cluster to address when it is not the host's own.", rich_help_panel=CONN_PANEL)]
UserOpt = Annotated[str | None, typer.Option(
    "--user", "-u", envvar="CLUSTERLIB_USER", help="User name (DOMAIN\\user or user@domain). The"
    f" password comes from ${PASSWORD_ENV}, --password-stdin or a hidden prompt.",
    rich_help_panel=CONN_PANEL)]
AuthOpt = Annotated[Auth | None, typer.Option(
    "--auth", envvar="CLUSTERLIB_AUTH", help="WinRM authentication (default negotiate).",
    case_sensitive=False, rich_help_panel=CONN_PANEL)]
SslOpt = Annotated[bool | None, typer.Option(
    "--ssl/--no-ssl", envvar="CLUSTERLIB_SSL", help="WinRM over HTTPS (5986, default) or HTTP"
    " (5985, message-encrypted).", show_default=False, rich_help_panel=CONN_PANEL)]
PortOpt = Annotated[int | None, typer.Option(
    "--port", envvar="CLUSTERLIB_PORT", min=1, max=65535,
    help="WinRM port (default 5986 with --ssl, 5985 without).", rich_help_panel=CONN_PANEL)]
CaBundleOpt = Annotated[Path | None, typer.Option(
    "--ca-bundle", envvar="CLUSTERLIB_CA_BUNDLE", exists=True, dir_okay=False,
    help="PEM file of CAs to trust for the WinRM certificate.", rich_help_panel=CONN_PANEL)]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure", envvar="CLUSTERLIB_INSECURE", help="Do not validate the WinRM certificate"
    " (warned; for labs only).", rich_help_panel=CONN_PANEL)]
DialectOpt = Annotated[DialectChoice | None, typer.Option(
    "--dialect", envvar="CLUSTERLIB_DIALECT", case_sensitive=False, help="How to drive the"
    " cluster: auto (detect; the default), the FailoverClusters PowerShell module, or"
    " cluster.exe.", show_default=False, rich_help_panel=CONN_PANEL)]
ConnectTimeoutOpt = Annotated[float | None, typer.Option(
    "--connect-timeout", envvar="CLUSTERLIB_CONNECT_TIMEOUT", min=0.1, help="Seconds to wait"
    f" for the endpoint to answer (default {DEFAULT_CONNECT_TIMEOUT:g}).", show_default=False,
    rich_help_panel=CONN_PANEL)]
ReadTimeoutOpt = Annotated[float | None, typer.Option(
    "--read-timeout", envvar="CLUSTERLIB_READ_TIMEOUT", min=2, help="Seconds to wait for each"
    " answer once connected (default: the operation timeout + 10 s).", show_default=False,
    rich_help_panel=CONN_PANEL)]
CallTimeoutOpt = Annotated[float | None, typer.Option(
    "--call-timeout", envvar="CLUSTERLIB_CALL_TIMEOUT", min=1, help="Overall deadline of one"
    " call, retries and re-sends included (library default).", show_default=False,
    rich_help_panel=CONN_PANEL)]
CertPemOpt = Annotated[Path | None, typer.Option(
    "--cert-pem", envvar="CLUSTERLIB_CERT_PEM", exists=True, dir_okay=False, help="With --auth"
    " certificate: the client certificate (PEM).", rich_help_panel=CONN_PANEL)]
CertKeyPemOpt = Annotated[Path | None, typer.Option(
    "--cert-key-pem", envvar="CLUSTERLIB_CERT_KEY_PEM", exists=True, dir_okay=False,
    help="With --auth certificate: the certificate's private key (PEM).",
    rich_help_panel=CONN_PANEL)]
AllowCleartextOpt = Annotated[bool, typer.Option(
    "--allow-cleartext-basic", envvar="CLUSTERLIB_ALLOW_CLEARTEXT_BASIC", help="Let --auth basic"
    " with --no-ssl send the password in cleartext to a host outside 127.0.0.0/8 (refused"
    " otherwise; warned on every use). Prefer --ssl, or Kerberos/Negotiate.",
    rich_help_panel=CONN_PANEL)]
KeyringOpt = Annotated[bool, typer.Option(
    "--keyring", envvar="CLUSTERLIB_KEYRING", help="Take the password from the OS keyring"
    " (service 'clusterlib', account USER@HOST or USER; needs the keyring package).",
    rich_help_panel=CONN_PANEL)]
PasswordStdinOpt = Annotated[bool, typer.Option(
    "--password-stdin", envvar="CLUSTERLIB_PASSWORD_STDIN",
    help="Read the password from the first line of standard input.", rich_help_panel=CONN_PANEL)]
PasswordOpt = Annotated[str | None, typer.Option(
    "--password", help="The password itself (lands in shell history: prefer"
    f" ${PASSWORD_ENV} or --password-stdin; a warning is printed).", rich_help_panel=CONN_PANEL,
    show_default=False)]
ProfileOpt = Annotated[str | None, typer.Option(
    "--profile", envvar="CLUSTERLIB_PROFILE", help="A connection profile from profiles.toml in"
    f" the platform's config folder (~/.config/clusterlib on Linux; or ${PROFILES_ENV});"
    " options given on the command line or in the environment win.",
    rich_help_panel=CONN_PANEL)]
SimOpt = Annotated[str | None, typer.Option(
    "--sim", envvar="CLUSTERLIB_SIM", metavar="LAYOUT", help="Target a fresh embedded simulator"
    f" (nothing real is touched; every output says SIMULATED). Layouts: {SIM_LAYOUTS_HELP}.",
    rich_help_panel=SIM_PANEL)]
SpeedOpt = Annotated[float | None, typer.Option(
    "--speed", envvar="CLUSTERLIB_SPEED", min=0.001,
    help="Simulated seconds per wall-clock second (simulator default 1000).",
    rich_help_panel=SIM_PANEL)]
TimeScaleOpt = Annotated[float | None, typer.Option(
    "--time-scale", envvar="CLUSTERLIB_TIME_SCALE", min=0.001, help="With --host on a"
    " `clusterlib sim serve` endpoint: its speed, so waits and timeouts run in simulated time.",
    rich_help_panel=SIM_PANEL)]
NodePathOpt = Annotated[str | None, typer.Option(
    "--node-path", envvar="CLUSTERLIB_NODE_PATH", metavar="TEMPLATE", help="With --host on a"
    " `clusterlib sim serve` endpoint: the URL path of each node's own shell, e.g."
    " 'wsman/node/{node}' (a real cluster reaches each node by its host name instead).",
    rich_help_panel=SIM_PANEL)]
DebugOpt = Annotated[bool, typer.Option(
    "--debug", envvar="CLUSTERLIB_DEBUG", help="Show tracebacks and library logging on errors.",
    rich_help_panel="Output")]

_CONNECTION_PARAMS: dict[str, tuple[Any, Any]] = {
    "host": (HostOpt, None),
    "cluster": (ClusterOpt, None),
    "user": (UserOpt, None),
    "auth": (AuthOpt, None),
    "ssl": (SslOpt, None),
    "port": (PortOpt, None),
    "ca_bundle": (CaBundleOpt, None),
    "insecure": (InsecureOpt, False),
    "dialect": (DialectOpt, None),
    "connect_timeout": (ConnectTimeoutOpt, None),
    "read_timeout": (ReadTimeoutOpt, None),
    "call_timeout": (CallTimeoutOpt, None),
    "cert_pem": (CertPemOpt, None),
    "cert_key_pem": (CertKeyPemOpt, None),
    "allow_cleartext_basic": (AllowCleartextOpt, False),
    "keyring": (KeyringOpt, False),
    "password_stdin": (PasswordStdinOpt, False),
    "password": (PasswordOpt, None),
    "profile": (ProfileOpt, None),
    "sim": (SimOpt, None),
    "speed": (SpeedOpt, None),
    "time_scale": (TimeScaleOpt, None),
    "node_path": (NodePathOpt, None),
    "debug": (DebugOpt, False),
}



F = TypeVar("F", bound=Callable[..., Any])
_CTX_PARAM = "clusterlib_ctx"


def connection_options(fn: F) -> F:
    """Replace ``fn``'s ``target: Target`` parameter with the shared connection options.

    Typer reads ``__signature__``/``__annotations__``, so the wrapper advertises the command's
    own parameters followed by the connection options, and builds the Target before calling.
    Annotations are resolved here to real objects because the wrapper's module is not the
    command's (string annotations would be looked up in the wrong globals).
    """
    import typing

    hints = typing.get_type_hints(fn, include_extras=True)
    sig = inspect.signature(fn)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in sig.parameters.values() if p.name != "target"]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=annotation)
             for name, (annotation, default) in _CONNECTION_PARAMS.items()]

    def wrapper(**kwargs: Any) -> Any:
        ctx = kwargs.pop(_CTX_PARAM, None)
        conn = {name: kwargs.pop(name) for name in _CONNECTION_PARAMS}
        target = make_target(sources=_parameter_sources(ctx), **conn)
        return fn(target=target, **kwargs)

    # Typer hands a parameter annotated typer.Context the command's context: it tells where
    # each option's value came from (command line, environment or default).
    ctx_param = inspect.Parameter(_CTX_PARAM, inspect.Parameter.KEYWORD_ONLY,
                                  annotation=typer.Context)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra + [ctx_param]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__module__ = fn.__module__
    return wrapper  # type: ignore[return-value]


NO_TARGET_MESSAGE = (
    "no cluster chosen: give --host HOST (or set CLUSTERLIB_HOST, or --profile NAME with a host),"
    " or --sim classic to try the simulator")

# Where a value came from, strongest first: the command line beats the environment, which
# beats a profile, which beats the option's default.
_RANK = {"COMMANDLINE": 3, "ENVIRONMENT": 2, "PROFILE": 1, "DEFAULT": 0, "DEFAULT_MAP": 0,
         "PROMPT": 3}


def _parameter_sources(ctx: typer.Context | None) -> dict[str, str]:
    """Click's record of where each connection option's value came from (empty without one)."""
    if ctx is None:
        return {}
    sources: dict[str, str] = {}
    for name in _CONNECTION_PARAMS:
        source = ctx.get_parameter_source(name)
        if source is not None:
            sources[name] = source.name
    return sources


def make_target(*, sources: dict[str, str] | None = None, **conn: Any) -> Target:
    """Validate option combinations (usage errors, exit 2) and fill in the profile.

    ``sources`` (option name -> Click's ParameterSource name) lets the command line win over
    CLUSTERLIB_* variables and both win over a profile, also between --host and --sim: a
    ``--sim`` typed on the command line overrides a host from the environment or a profile.
    Called without sources (e.g. by ``sim serve`` or ``demo``), every given value counts as typed.
    """
    from clusterlib_cli import render

    render.set_debug(bool(conn.get("debug")))
    src = dict(sources or {})
    for name, value in conn.items():
        if name not in src:
            src[name] = "DEFAULT" if value in (None, False) else "COMMANDLINE"
    profile = conn.get("profile")
    if profile:
        for key, value in load_profile(profile).items():
            # Only where nothing stronger spoke: a typed --no-ssl (False) is a value too.
            if _RANK.get(src.get(key, "DEFAULT"), 0) == 0:
                conn[key] = _coerce_profile_value(key, value)
                src[key] = "PROFILE"
    if conn.get("host") is not None and conn.get("sim") is not None:
        host_rank, sim_rank = _RANK.get(src.get("host", ""), 3), _RANK.get(src.get("sim", ""), 3)
        if host_rank == sim_rank:
            raise typer.BadParameter("give either --host (a real cluster) or --sim (the"
                                     " simulator), not both", param_hint="'--host' / '--sim'")
        loser = "sim" if host_rank > sim_rank else "host"
        conn[loser] = None
        if loser == "sim" and _RANK.get(src.get("speed", ""), 0) < host_rank:
            conn["speed"] = None
        if loser == "host":
            # The host's companions from the same weaker source go with it (a profile's user
            # and port mean nothing to the simulator); typed ones stay and are refused below.
            from clusterlib.profiles import PROFILE_KEYS  # not at import: --help stays light

            for key in PROFILE_KEYS:
                if key not in ("sim", "speed") and _RANK.get(src.get(key, ""), 0) <= host_rank \
                        and _RANK.get(src.get(key, ""), 0) > 0:
                    conn[key] = None if key not in ("insecure",) else False
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
    else:
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
    return target


# --- profiles ------------------------------------------------------------------------------------

def profiles_path() -> Path:
    """Where profiles live (see :func:`clusterlib.profiles.profiles_path`)."""
    from clusterlib.profiles import profiles_path as path

    return path()


def load_profile(name: str) -> dict[str, Any]:
    """``[profiles.NAME]`` (:func:`clusterlib.profiles.load_profile`), as a usage error when it
    cannot be used."""
    from clusterlib.profiles import ProfileError
    from clusterlib.profiles import load_profile as load

    try:
        return load(name)
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--profile'") from exc


def _coerce_profile_value(key: str, value: Any) -> Any:
    """A profile value as the option would have parsed it; a bad one is a usage error naming
    the key and what is valid."""
    choices: dict[str, type[enum.Enum]] = {"auth": Auth, "dialect": DialectChoice}
    if key in choices:
        valid = [m.value for m in choices[key]]
        if str(value).lower() not in valid:
            raise typer.BadParameter(f"profile key {key!r}: {value!r} is not one of"
                                     f" {', '.join(valid)}", param_hint="'--profile'")
        return choices[key](str(value).lower())
    if key in ("ca_bundle", "cert_pem", "cert_key_pem"):
        return Path(str(value)).expanduser()
    expected: dict[str, tuple[type, ...]] = {
        "ssl": (bool,), "insecure": (bool,), "port": (int,), "connect_timeout": (int, float),
        "read_timeout": (int, float), "call_timeout": (int, float),
        "time_scale": (int, float), "speed": (int, float)}
    types = expected.get(key, (str,))
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        kind = " or ".join(t.__name__ for t in types)
        raise typer.BadParameter(f"profile key {key!r}: expected a {kind}, got {value!r}",
                                 param_hint="'--profile'")
    return value


# --- simulator layouts ---------------------------------------------------------------------------

def __getattr__(name: str) -> Any:
    # Layout lives with the simulator; imported on first use so --help never loads the simulator.
    if name == "Layout":
        from clusterlib.sim.layouts import Layout

        return Layout
    raise AttributeError(name)


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


# --- credentials and connecting ------------------------------------------------------------------

KEYRING_SERVICE = "clusterlib"


def _keyring_password(target: Target) -> str:
    """The password from the OS keyring (Windows Credential Manager, macOS Keychain, Secret
    Service) through the ``keyring`` package: service "clusterlib", user "USER@HOST", else
    "USER". Optional: without the package the error says how to get it."""
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise typer.BadParameter("--keyring needs the keyring package (pip install keyring)",
                                 param_hint="'--keyring'") from None
    if not target.user:
        raise typer.BadParameter("--keyring looks the password up by user: give --user",
                                 param_hint="'--keyring'")
    for account in (f"{target.user}@{target.host}", target.user):
        try:
            found = keyring.get_password(KEYRING_SERVICE, account)
        except Exception as exc:  # a locked or missing backend: say so, never a traceback
            raise typer.BadParameter(f"--keyring: the keyring could not be read"
                                     f" ({type(exc).__name__})", param_hint="'--keyring'") from None
        if found:
            return str(found)
    raise typer.BadParameter(
        f"--keyring: no password for {target.user}@{target.host} (nor {target.user}) under"
        f" service {KEYRING_SERVICE!r}; store it with: keyring set {KEYRING_SERVICE}"
        f" {target.user}@{target.host}", param_hint="'--keyring'")


def resolve_password(target: Target) -> str | None:
    """The password, from the safest source available; registered for scrubbing."""
    from clusterlib_cli import render

    password: str | None
    if target.password is not None:
        render.warn("--password leaves the password in your shell history and process list;"
                    f" prefer ${PASSWORD_ENV} or --password-stdin")
        password = target.password
    elif target.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise typer.BadParameter("--password-stdin: standard input was empty",
                                     param_hint="'--password-stdin'")
    elif target.keyring:
        password = _keyring_password(target)
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    elif target.user and (target.auth in (None, Auth.negotiate, Auth.ntlm, Auth.basic,
                                          Auth.credssp, Auth.kerberos)):
        if not sys.stdin.isatty():
            raise typer.BadParameter(f"no password for {target.user}: set ${PASSWORD_ENV}, use"
                                     " --password-stdin, or run in a terminal to be prompted",
                                     param_hint="'--user'")
        password = typer.prompt(f"Password for {target.user}@{target.host}", hide_input=True)
    else:
        password = None  # Kerberos ticket or certificate: nothing to ask
    if password:
        render.add_secret(password)
    return password


def open_cluster(target: Target, sim: SimCluster | None = None) -> clusterlib.Cluster:
    """One connection per invocation: a fresh simulator (or ``sim``), or WinRM to --host."""
    import clusterlib
    from clusterlib_cli import render

    if target.is_sim:
        return clusterlib.connect(sim if sim is not None else build_sim(target),
                                  dialect=target.dialect.value)
    if target.insecure:
        render.warn(f"--insecure: the certificate of {target.host} is not validated; anyone on the"
                    " path can read the credentials and commands")
    options: dict[str, Any] = {"connect_timeout": target.connect_timeout}
    password = resolve_password(target)
    if target.user:
        options["username"] = target.user
    if password is not None:
        options["password"] = password
    if target.auth is not None:
        options["auth"] = target.auth.value
    if target.ssl is not None:
        options["ssl"] = target.ssl
    if target.port is not None:
        options["port"] = target.port
    if target.time_scale is not None:
        options["time_scale"] = target.time_scale
    if target.node_path is not None:
        options["node_path"] = target.node_path
    if target.read_timeout is not None:
        options["read_timeout"] = target.read_timeout
    if target.call_timeout is not None:
        options["call_timeout"] = target.call_timeout
    if target.cert_pem is not None and target.cert_key_pem is not None:
        options["certificate_pem"] = str(target.cert_pem)
        options["certificate_key_pem"] = str(target.cert_key_pem)
    if target.allow_cleartext_basic:
        render.warn(f"--allow-cleartext-basic: the password for {target.user} crosses the network"
                    f" to {target.host} in cleartext (Basic over HTTP); anyone on the path can"
                    " read it")
        options["allow_cleartext_basic"] = True
    if target.insecure:
        options["cert_validation"] = False
    elif target.ca_bundle is not None:
        options["cert_validation"] = str(target.ca_bundle)
    assert target.host is not None
    with warnings.catch_warnings():
        # The transport warns about --insecure through `warnings`; we already said it, once.
        warnings.simplefilter("ignore")
        return clusterlib.connect(target.host, dialect=target.dialect.value,
                                  cluster=target.cluster, **options)
