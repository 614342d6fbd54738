"""The run journal: a JSON file written atomically before and after every phase, from which a run resumes.

Format: ``{"schema": "clusterlib.upgrade.journal", "version": 1, "checksum": "sha256:...",
"plan": {...}, "journal": {...}}``: one compact line (``python -m json.tool`` shows it indented).
The checksum covers the canonical text (sorted keys, compact) of ``plan`` and ``journal``, so
truncation, a stray edit or a half-written copy is caught before anything acts on it. It detects
accidents, not an adversary who can rewrite the file and its checksum. The plan never changes
after the start, so it is kept apart and serialised once: a save costs what the run state costs.

Writes are atomic: a temporary file in the same directory, fsync, ``os.replace``, then fsync of
the directory; a crash at any instant leaves either the previous or the new journal, never a mix.
The file is mode 0600. Nothing secret is ever stored: no credentials reach the upgrade engine,
and secret action lines are redacted before they get here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterlib.upgrade.errors import JournalRejected

SCHEMA = "clusterlib.upgrade.journal"
VERSION = 1
STATUSES = ("pending", "running", "done", "skipped", "failed")

# key -> accepted types (None stands for JSON null)
_REQUIRED: dict[str, tuple[type | None, ...]] = {
    "run_id": (str,), "cluster": (str,), "created": (str,), "updated": (str,),
    "owner": (str,), "options": (dict,), "action": (dict,), "original_placement": (dict,),
    "original_states": (dict,), "nodes_before": (dict,), "nodes_after": (dict,), "plan": (dict,),
    "steps": (list,), "moves": (list,), "retries": (list,), "warnings": (list,), "audit": (list,),
    "failed_nodes": (list,), "outcome": (str, None), "message": (str,), "stopped_at": (dict, None),
    "validation_in_flight": (dict, None), "functional_level": (dict,), "final_placement": (dict,),
}
_STEP_KEYS: dict[str, tuple[type | None, ...]] = {
    "id": (str,), "kind": (str,), "node": (str, None), "status": (str,), "attempts": (int,),
    "started": (str, None), "finished": (str, None), "seconds": (float, int, None), "message": (str,),
}


def _canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def checksum_of(plan_text: str, body_text: str) -> str:
    """The checksum of a journal file's canonical plan and body texts."""
    return _digest(plan_text + "\n" + body_text)


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fits(value: Any, types: tuple[type | None, ...]) -> bool:
    if value is None:
        return None in types
    if isinstance(value, bool):
        return bool in types
    return any(t is not None and isinstance(value, t) for t in types)


