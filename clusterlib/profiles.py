"""Connection profiles: where profiles.toml lives, and reading one profile (validated; never a password).

A profile names how to reach one cluster (host, port, TLS, auth, user, timeouts, node path, or a
simulator layout) so that people and fleet inventories need not repeat it. The file is
``$CLUSTERLIB_PROFILES`` or ``profiles.toml`` in the platform's config folder; each profile is a
``[profiles.NAME]`` table. A misspelt key is refused naming the valid ones (a typo must never
drop the host and fall back to anything), and a password is refused: secrets come from the
environment, the OS keyring or a prompt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

PROFILES_ENV = "CLUSTERLIB_PROFILES"

#: What a profile may set (TOML keys, '-' or '_'): the connection options, never a secret.
PROFILE_KEYS = ("host", "cluster", "user", "auth", "ssl", "port", "ca_bundle", "insecure",
                "dialect", "connect_timeout", "read_timeout", "call_timeout", "cert_pem",
                "cert_key_pem", "time_scale", "node_path", "sim", "speed")


class ProfileError(ValueError):
    """A profile that cannot be used: no file, no such profile, bad TOML, an unknown key, a
    password. The message names the file and what would be valid."""


def toml_parser() -> Any:
    """The TOML parser: tomllib (Python 3.11+), else the tomli package (the same parser, for
    Python 3.10) when it is installed, else None. Profiles and fleet inventories read TOML."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return tomli


def profiles_path() -> Path:
    """``$CLUSTERLIB_PROFILES``, else ``profiles.toml`` in the platform's config folder:
    platformdirs' answer when it is installed (``%APPDATA%\\clusterlib`` on Windows,
    ``~/Library/Application Support/clusterlib`` on macOS), else ``$XDG_CONFIG_HOME/clusterlib``
    or ``~/.config/clusterlib`` (what platformdirs answers on Linux too)."""
    explicit = os.environ.get(PROFILES_ENV)
    if explicit:
        return Path(explicit)
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "clusterlib" / "profiles.toml"
    return Path(platformdirs.user_config_dir("clusterlib", appauthor=False)) / "profiles.toml"


def load_profile(name: str) -> dict[str, Any]:
    """``[profiles.NAME]`` from the profiles file, keys normalised to ``snake_case``."""
    path = profiles_path()
    tomllib = toml_parser()
    if tomllib is None:
        raise ProfileError("reading profiles needs Python 3.11 or the tomli package")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"no profiles file at {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    profiles = data.get("profiles", {})
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "(none)"
        raise ProfileError(f"no profile {name!r} in {path}; profiles: {known}")
    entry = dict(profiles[name])
    if "password" in entry:
        raise ProfileError(f"profile {name!r} in {path} holds a password; remove it and use"
                           " $CLUSTERLIB_PASSWORD, --password-stdin or the keyring")
    unknown = sorted(k for k in entry if k.replace("-", "_") not in PROFILE_KEYS)
    if unknown:
        valid = ", ".join(k.replace("_", "-") for k in PROFILE_KEYS)
        raise ProfileError(f"profile {name!r} in {path}: unknown key"
                           f"{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))};"
                           f" valid keys: {valid}")
    return {key.replace("-", "_"): value for key, value in entry.items()}
