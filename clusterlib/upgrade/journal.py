"""The run journal: a JSON file written atomically before and after every phase, from which a run resumes.

Format: ``{"schema": "clusterlib.upgrade.journal", "version": 2, "checksum": "sha256:...",
"plan": {...}, "journal": {...}}``: one compact line (``python -m json.tool`` shows it indented).
``journal`` is a ``RunState`` in JSON form (clusterlib/upgrade/state.py: the fields, the checks,
and ``migrate_v1``); a version-1 file is read through that migration and written back as
version 2 by the next save; a newer version is refused, naming it and the newest this reads.
The checksum covers the canonical text (sorted keys, compact) of ``plan`` and ``journal``, so
truncation, a stray edit or a half-written copy is caught before anything acts on it. It detects
accidents, not an adversary who can rewrite the file and its checksum. The plan never changes
after the start, so it is kept apart, serialised and hashed once; so are the run state's fields
fixed at the start (the original placement and states) and every record's text until it changes
(``state.py``): a save encodes what changed since the last one, then writes the whole file.

Writes are atomic: a temporary file in the same directory, fsync, ``os.replace``, then fsync of
the directory; a crash at any instant leaves either the previous or the new journal, never a mix.
The file is mode 0600. Nothing secret is ever stored: no credentials reach the upgrade engine,
and secret action lines are redacted before they get here.

Trust (POSIX): a journal is acted on only when the file is a regular file (not a symbolic link)
owned by the running user and not writable by group or others, in a directory that no other user
can write (world-writable, or group-writable for a group other than the user's own, only with the
sticky bit) and that belongs to the user or root. Otherwise another local user could replace it
with a re-sealed copy whose action line is theirs (the checksum detects accidents, not an
adversary). Every refusal is a JournalRejected naming the file and the command that fixes it.
A save never follows or replaces a symbolic link, and never overwrites a journal that changed on
disk since this process last wrote it (another resume of the same run writes it now):
JournalTakenOver. A write that fails (disk full...) raises JournalWriteFailed naming the file.
On Windows these ownership checks are skipped (the file is still written atomically).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clusterlib.upgrade.errors import JournalRejected, JournalTakenOver, JournalWriteFailed
from clusterlib.upgrade.state import (
    READS,
    STATUSES,
    VERSION,
    AuditRecord,
    RunState,
    TextCache,
    canonical,
    upgrade_body,
)

__all__ = ["SCHEMA", "STATUSES", "VERSION", "Journal", "JournalRejected", "RunState",
           "check_action", "check_directory", "check_trusted", "checksum_of", "describe_action",
           "parse_body", "parse_state", "read_body", "read_state", "recorded_action"]

SCHEMA = "clusterlib.upgrade.journal"


def _canonical(body: Mapping[str, Any]) -> str:
    return canonical(body)


def checksum_of(plan_text: str, body_text: str) -> str:
    """The checksum of a journal file's canonical plan and body texts."""
    return _digest(plan_text + "\n" + body_text)


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_directory(directory: Path, journal: Path | None = None) -> None:
    """Refuse a journal directory another user can write into (see the module docstring)."""
    name = f"{journal}: " if journal is not None else ""
    if not hasattr(os, "geteuid"):
        return
    me = os.geteuid()
    try:
        st = os.stat(directory)
    except OSError as exc:
        raise JournalRejected(f"{directory}: cannot inspect the journal directory: {exc}") from exc
    sticky = bool(st.st_mode & stat.S_ISVTX)
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid not in (me, 0):
        raise JournalRejected(
            f"{name}the journal directory {directory} belongs to {_user(st.st_uid)}, who can replace"
            " any journal in it; keep journals in a directory you own (e.g. mkdir -m 700"
            " ~/clusterlib-journals) and move the journal there")
    other_group = st.st_gid != os.getegid()
    if not sticky and (mode & stat.S_IWOTH or (mode & stat.S_IWGRP and other_group)):
        who = "every user" if mode & stat.S_IWOTH else f"group {st.st_gid}"
        raise JournalRejected(
            f"{name}the journal directory {directory} is writable by {who} (mode {mode:04o}) without"
            f" the sticky bit, so another user could replace the journal; run chmod"
            f" {'o' if mode & stat.S_IWOTH else 'g'}-w {directory} (or +t), or move the journal"
            " to a directory only you can write")


