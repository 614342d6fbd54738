"""The fleet inventory: one TOML file listing clusters, their connections, tags and upgrade options.

::

    [fleet]
    parallel = 5
    max_failed_clusters = 1
    waves = ["canary", "rest"]
    installer = 'D:\\setup.exe /unattend'

    [defaults]                 # UpgradeOptions for every cluster
    target = "10.0"

    [[cluster]]
    name = "sql-a"
    host = "sqla-n1.corp.example"
    user = "CORP\\admin"
    password_env = "SQL_A_PASSWORD"
    tags = ["canary"]
    upgrade = { order_policy = "fewest-groups-first" }

    [[cluster]]
    name = "lab-1"
    sim = "classic-2012r2"     # SIMULATED: an embedded simulator, nothing real is touched

Secrets are never in the file: a ``password`` key anywhere is refused. A cluster's password comes
from the environment variable its ``password_env`` names, the OS keyring (``keyring = true``),
``$CLUSTERLIB_PASSWORD``, or a ``passwords`` mapping the caller passes (the CLI's prompt).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterlib.profiles import ProfileError, load_profile, toml_parser
from clusterlib.upgrade.options import UpgradeOptions

PASSWORD_ENV = "CLUSTERLIB_PASSWORD"  # noqa: S105 - the variable's name, not a secret

FLEET_KEYS = ("parallel", "max_failed_clusters", "waves", "all_or_nothing", "installer",
              "journal_dir")
#: UpgradeOptions fields an inventory may set ([defaults] or a cluster's ``upgrade`` table).
UPGRADE_KEYS = ("order", "target", "max_failed_nodes", "retries_per_node", "drain_timeout",
                "reboot_timeout", "rejoin_timeout", "action_timeout", "poll_interval", "failback",
                "validation_group", "raise_functional_level", "require_all_up", "order_policy")
#: Connection keys of a cluster (as the CLI's options and profiles spell them).
CONNECTION_KEYS = ("host", "cluster", "user", "auth", "ssl", "port", "ca_bundle", "insecure",
                   "dialect", "connect_timeout", "read_timeout", "call_timeout", "time_scale",
                   "node_path", "cert_pem", "cert_key_pem")
CLUSTER_KEYS = ("name", "tags", "profile", "sim", "speed", "installer", "password_env", "keyring",
                "upgrade", *CONNECTION_KEYS)
_SECRET_KEYS = ("password", "passwd", "secret", "pass")
_NO_PASSWORD_AUTH = ("kerberos", "certificate")
#: The wave name that takes every cluster no earlier wave took.
REST = "rest"


class InventoryError(ValueError):
    """The inventory is invalid; the message names the file, the entry and what would be valid."""


@dataclass(frozen=True)
class ClusterEntry:
    """One cluster of the fleet. ``simulated`` entries are embedded simulators (SIMULATED)."""

    name: str
    tags: tuple[str, ...] = ()
    sim: str | None = None
    speed: float | None = None
    connection: Mapping[str, Any] = field(default_factory=dict)
    profile: str | None = None
    password_env: str | None = None
    keyring: bool = False
    installer: str | None = None
    upgrade: Mapping[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.sim is not None

    def describe(self) -> str:
        if self.sim is not None:
            return f"SIMULATED {self.sim}"
        port = self.connection.get("port")
        return f"{self.connection.get('host')}{f':{port}' if port else ''}"

    def needs_password(self) -> bool:
        """Whether connecting needs a password: a user is set and the authentication is not
        Kerberos (a ticket) or a client certificate."""
        if self.simulated or not self.connection.get("user"):
            return False
        return str(self.connection.get("auth") or "negotiate").lower() not in _NO_PASSWORD_AUTH

    def password(self, passwords: Mapping[str, str] | None = None,
                 environ: Mapping[str, str] | None = None) -> str | None:
        """The password from the first source that has one (never from the inventory)."""
        env = os.environ if environ is None else environ
        if passwords and self.name in passwords:
            return passwords[self.name]
        if self.password_env:
            return env.get(self.password_env) or None
        if self.keyring:
            return _keyring_password(self)
        return env.get(PASSWORD_ENV) or None

    def missing_credentials(self, passwords: Mapping[str, str] | None = None,
                            environ: Mapping[str, str] | None = None) -> str | None:
        """Why this cluster has no password although it needs one (None when it has one)."""
        if not self.needs_password():
            return None
        try:
            if self.password(passwords, environ):
                return None
        except InventoryError as exc:
            return str(exc)
        if self.password_env:
            return (f"cluster {self.name!r}: ${self.password_env} (its password_env) is not set;"
                    f" set it, or remove password_env to use ${PASSWORD_ENV}")
        return (f"cluster {self.name!r}: no password for {self.connection.get('user')}: set"
                f" ${PASSWORD_ENV}, give the cluster password_env = \"VAR\" or keyring = true")

    def options(self, defaults: Mapping[str, Any]) -> UpgradeOptions:
        merged = {**defaults, **self.upgrade}
        return UpgradeOptions(**merged)


@dataclass(frozen=True)
class Inventory:
    """A validated fleet: settings, upgrade defaults and the clusters in file order."""

    clusters: tuple[ClusterEntry, ...]
    parallel: int = 5
    max_failed_clusters: int = 0
    waves: tuple[str, ...] = ()
    all_or_nothing: bool = False
    installer: str | None = None
    journal_dir: Path | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def simulated(self) -> bool:
        """True when any cluster is an embedded simulator."""
        return any(c.simulated for c in self.clusters)

    def cluster(self, name: str) -> ClusterEntry:
        for c in self.clusters:
            if c.name.lower() == name.lower():
                return c
        raise InventoryError(f"no cluster {name!r} in the inventory; clusters: "
                             + ", ".join(c.name for c in self.clusters))

    def waves_of(self, waves: tuple[str, ...] | None = None) -> list[list[ClusterEntry]]:
        """The clusters in waves: each wave takes the clusters carrying its tag that no earlier
        wave took, in inventory order; ``rest`` takes all the others. No waves: one wave."""
        names = tuple(waves if waves is not None else self.waves)
        if not names:
            return [list(self.clusters)]
        taken: set[str] = set()
        out: list[list[ClusterEntry]] = []
        for wave in names:
            members = [c for c in self.clusters if c.name not in taken
                       and (wave == REST or wave in c.tags)]
            taken.update(c.name for c in members)
            out.append(members)
        left = [c.name for c in self.clusters if c.name not in taken]
        if left:
            raise InventoryError(f"clusters {', '.join(left)} are in no wave of {list(names)};"
                                 f" add {REST!r} as the last wave, or tag them")
        return out

    def check_credentials(self, passwords: Mapping[str, str] | None = None,
                          environ: Mapping[str, str] | None = None) -> list[str]:
        """Every cluster that needs a password and has none, one message each."""
        return [m for c in self.clusters if (m := c.missing_credentials(passwords, environ))]

    def upgrade_options(self, entry: ClusterEntry) -> UpgradeOptions:
        return entry.options(self.defaults)

    def installer_of(self, entry: ClusterEntry) -> str | None:
        return entry.installer or self.installer


# --- loading and validation ---------------------------------------------------------------------

def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and validate an inventory file (``InventoryError`` names every problem found)."""
    file = Path(path)
    toml = toml_parser()
    if toml is None:
        raise InventoryError("reading an inventory needs Python 3.11 or the tomli package")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(f"no inventory file at {file}") from None
    except OSError as exc:
        raise InventoryError(f"{file}: cannot be read ({exc.strerror})") from None
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise InventoryError(f"{file}: not valid TOML: {exc}") from None
    return parse_inventory(data, path=file)


