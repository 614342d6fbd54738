"""Where the password of ``--user`` comes from: the environment, standard input, the OS keyring or a prompt.

Passwords never come from a plain option unless the user insists: ``--password`` works but warns.
Every password read is registered with the invocation's output (``render.add_secret``) so that
no message, table or traceback the CLI prints can contain it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from clusterlib_cli.target import Auth

if TYPE_CHECKING:
    from clusterlib_cli.target import Target

PASSWORD_ENV = "CLUSTERLIB_PASSWORD"  # noqa: S105 - the variable's name, not a secret
KEYRING_SERVICE = "clusterlib"
#: The logins that take a password (a Kerberos ticket or a certificate needs none).
_PASSWORD_AUTHS = (None, Auth.negotiate, Auth.ntlm, Auth.basic, Auth.credssp, Auth.kerberos)


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


def _from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise typer.BadParameter("--password-stdin: standard input was empty",
                                 param_hint="'--password-stdin'")
    return password


def _prompted(target: Target) -> str:
    if not sys.stdin.isatty():
        raise typer.BadParameter(f"no password for {target.user}: set ${PASSWORD_ENV}, use"
                                 " --password-stdin, or run in a terminal to be prompted",
                                 param_hint="'--user'")
    return str(typer.prompt(f"Password for {target.user}@{target.host}", hide_input=True))


def resolve_password(target: Target) -> str | None:
    """The password, from the safest source available; registered for scrubbing."""
    from clusterlib_cli import render

    password: str | None
    if target.password is not None:
        render.warn("--password leaves the password in your shell history and process list;"
                    f" prefer ${PASSWORD_ENV} or --password-stdin")
        password = target.password
    elif target.password_stdin:
        password = _from_stdin()
    elif target.keyring:
        password = _keyring_password(target)
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    elif target.user and target.auth in _PASSWORD_AUTHS:
        password = _prompted(target)
    else:
        password = None  # Kerberos ticket or certificate: nothing to ask
    if password:
        render.add_secret(password)
    return password