def validate(body: Any, where: str) -> None:
    """Schema check of a journal body: raises JournalRejected naming the first problem."""
    if not isinstance(body, dict):
        raise JournalRejected(f"{where}: the journal body is not an object")
    for key, types in _REQUIRED.items():
        if key not in body:
            raise JournalRejected(f"{where}: field {key!r} is missing")
        if not _fits(body[key], types):
            raise JournalRejected(f"{where}: field {key!r} has the wrong type")
    ids = set()
    for i, step in enumerate(body["steps"]):
        if not isinstance(step, dict):
            raise JournalRejected(f"{where}: step {i} is not an object")
        for key, types in _STEP_KEYS.items():
            if key not in step or not _fits(step[key], types):
                raise JournalRejected(f"{where}: step {i} field {key!r} is missing or mistyped")
        if step["status"] not in STATUSES:
            raise JournalRejected(f"{where}: step {step['id']} has unknown status {step['status']!r}")
        if step["id"] in ids:
            raise JournalRejected(f"{where}: step id {step['id']} appears twice")
        ids.add(step["id"])
    # The engine runs steps strictly in order, so nothing after a pending step has been started:
    # a later step marked done (or running, or failed) was edited in, and resuming would skip it.
    first_pending = None
    for step in body["steps"]:
        if step["status"] == "pending":
            first_pending = first_pending or step["id"]
        elif first_pending is not None and step["status"] != "skipped":
            raise JournalRejected(
                f"{where}: step {step['id']} is {step['status']} but the earlier step"
                f" {first_pending} is still pending: steps out of order (edited?); clusterlib"
                " will not act on it")
    if body["outcome"] not in (None, "completed", "stopped", "refused"):
        raise JournalRejected(f"{where}: unknown outcome {body['outcome']!r}")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (see the module docstring)."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename itself must reach the disk too, or a power cut could resurrect the old file.
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_body(path: Path) -> dict[str, Any]:
    """Load and check a journal file; JournalRejected says exactly why one is refused."""
    where = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise JournalRejected(f"{where}: no such journal") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalRejected(f"{where}: cannot read the journal: {exc}") from exc
    try:
        outer = json.loads(raw)
    except ValueError as exc:
        raise JournalRejected(f"{where}: not valid JSON (truncated or corrupt?): {exc}") from exc
    if not isinstance(outer, dict) or outer.get("schema") != SCHEMA:
        raise JournalRejected(f"{where}: not a clusterlib upgrade journal")
    version = outer.get("version")
    if version != VERSION:
        raise JournalRejected(f"{where}: journal version {version!r} is not supported (this"
                              f" clusterlib reads version {VERSION})")
    body = outer.get("journal")
    plan = outer.get("plan")
    if not isinstance(body, dict) or not isinstance(plan, dict):
        raise JournalRejected(f"{where}: the journal body or plan is missing")
    if outer.get("checksum") != checksum_of(_canonical(plan), _canonical(body)):
        raise JournalRejected(f"{where}: checksum mismatch: the journal was edited or damaged;"
                              " clusterlib will not act on it")
    body["plan"] = plan
    validate(body, where)
    if not isinstance(plan.get("steps"), list) or not isinstance(plan.get("order"), list):
        raise JournalRejected(f"{where}: the plan has no steps or order")
    return body


class Journal:
    """One run's journal file and its in-memory body. ``save()`` after every change that must
    survive a crash."""

    def __init__(self, path: Path | None, body: dict[str, Any]) -> None:
        self.path = Path(path) if path is not None else None
        self.body = body
        self.saves = 0
        self._plan_text: str | None = None
        self._plan_id = 0

    @classmethod
    def create(cls, path: str | os.PathLike[str] | None, body: dict[str, Any]) -> Journal:
        """Start a journal at ``path``. Refuses to overwrite the journal of an unfinished run."""
        if path is None:
            validate(body, "<memory>")
            return cls(None, body)
        p = Path(path)
        if p.exists():
            try:
                old = read_body(p)
            except JournalRejected:
                old = None
            if old is None or old.get("outcome") != "completed":
                raise JournalRejected(
                    f"{p}: a journal already exists there"
                    + (f" for run {old['run_id']} ({old.get('outcome') or 'unfinished'})" if old
                       else " (unreadable)")
                    + "; resume it with RollingUpgrade.resume or choose another journal path")
        validate(body, str(p))
        journal = cls(p, body)
        journal.save()
        return journal

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Journal:
        p = Path(path)
        return cls(p, read_body(p))

    def save(self) -> None:
        from clusterlib.upgrade.events import utc_now

        self.body["updated"] = utc_now()
        if self.path is None:  # a run without a journal file (it cannot be resumed)
            return
        plan = self.body["plan"]
        if self._plan_text is None or self._plan_id != id(plan):
            self._plan_text, self._plan_id = _canonical(plan), id(plan)
        text = _canonical({k: v for k, v in self.body.items() if k != "plan"})
        outer = ('{"schema":' + json.dumps(SCHEMA) + ',"version":' + str(VERSION)
                 + ',"checksum":' + json.dumps(checksum_of(self._plan_text, text))
                 + ',"plan":' + self._plan_text + ',"journal":' + text + "}\n")
        atomic_write(self.path, outer)
        self.saves += 1

    # ---- steps ----

    def step(self, step_id: str) -> dict[str, Any]:
        for s in self.body["steps"]:
            if s["id"] == step_id:
                return s  # type: ignore[no-any-return]
        raise KeyError(step_id)

    @staticmethod
    def append_audit(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
        """Add an audit record (e.g. a broken lock) to an existing journal, keeping it valid."""
        journal = Journal.load(path)
        journal.body["audit"].append(dict(record))
        journal.save()
