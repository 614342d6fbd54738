"""Connection profiles on the command line: reading one (``--profile``) and merging it under the options.

The file format and its validation belong to the library (:mod:`clusterlib.profiles`); this module
turns its errors into usage errors naming ``--profile``, converts each value as the option would
have parsed it, and decides, value by value, whether the profile or a stronger source speaks.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import typer

from clusterlib_cli.target import Auth, DialectChoice

# Where a value came from, strongest first: the command line beats the environment, which
# beats a profile, which beats the option's default.
RANK = {"COMMANDLINE": 3, "ENVIRONMENT": 2, "PROFILE": 1, "DEFAULT": 0, "DEFAULT_MAP": 0,
        "PROMPT": 3}

_CHOICES: dict[str, type[enum.Enum]] = {"auth": Auth, "dialect": DialectChoice}
_PATHS = ("ca_bundle", "cert_pem", "cert_key_pem")
_NUMBER = (int, float)
_KINDS: dict[str, tuple[type, ...]] = {
    "ssl": (bool,), "insecure": (bool,), "port": (int,), "connect_timeout": _NUMBER,
    "read_timeout": _NUMBER, "call_timeout": _NUMBER, "time_scale": _NUMBER, "speed": _NUMBER}


def rank(sources: dict[str, str], name: str, missing: int = 0) -> int:
    """How strong the source of option ``name`` is (``missing`` when nothing is recorded)."""
    source = sources.get(name)
    return missing if source is None else RANK.get(source, 0)


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


def coerce_value(key: str, value: Any) -> Any:
    """A profile value as the option would have parsed it; a bad one is a usage error naming
    the key and what is valid."""
    if key in _CHOICES:
        valid = [m.value for m in _CHOICES[key]]
        if str(value).lower() not in valid:
            raise typer.BadParameter(f"profile key {key!r}: {value!r} is not one of"
                                     f" {', '.join(valid)}", param_hint="'--profile'")
        return _CHOICES[key](str(value).lower())
    if key in _PATHS:
        return Path(str(value)).expanduser()
    types = _KINDS.get(key, (str,))
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        kind = " or ".join(t.__name__ for t in types)
        raise typer.BadParameter(f"profile key {key!r}: expected a {kind}, got {value!r}",
                                 param_hint="'--profile'")
    return value


def apply_profile(name: str, conn: dict[str, Any], sources: dict[str, str]) -> None:
    """Fill ``conn`` from profile ``name`` where no stronger source spoke (a typed --no-ssl,
    False, is a value too); the values taken are recorded in ``sources`` as PROFILE."""
    for key, value in load_profile(name).items():
        if rank(sources, key) == 0:
            conn[key] = coerce_value(key, value)
            sources[key] = "PROFILE"
