"""The fleet journal file (``<journal_dir>/fleet.json``): its name, format, atomic write and checked read."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterlib.fleet.errors import FleetError

FLEET_JOURNAL = "fleet.json"
FORMAT = "clusterlib-fleet/1"


def journal_path(journal_dir: str | os.PathLike[str]) -> Path:
    """Where the fleet journal of a journal folder lives."""
    return Path(journal_dir) / FLEET_JOURNAL


def write_journal(path: Path, body: Mapping[str, Any]) -> None:
    """Replace the journal in one step (temp file, fsync, rename), readable by its owner only:
    a run killed mid-write leaves the previous journal whole."""
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"format": FORMAT, **body}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_journal(path: Path, *, missing: str = "") -> dict[str, Any]:
    """The journal's body; FleetError when it is absent (``missing`` is added to the message),
    unreadable, or not a clusterlib fleet journal."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FleetError(f"no fleet journal at {path}{missing}") from None
    except (OSError, ValueError) as exc:
        raise FleetError(f"{path}: the fleet journal cannot be read ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise FleetError(f"{path}: not a clusterlib fleet journal ({FORMAT})")
    return body
