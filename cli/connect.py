"""Opening the one Cluster of an invocation: a fresh simulator for --sim, WinRM to --host otherwise.

Warnings about weakened security (``--insecure``, ``--allow-cleartext-basic``) are printed here,
once, before anything is sent; the password is resolved (and registered for scrubbing) here too.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import clusterlib
    from clusterlib.sim import SimCluster
    from clusterlib_cli.target import Target


def _winrm_options(target: Target) -> dict[str, Any]:
    """The target's connection options as :func:`clusterlib.connect` keywords (password
    included, so never logged)."""
    from clusterlib_cli import render
    from clusterlib_cli.passwords import resolve_password

    options: dict[str, Any] = {"connect_timeout": target.connect_timeout}
    password = resolve_password(target)
    if target.user:
        options["username"] = target.user
    if password is not None:
        options["password"] = password
    if target.auth is not None:
        options["auth"] = target.auth.value
    for name in ("ssl", "port", "time_scale", "node_path", "read_timeout", "call_timeout"):
        if getattr(target, name) is not None:
            options[name] = getattr(target, name)
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
    return options


def open_cluster(target: Target, sim: SimCluster | None = None) -> clusterlib.Cluster:
    """One connection per invocation: a fresh simulator (or ``sim``), or WinRM to --host."""
    import clusterlib
    from clusterlib_cli import options, render

    if target.is_sim:
        # Looked up on clusterlib_cli.options at call time: the documented seam where tests
        # hand the CLI a simulator of their own.
        return clusterlib.connect(sim if sim is not None else options.build_sim(target),
                                  dialect=target.dialect.value)
    if target.insecure:
        render.warn(f"--insecure: the certificate of {target.host} is not validated; anyone on the"
                    " path can read the credentials and commands")
    winrm = _winrm_options(target)
    assert target.host is not None
    with warnings.catch_warnings():
        # The transport warns about --insecure through `warnings`; we already said it, once.
        warnings.simplefilter("ignore")
        return clusterlib.connect(target.host, dialect=target.dialect.value,
                                  cluster=target.cluster, **winrm)


@contextlib.contextmanager
def connected(target: Target, sim: SimCluster | None = None) -> Iterator[clusterlib.Cluster]:
    """The invocation's cluster, closed when the command is done with it."""
    cluster = open_cluster(target, sim)
    try:
        yield cluster
    finally:
        cluster.close()