def parse_inventory(data: Mapping[str, Any], *, path: Path | None = None) -> Inventory:
    """Validate an already-parsed inventory (a dict as TOML gives it)."""
    where = str(path) if path else "inventory"
    problems: list[str] = []
    _unknown(data, ("fleet", "defaults", "cluster"), where, problems)
    fleet = _table(data, "fleet", where)
    _unknown(fleet, FLEET_KEYS, f"{where} [fleet]", problems)
    defaults = _table(data, "defaults", where)
    _unknown(defaults, UPGRADE_KEYS, f"{where} [defaults]", problems)
    _check_options(defaults, f"{where} [defaults]", problems)
    clusters = _clusters(data.get("cluster", []), where, problems)
    settings = _fleet_settings(fleet, f"{where} [fleet]", path, problems)
    for c in clusters:
        if not (c.installer or fleet.get("installer")):
            problems.append(f"{where}: cluster {c.name!r} has no installer; set [fleet]"
                            " installer or the cluster's installer")
    inventory = Inventory(clusters=tuple(clusters), defaults=dict(defaults), path=path, **settings)
    if not problems and inventory.waves:
        try:
            inventory.waves_of()
        except InventoryError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise InventoryError("\n".join(problems))
    return inventory


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """A top-level table ([fleet], [defaults]); absent is empty, anything else is refused."""
    table = data.get(key, {})
    if not isinstance(table, Mapping):
        raise InventoryError(f"{where}: [{key}] must be a table")
    return table