def check_trusted(path: Path) -> None:
    """Refuse a journal another user could have written (see the module docstring): a symbolic
    link, a file not owned by you, a file writable by group or others, or one in a directory
    others can write. The message names the file and the fix."""
    try:
        st = os.lstat(path)
    except FileNotFoundError as exc:
        raise JournalRejected(f"{path}: no such journal") from exc
    except OSError as exc:
        raise JournalRejected(f"{path}: cannot inspect the journal: {exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise JournalRejected(
            f"{path} is a symbolic link (to {os.readlink(path)!r}); clusterlib neither follows"
            " nor replaces a linked journal. Pass the real file's path instead, or replace the"
            f" link by the file: mv {os.path.realpath(path)} {path}")
    if not stat.S_ISREG(st.st_mode):
        raise JournalRejected(f"{path} is not a regular file; pass the journal file itself")
    if hasattr(os, "geteuid"):
        me = os.geteuid()
        if st.st_uid != me:
            raise JournalRejected(
                f"{path} belongs to {_user(st.st_uid)}, not to you ({_user(me)}): another user"
                " could have written the action it runs. Check its content (clusterlib upgrade"
                f" report {path}), then take it over: chown {me} {path}")
        mode = stat.S_IMODE(st.st_mode)
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise JournalRejected(
                f"{path} is writable by {'others' if mode & stat.S_IWOTH else 'its group'}"
                f" (mode {mode:04o}), so someone else could have changed it; check its content,"
                f" then run chmod go-w {path}")
    check_directory(path.parent, path)


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def recorded_action(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The action the journal at ``path`` recorded (``UpgradeAction.to_dict()`` form, secret
    lines redacted), from a trusted, checked journal: what a resume would run. Show it and ask
    (or compare it with the caller's) before resuming."""
    return dict(Journal.load(path).state.action)


def describe_action(record: Mapping[str, Any]) -> str:
    """One line for a recorded action (``recorded_action`` form)."""
    kind = str(record.get("kind") or "unknown")
    if record.get("secret"):
        return f"{kind}: a secret command line (not recorded; pass action= to resume)"
    if record.get("line") is not None:
        return f"{kind}: {record['line']}"
    if kind == "powershell":
        params = " ".join(f"-{k} {v!r}" for k, v in record.get("params") or [])
        return f"powershell: {record.get('cmdlet')} {params}".rstrip()
    return kind


def check_action(recorded: Mapping[str, Any], given: Mapping[str, Any], where: str) -> None:
    """Refuse a resume whose ``action=`` differs from the action the journal recorded (both in
    ``to_dict()`` form; a secret line is redacted the same way in both, so a secret action
    matches when kind, secrecy and everything not secret agree)."""
    if dict(recorded) == dict(given):
        return
    raise JournalRejected(
        f"{where}: the journal records the action <{describe_action(recorded)}>, but action= is"
        f" <{describe_action(given)}>; nothing was done. Pass the recorded action to resume this"
        " run, or start a new run (new journal) with the other action")


def atomic_write(path: Path, text: str | Sequence[bytes]) -> None:
    """Write ``text`` (or the UTF-8 parts it is made of, one after another) to ``path``
    atomically with mode 0600 (see the module docstring). A symbolic link at ``path`` is
    refused, never replaced or followed."""
    directory = path.parent
    if path.is_symlink():
        raise JournalRejected(
            f"{path} is a symbolic link (to {os.readlink(path)!r}); clusterlib does not write"
            " through or over a link. Pass the real file's path instead")
    parts = [text.encode("utf-8")] if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            for part in parts:
                fh.write(part)
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


def read_state(path: Path) -> RunState:
    """Load and check a journal file; JournalRejected says exactly why one is refused."""
    where = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise JournalRejected(f"{where}: no such journal") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalRejected(f"{where}: cannot read the journal: {exc}") from exc
    return parse_state(raw, where)


def read_body(path: Path) -> dict[str, Any]:
    """``read_state`` in JSON form (today's version, with the plan)."""
    return read_state(path).to_dict()


def parse_body(raw: str, where: str) -> dict[str, Any]:
    """``parse_state`` in JSON form (today's version, with the plan)."""
    return parse_state(raw, where).to_dict()


def parse_state(raw: str, where: str) -> RunState:
    """Check a journal file's text (any version this clusterlib reads, migrated to today's);
    JournalRejected says exactly why one is refused."""
    try:
        outer = json.loads(raw)
    except ValueError as exc:
        raise JournalRejected(f"{where}: not valid JSON (truncated or corrupt?): {exc}") from exc
    if not isinstance(outer, dict) or outer.get("schema") != SCHEMA:
        raise JournalRejected(f"{where}: not a clusterlib upgrade journal")
    version = outer.get("version")
    if isinstance(version, bool) or version not in READS:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        raise JournalRejected(
            f"{where}: journal version {version!r} is not supported (this clusterlib reads"
            f" versions {', '.join(map(str, READS))}; the newest is {VERSION})"
            + ("; it was written by a newer clusterlib: resume it with that version" if newer
               else ""))
    body = outer.get("journal")
    plan = outer.get("plan")
    if not isinstance(body, dict) or not isinstance(plan, dict):
        raise JournalRejected(f"{where}: the journal body or plan is missing")
    if outer.get("checksum") != checksum_of(_canonical(plan), _canonical(body)):
        raise JournalRejected(f"{where}: checksum mismatch: the journal was edited or damaged;"
                              " clusterlib will not act on it")
    state = RunState.from_dict(upgrade_body({**body, "plan": plan}, version), where)
    if not isinstance(plan.get("steps"), list) or not isinstance(plan.get("order"), list):
        raise JournalRejected(f"{where}: the plan has no steps or order")
    return state


class Journal:
    """One run's journal file and its typed state (``state``, a RunState). ``save()`` after every
    change that must survive a crash."""

    def __init__(self, path: Path | None, state: RunState) -> None:
        self.path = Path(path) if path is not None else None
        self.state = state
        self.saves = 0
        # The plan's text and the checksum's hash of it (with the separator), worked out once per
        # plan object; the texts of the state's fields that did not change since the last save
        # (RunState.json_text's ``kept``).
        self._plan: tuple[Any, bytes, Any] | None = None
        self._kept: TextCache = {}
        # What the file looked like after this process last read or wrote it: a save refuses
        # to overwrite a file that changed since (another holder of the same run writes it).
        self._identity: tuple[int, int, int, int, int] | None = None

    @classmethod
    def create(cls, path: str | os.PathLike[str] | None, state: RunState) -> Journal:
        """Start a journal at ``path``. Refuses to overwrite the journal of an unfinished run, and
        a state a load would refuse (it is checked as a load checks it before anything is written,
        so a run never starts with a journal it could not resume from)."""
        RunState.from_dict(state.to_dict(), str(path or "<memory>"))
        if path is None:
            return cls(None, state)
        p = Path(path)
        check_directory(p.parent, p)
        if p.is_symlink():
            check_trusted(p)  # refuses, naming the link and the fix
        if p.exists():
            try:
                old: RunState | None = read_state(p)
            except JournalRejected:
                old = None
            if old is None or old.outcome != "completed":
                raise JournalRejected(
                    f"{p}: a journal already exists there"
                    + (f" for run {old.run_id} ({old.outcome or 'unfinished'})" if old
                       else " (unreadable)")
                    + "; resume it with RollingUpgrade.resume or choose another journal path")
        journal = cls(p, state)
        journal.save()
        return journal

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Journal:
        """Open a journal to act on it: trusted (``check_trusted``) and checked (``parse_state``).
        A journal of an older version is migrated in memory and written back in today's version
        by the next ``save()``."""
        p = Path(path)
        check_trusted(p)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(p, flags)
        except OSError as exc:
            raise JournalRejected(f"{p}: cannot open the journal: {exc}") from exc
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
                raise JournalRejected(f"{p} changed owner while being opened; check it")
            try:
                raw = fh.read().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise JournalRejected(f"{p}: cannot read the journal: {exc}") from exc
        journal = cls(p, parse_state(raw, str(p)))
        journal._identity = _identity(st)
        return journal

    def text(self) -> str:
        """The file's content for the current state (one line; the plan serialised once)."""
        return b"".join(self.parts()).decode("utf-8")

    def parts(self) -> list[bytes]:
        """``text()`` in UTF-8, as the parts a save writes one after another (the plan's part
        is the same bytes object at every save: neither joined to the rest nor encoded again)."""
        plan = self.state.plan
        if self._plan is None or self._plan[0] is not plan:
            plan_bytes = _canonical(plan).encode("utf-8")
            self._plan = (plan, plan_bytes, hashlib.sha256(plan_bytes + b"\n"))
        _, plan_bytes, plan_hash = self._plan
        # == _canonical(state.to_dict(plan=False)), from the texts kept since the last save
        body = self.state.json_text(plan=False, kept=self._kept).encode("utf-8")
        digest = plan_hash.copy()  # == checksum_of(plan text, body text), the plan hashed once
        digest.update(body)
        head = ('{"schema":' + json.dumps(SCHEMA) + ',"version":' + str(VERSION)
                + ',"checksum":"sha256:' + digest.hexdigest() + '","plan":')
        return [head.encode("utf-8"), plan_bytes, b',"journal":', body, b"}\n"]

    def save(self) -> None:
        from clusterlib.upgrade.events import utc_now

        self.state.updated = utc_now()
        if self.path is None:  # a run without a journal file (it cannot be resumed)
            return
        outer = self.parts()
        if self.path.is_symlink():
            atomic_write(self.path, outer)  # refuses, naming the link
        self._check_unchanged()
        try:
            atomic_write(self.path, outer)
        except OSError as exc:
            raise JournalWriteFailed(
                f"cannot write the journal {self.path}: {exc.strerror or exc} (errno"
                f" {exc.errno}); the run's state is kept in memory; once the cause is fixed,"
                " resume from this journal (it holds the last step that was written)",
                path=self.path, errno=exc.errno) from exc
        with contextlib.suppress(OSError):
            self._identity = _identity(os.lstat(self.path))
        self.saves += 1

    def _check_unchanged(self) -> None:
        """Refuse to overwrite a file that changed since this process last read or wrote it."""
        if self._identity is None or self.path is None:
            return
        try:
            now: tuple[int, int, int, int, int] | None = _identity(os.lstat(self.path))
        except FileNotFoundError:
            now = None
        except OSError as exc:
            raise JournalWriteFailed(f"{self.path}: cannot inspect the journal before"
                                     f" writing it: {exc}", path=self.path,
                                     errno=exc.errno) from exc
        if now != self._identity:
            raise JournalTakenOver(
                f"{self.path} changed on disk since this run last wrote it (another resume"
                " of this run writes it now, or it was replaced); not overwriting it",
                path=self.path)

    @staticmethod
    def append_audit(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
        """Add an audit record (e.g. a broken lock) to an existing journal, keeping it valid."""
        journal = Journal.load(path)
        journal.state.audit.append(AuditRecord.from_dict(dict(record), str(path)))
        journal.save()
