"""The command-line options shared by several commands, declared once, and the decorators that expand them.

Commands declare one parameter for a bundle of options, e.g. ``target: Target``;
``@connection_options`` replaces it in the signature Typer reads with the individual ``--host``/
``--sim``/... options and builds the Target before the command runs, so each command stays a
typed signature plus one library call and the options are spelled (and documented) once.
:func:`option_bundle` does the same for any frozen dataclass of options (the upgrade commands'
``UpgradeArgs``). Options used alone by several commands (``--json``, ``--yes``, ``--dry-run``)
are declared here too.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from clusterlib_cli.passwords import PASSWORD_ENV
from clusterlib_cli.target import (
    DEFAULT_CONNECT_TIMEOUT,
    Auth,
    DialectChoice,
    Target,
    build_sim,
    make_target,
    parse_layout,
)

__all__ = ["PASSWORD_ENV", "Auth", "DialectChoice", "Target", "build_sim", "connection_options",
           "make_target", "option_bundle", "parse_layout"]

PROFILES_ENV = "CLUSTERLIB_PROFILES"
CONN_PANEL = "Connection"
SIM_PANEL = "Simulator"
OUTPUT_PANEL = "Output"

SIM_LAYOUTS_HELP = (
    "classic (Windows 2000 -> 2003, two nodes, driven with cluster.exe), classic-OS (e.g."
    " classic-2012r2: the same layout on OS, upgrading to the next release where a rolling"
    " upgrade exists), build:NxM[@OS] (N nodes, M groups; OS default 2016)"
)  # the same words as clusterlib.sim.layouts.LAYOUTS_HELP, which --help must not import (a test
#    compares them)


class Failback(str, enum.Enum):
    """``node resume --failback``: Resume-ClusterNode's -Failback values."""

    NoFailback = "NoFailback"
    Immediate = "Immediate"
    Policy = "Policy"


# --- options several commands take alone ----------------------------------------------------------

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document (its fields are"
                                       " documented) instead of text.",
                                       rich_help_panel=OUTPUT_PANEL)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation before"
                                      " changing the cluster.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print what would be done (the exact"
                                         " commands) and change nothing.")]
DebugOpt = Annotated[bool, typer.Option(
    "--debug", envvar="CLUSTERLIB_DEBUG", help="Show tracebacks and library logging on errors.",
    rich_help_panel=OUTPUT_PANEL)]


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


# --- expanding a bundle parameter into its options ------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])
B = TypeVar("B")
_CTX_PARAM = "clusterlib_ctx"
_KW = inspect.Parameter.KEYWORD_ONLY


def _expand(fn: F, placeholder: str, params: Mapping[str, tuple[Any, Any]],
            build: Callable[[dict[str, Any], typer.Context | None], Any], *,
            append: bool, context: bool) -> F:
    """``fn`` with its ``placeholder`` parameter replaced by ``params`` (at its place, or after
    the command's own parameters with ``append``); ``build`` makes the placeholder's value.

    Typer reads ``__signature__``/``__annotations__``, so the wrapper advertises the resulting
    parameters and builds the bundle before calling. Annotations are resolved here to real
    objects because the wrapper's module is not the command's (string annotations would be
    looked up in the wrong globals). With ``context``, Typer also hands the wrapper the
    command's typer.Context: it tells where each option's value came from.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    extra = [inspect.Parameter(name, _KW, default=default, annotation=annotation)
             for name, (annotation, default) in params.items()]
    sig = inspect.signature(fn)
    own: list[inspect.Parameter] = []
    for p in sig.parameters.values():
        if p.name == placeholder:
            own += [] if append else extra
        else:
            own.append(p.replace(kind=_KW, annotation=hints.get(p.name, p.annotation)))
    own += extra if append else []
    if context:
        own.append(inspect.Parameter(_CTX_PARAM, _KW, annotation=typer.Context))

    def wrapper(**kwargs: Any) -> Any:
        ctx = kwargs.pop(_CTX_PARAM, None) if context else None
        values = {name: kwargs.pop(name) for name in params}
        return fn(**{placeholder: build(values, ctx)}, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=own)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own}
    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(wrapper, name, getattr(fn, name))
    return typing.cast(F, wrapper)


def connection_options(fn: F) -> F:
    """Replace ``fn``'s ``target: Target`` parameter with the shared connection options (listed
    after the command's own), validated into a Target before the command runs."""
    def build(values: dict[str, Any], ctx: typer.Context | None) -> Target:
        return make_target(sources=_parameter_sources(ctx), **values)

    return _expand(fn, "target", _CONNECTION_PARAMS, build, append=True, context=True)


def option_bundle(placeholder: str, cls: Callable[..., B],
                  params: Mapping[str, tuple[Any, Any]]) -> Callable[[F], F]:
    """A decorator replacing ``fn``'s ``placeholder`` parameter, where it stands, with
    ``params`` (name -> (Annotated option, default)); the command receives ``cls(**values)``."""
    def decorate(fn: F) -> F:
        return _expand(fn, placeholder, params, lambda values, ctx: cls(**values),
                       append=False, context=False)

    return decorate


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


def __getattr__(name: str) -> Any:
    # Layout lives with the simulator; imported on first use so --help never loads the simulator.
    if name == "Layout":
        from clusterlib.sim.layouts import Layout

        return Layout
    raise AttributeError(name)