def _clusters(raw: Any, where: str, problems: list[str]) -> list[ClusterEntry]:
    """The [[cluster]] tables that are valid, in file order; names unique case-insensitively."""
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: no clusters; add at least one [[cluster]] table with a name")
        return []
    clusters: list[ClusterEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw, 1):
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(name, str):
            if name.lower() in seen:
                problems.append(f"{where}: cluster {name!r} (entry {index}) repeats the name of"
                                f" entry {seen[name.lower()]}; names must be unique"
                                " (case-insensitive)")
                continue
            seen[name.lower()] = index
        entry = _cluster(item, index, where, problems)
        if entry is not None:
            clusters.append(entry)
    return clusters


def _fleet_settings(fleet: Mapping[str, Any], where: str, path: Path | None,
                    problems: list[str]) -> dict[str, Any]:
    """The [fleet] table as Inventory fields (parallel, budget, waves, installer, journal_dir)."""
    parallel = _int(fleet, "parallel", 5, 1, where, problems)
    budget = _int(fleet, "max_failed_clusters", 0, 0, where, problems)
    waves = fleet.get("waves", [])
    if isinstance(waves, str):
        waves = [w.strip() for w in waves.split(",") if w.strip()]
    if not isinstance(waves, list) or not all(isinstance(w, str) and w for w in waves):
        problems.append(f"{where}: waves must be a list of tags, e.g. [\"canary\", \"rest\"]")
        waves = []
    aon = fleet.get("all_or_nothing", False)
    if not isinstance(aon, bool):
        problems.append(f"{where}: all_or_nothing must be true or false, not {aon!r}")
    installer = _installer(fleet, where, problems)
    return {"parallel": parallel, "max_failed_clusters": budget, "waves": tuple(waves),
            "all_or_nothing": bool(aon), "installer": installer,
            "journal_dir": _journal_dir(fleet.get("journal_dir"), where, path, problems)}


def _installer(table: Mapping[str, Any], where: str, problems: list[str]) -> str | None:
    """The ``installer`` command line of [fleet] or of a cluster (None when absent or invalid)."""
    installer = table.get("installer")
    if installer is not None and (not isinstance(installer, str) or not installer.strip()):
        problems.append(f"{where}: installer must be a command line (a string)")
    return installer if isinstance(installer, str) else None


def _journal_dir(value: Any, where: str, path: Path | None, problems: list[str]) -> Path | None:
    """[fleet] journal_dir, relative to the inventory file's folder."""
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{where}: journal_dir must be a folder path (a string)")
        return None
    folder = Path(value).expanduser()
    if path is not None and not folder.is_absolute():
        folder = path.parent / folder
    return folder


def _unknown(table: Mapping[str, Any], valid: tuple[str, ...], where: str,
             problems: list[str]) -> None:
    for key in table:
        norm = key.replace("-", "_")
        if norm.lower() in _SECRET_KEYS:
            problems.append(f"{where}: {key!r} holds a secret; secrets never go in the inventory:"
                            f" use password_env = \"VAR\", keyring = true or ${PASSWORD_ENV}")
        elif norm not in valid:
            problems.append(f"{where}: unknown key {key!r}; valid keys: {', '.join(valid)}")


def _int(table: Mapping[str, Any], key: str, default: int, low: int, where: str,
         problems: list[str]) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        problems.append(f"{where}: {key} must be a whole number >= {low}, not {value!r}")
        return default
    return value


def _check_options(options: Mapping[str, Any], where: str, problems: list[str]) -> None:
    try:
        UpgradeOptions(**{k: v for k, v in options.items() if k in UPGRADE_KEYS})
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _cluster(item: Any, index: int, where: str, problems: list[str]) -> ClusterEntry | None:
    """One [[cluster]] table, or None when it has a problem (each added to ``problems``)."""
    if not isinstance(item, Mapping):
        problems.append(f"{where}: cluster entry {index} must be a table")
        return None
    name = item.get("name")
    label = f"{where} cluster {name!r}" if isinstance(name, str) else f"{where} cluster entry {index}"
    before = len(problems)
    _unknown(item, CLUSTER_KEYS, label, problems)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{label}: name must be 1-63 letters, digits, '.', '_' or '-' (starting"
                        " with a letter or digit); it names the cluster's journal file too")
        return None
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        problems.append(f"{label}: tags must be a list of strings")
        tags = []
    upgrade = _upgrade_table(item, label, problems)
    sim, speed = item.get("sim"), item.get("speed")
    connection = (_simulated(item, label, problems) if sim is not None
                  else _connection(item, label, problems))
    password_env, keyring = _password_source(item, label, problems)
    installer = _installer(item, label, problems)
    if len(problems) > before:
        return None
    return ClusterEntry(name=name, tags=tuple(tags), sim=sim, speed=float(speed) if speed else None,
                        connection=connection, profile=item.get("profile"),
                        password_env=password_env, keyring=keyring, installer=installer,
                        upgrade=upgrade)


def _upgrade_table(item: Mapping[str, Any], label: str, problems: list[str]) -> dict[str, Any]:
    """A cluster's ``upgrade`` table: UpgradeOptions fields that override [defaults]."""
    upgrade = item.get("upgrade", {})
    if not isinstance(upgrade, Mapping):
        problems.append(f"{label}: upgrade must be a table of upgrade options")
        return {}
    _unknown(upgrade, UPGRADE_KEYS, f"{label} upgrade", problems)
    _check_options(upgrade, f"{label} upgrade", problems)
    return dict(upgrade)


def _simulated(item: Mapping[str, Any], label: str, problems: list[str]) -> dict[str, Any]:
    """The fields of a simulated cluster (``sim``, ``speed``); it takes no connection, so the
    connection it returns is empty."""
    sim, speed = item.get("sim"), item.get("speed")
    given = [*(k for k in CONNECTION_KEYS if k in item), *(["profile"] if item.get("profile") else [])]
    if not isinstance(sim, str):
        problems.append(f"{label}: sim must be a simulator layout such as 'classic-2012r2'")
    elif given:
        problems.append(f"{label}: a simulated cluster (sim = {sim!r}) takes no connection"
                        f" options ({', '.join(given)}); remove them or remove sim")
    else:
        _check_layout(sim, label, problems)
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, (int, float))
                              or speed <= 0):
        problems.append(f"{label}: speed must be a positive number")
    return {}


def _connection(item: Mapping[str, Any], label: str, problems: list[str]) -> dict[str, Any]:
    """The connection of a real cluster: its own keys over its profile's."""
    connection = {k: item[k] for k in CONNECTION_KEYS if k in item}
    profile = item.get("profile")
    if item.get("speed") is not None:
        problems.append(f"{label}: speed only applies to a simulated cluster (sim = ...)")
    if profile is not None:
        if not isinstance(profile, str):
            problems.append(f"{label}: profile must be a profile name")
        else:
            connection = {**_profile(profile, label, problems), **connection}
    if not connection.get("host"):
        problems.append(f"{label}: no connection: give host = \"...\" (or a profile with a"
                        " host), or sim = \"classic-2012r2\" for a simulated cluster")
    _check_connection(connection, label, problems)
    return connection


def _password_source(item: Mapping[str, Any], label: str,
                     problems: list[str]) -> tuple[str | None, bool]:
    """(password_env, keyring): at most one of the two password sources a cluster may name."""
    password_env = item.get("password_env")
    if password_env is not None and (not isinstance(password_env, str)
                                     or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", password_env)):
        problems.append(f"{label}: password_env must be an environment variable's name")
    keyring = item.get("keyring", False)
    if not isinstance(keyring, bool):
        problems.append(f"{label}: keyring must be true or false")
    if password_env and keyring:
        problems.append(f"{label}: give one password source, password_env or keyring, not both")
    return password_env, bool(keyring)


_CONN_TYPES: dict[str, tuple[type, ...]] = {
    "host": (str,), "cluster": (str,), "user": (str,), "auth": (str,), "ssl": (bool,),
    "port": (int,), "ca_bundle": (str,), "insecure": (bool,), "dialect": (str,),
    "connect_timeout": (int, float), "read_timeout": (int, float), "call_timeout": (int, float),
    "time_scale": (int, float), "node_path": (str,), "cert_pem": (str,), "cert_key_pem": (str,)}
_AUTHS = ("negotiate", "ntlm", "kerberos", "basic", "credssp", "certificate")
_DIALECTS = ("auto", "powershell", "clusterexe")


def _check_connection(conn: Mapping[str, Any], label: str, problems: list[str]) -> None:
    for key, value in conn.items():
        types = _CONN_TYPES[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            kind = " or ".join(t.__name__ for t in types)
            problems.append(f"{label}: {key} must be a {kind}, not {value!r}")
    if str(conn.get("auth", "negotiate")).lower() not in _AUTHS:
        problems.append(f"{label}: auth {conn.get('auth')!r} is not one of {', '.join(_AUTHS)}")
    if str(conn.get("dialect", "auto")).lower() not in _DIALECTS:
        problems.append(f"{label}: dialect {conn.get('dialect')!r} is not one of"
                        f" {', '.join(_DIALECTS)}")
    if conn.get("insecure") and conn.get("ca_bundle"):
        problems.append(f"{label}: insecure turns certificate validation off; ca_bundle makes no"
                        " sense with it")


def _check_layout(sim: str, label: str, problems: list[str]) -> None:
    """A simulator layout must parse (one definition: clusterlib.sim.layouts.parse_layout)."""
    from clusterlib.sim.layouts import parse_layout

    try:
        parse_layout(sim)
    except ValueError as exc:
        problems.append(f"{label}: {exc}")


def _profile(name: str, label: str, problems: list[str]) -> dict[str, Any]:
    """A connection profile (profiles.toml); it never holds a password."""
    try:
        entry = load_profile(name)
    except ProfileError as exc:
        problems.append(f"{label}: {exc}")
        return {}
    return {k: v for k, v in entry.items() if k in CONNECTION_KEYS}


def _keyring_password(entry: ClusterEntry) -> str | None:
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise InventoryError(f"cluster {entry.name!r}: keyring = true needs the keyring package"
                             " (pip install keyring)") from None
    user = entry.connection.get("user")
    host = entry.connection.get("host")
    for account in (f"{user}@{host}", str(user)):
        try:
            found = keyring.get_password("clusterlib", account)
        except Exception as exc:  # a locked or missing backend: say so, never a traceback
            raise InventoryError(f"cluster {entry.name!r}: the keyring could not be read"
                                 f" ({type(exc).__name__})") from None
        if found:
            return str(found)
    return None
