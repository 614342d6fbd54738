"""The journal's typed, versioned run record (RunState and its parts), its checks, the v1 migration.

Version 2 is what this clusterlib writes: every field of ``RunState`` is present (fields that
version 1 added only when needed, such as ``availability`` or ``adopted_target``, are written
empty), and every record is checked on load, not only the steps. A version-1 body (written by
clusterlib 0.1 before the record was typed) loads through ``migrate_v1`` and is written back as
version 2 on the next save. JSON keys equal the field names, except ``from`` (a Python keyword),
held as ``from_``; a record's ``to_dict()`` gives the JSON form, ``from_dict()`` checks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import attrs
from attrs import define, field, frozen, setters

from clusterlib.upgrade.errors import JournalRejected

VERSION = 2  # what this clusterlib writes; the newest it reads
READS = (1, 2)
STATUSES = ("pending", "running", "done", "skipped", "failed")
OUTCOMES = ("completed", "stopped", "refused", "degraded", "incomplete")

_Types = tuple[type | None, ...]
R = TypeVar("R", bound="Record")

_OPT_STR: _Types = (str, None)
_NUM: _Types = (float, int)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)


def canonical(value: Any) -> str:
    """The canonical JSON text the journal's checksum covers (sorted keys, compact, UTF-8)."""
    return _ENCODER.encode(value)


def _fits(value: Any, types: _Types) -> bool:
    if value is None:
        return None in types
    if isinstance(value, bool):
        return bool in types
    return any(t is not None and isinstance(value, t) for t in types)


def _m(types: _Types, *, key: str | None = None, of: type[Record] | None = None,
       shape: str = "one", items: _Types | None = None, omit_none: bool = False,
       optional: bool = False, fixed: bool = False) -> dict[str, Any]:
    """A journal field's metadata: ``types`` are the JSON types it accepts; ``of`` the record
    class it holds (``shape`` "one", "list" or "map"); ``items`` the JSON types of a list's or
    map's plain values; ``key`` its JSON key when that is no Python name; ``optional``: a body
    may leave it out (its default then), else a load refuses a body without it; ``fixed``: a
    plain value set when the run starts and never changed in place (only ever replaced), so a
    journal keeps its text for as long as the field holds the same object."""
    return {"types": types, "key": key, "of": of, "shape": shape, "items": items,
            "omit_none": omit_none, "optional": optional, "fixed": fixed}


def _fields(cls: type[Record]) -> tuple[attrs.Attribute[Any], ...]:
    return tuple(attrs.fields(cast(Any, cls)))


_STR, _OSTR, _OBJ = _m((str,)), _m(_OPT_STR), _m((dict,))
_MAYBE = _m(_OPT_STR, optional=True)  # may be left out (older writers did)
_MAYBE_NUM = _m((float, int, None), optional=True)
_ONUM = _m((float, int, None))
_PLACES = _m((dict,), shape="map", items=_OPT_STR)  # group -> owner node (None: no owner)


class Record:
    """What every journal record shares: ``to_dict()`` (its JSON form) and ``from_dict()``."""

    def to_dict(self) -> dict[str, Any]:
        return self._dict((), _plain)

    def _dict(self, skip: tuple[str, ...], plain: Callable[[Any], Any]) -> dict[str, Any]:
        """The JSON form, each value through ``plain``: ``_plain`` (a copy) for ``to_dict``;
        ``_encodable`` to encode it at once (a plain value is the record's own, not a copy)."""
        out: dict[str, Any] = {}
        for name, key, omit_none, holds in _dump_plan(type(self)):
            if name in skip:
                continue
            value = getattr(self, name)
            if name == "details":  # an audit record's own keys, kept as written
                out.update(value)
            elif not (omit_none and value is None):
                out[key] = plain(value) if holds or plain is _plain else value
        return out

    @classmethod
    def from_dict(cls: type[R], raw: Any, where: str = "<memory>") -> R:
        """Check ``raw`` (JSON form) and build the record; JournalRejected names what is wrong."""
        return _load(cls, raw, where, "")

    def json_text(self) -> str:
        """``canonical(self.to_dict())``: the record's part of the journal's text."""
        return canonical(self._dict((), _encodable))


class Written(Record):
    """A record that never changes once written (the @frozen ones; a Kept record changes, and
    forgets its text when it does): its JSON text is worked out once and kept, so a save, which
    writes the whole journal, encodes what is new since the last one, not what the run has
    written so far."""

    def json_text(self) -> str:
        text: str | None = self.__dict__.get("_json")
        if text is None:
            text = canonical(self.to_dict())
            # Record has no __slots__, so even a slotted, frozen record has a __dict__ to keep it.
            object.__setattr__(self, "_json", text)
        return text


class Kept(Written):
    """A record that changes in place (a step as it runs) but holds plain values only (no list
    or dict that could change behind its back): its text is kept like a written record's and
    forgotten by every assignment to one of its fields (``_forget``, its ``on_setattr``), so a
    save re-encodes the records that changed since the last one, not every step of the run."""


def _forget(record: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    """``on_setattr`` of a Kept record: the kept text no longer says what the record holds."""
    record.__dict__.pop("_json", None)
    return value


_KEPT = setters.pipe(setters.convert, setters.validate, _forget)


_DUMP: dict[type, tuple[tuple[str, str, bool, bool], ...]] = {}


def _dump_plan(cls: type[Record]) -> tuple[tuple[str, str, bool, bool], ...]:
    """(attribute, JSON key, omit when None, holds records) of each field, worked out once per
    class: a save writes the whole state, so this runs for every record at every save."""
    plan = _DUMP.get(cls)
    if plan is None:
        plan = _DUMP[cls] = tuple((f.name, f.metadata.get("key") or f.name,
                                   bool(f.metadata.get("omit_none")),
                                   f.metadata.get("of") is not None) for f in _fields(cls))
    return plan


_TEXT: dict[type, tuple[tuple[str, str, str], ...]] = {}


#: What a journal keeps from one save to the next (``RunState.json_text``'s ``kept``): per
#: field, what its text was worked out from (the value, or a shallow copy) and the text.
TextCache = dict[str, tuple[Any, str]]


def _text_plan(cls: type[Record]) -> tuple[tuple[str, str, str], ...]:
    """(attribute, encoded JSON key, how to write it) of each field, in the canonical (sorted)
    key order: "plain" (one encoder call), "fixed" (the same, kept while the field holds the
    same object), "record" (one record or None), "written" (a list or map of records that never
    change: its text kept, only new records' added), "kept" (a list or map of Kept records: each
    record's text kept until it changes), "records" (a list or map encoded at every save)."""
    plan = _TEXT.get(cls)
    if plan is None:
        rows = []
        for key, f in sorted((f.metadata.get("key") or f.name, f) for f in _fields(cls)):
            of = f.metadata.get("of")
            how = (("fixed" if f.metadata.get("fixed") else "plain") if of is None
                   else "record" if f.metadata["shape"] == "one"
                   else "kept" if issubclass(of, Kept)
                   else "written" if issubclass(of, Written) else "records")
            rows.append((f.name, canonical(key), how))
        plan = _TEXT[cls] = tuple(rows)
    return plan


def _composed(record: Record, skip: tuple[str, ...], kept: TextCache | None = None) -> str:
    """``canonical(record.to_dict())`` with the kept texts of the written records it holds
    reused (the same text: the encoder writes a nested value as it writes it alone); given
    ``kept`` (kept by the caller from one call to the next), also the texts of its fixed fields
    and of its lists and maps of written records, as far as they are unchanged."""
    parts = []
    for name, key, how in _text_plan(type(record)):
        if name in skip:
            continue
        value = getattr(record, name)
        if how == "fixed" and kept is not None:
            was = kept.get(name)
            if was is None or was[0] is not value:
                was = kept[name] = (value, canonical(value))
            text = was[1]
        elif how in ("plain", "fixed") or value is None:
            text = canonical(value)
        elif how == "record":
            text = value.json_text()
        elif how == "records":
            text = canonical(_encodable(value))
        elif how == "written" and kept is not None:
            text = _written_text(value, name, kept)
        else:
            text = _records_text(value)
        parts.append(key + ":" + text)
    return "{" + ",".join(parts) + "}"


def _records_text(value: list[Written] | dict[str, Written]) -> str:
    """A list's or map's text from its records' kept texts."""
    if isinstance(value, list):
        return "[" + ",".join(r.json_text() for r in value) + "]"
    return "{" + ",".join(canonical(k) + ":" + r.json_text()
                          for k, r in sorted(value.items())) + "}"


def _written_text(value: list[Written] | dict[str, Written], name: str, kept: TextCache) -> str:
    """The text of a list or map of records that never change, from ``kept``: a list that only
    grew since adds its new records' texts to the kept text of the rest; a map equal to the
    kept copy is the kept text (the comparisons see the same records first: C speed)."""
    was = kept.get(name)
    if isinstance(value, dict):
        if was is None or value != was[0]:
            was = kept[name] = (dict(value), _records_text(value))
        return was[1]
    inner: str | None = None
    if was is not None:
        copy, inner = was
        done = len(copy)
        if len(value) < done or value[:done] != copy:
            inner = None  # not only grown: written again from the records' kept texts
    if inner is None:
        inner = ",".join(r.json_text() for r in value)
        kept[name] = (value[:], inner)
    elif len(value) > done:
        tail = ",".join(r.json_text() for r in value[done:])
        inner = inner + "," + tail if done else tail
        kept[name] = (value[:], inner)
    return "[" + inner + "]"


def _encodable(value: Any) -> Any:
    """``value`` as the encoder takes it: records as dicts; plain values as they are (shared)."""
    if isinstance(value, Record):
        return value._dict((), _encodable)
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    if isinstance(value, dict):
        return {k: _encodable(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Record):
        return value._dict((), _plain)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ---- loading (every check names the file, the record and the field) ----


def _load(cls: type[R], raw: Any, where: str, ctx: str) -> R:
    if not isinstance(raw, dict):
        raise JournalRejected(f"{where}: {ctx or 'the journal body '}is not an object")
    args: dict[str, Any] = {}
    known = set()
    for f in _fields(cls):
        key = f.metadata.get("key") or f.name
        if f.name == "details":
            continue
        known.add(key)
        if key not in raw:
            if not f.metadata.get("optional"):
                raise JournalRejected(f"{where}: {ctx}field {key!r} is missing")
            continue
        args[f.name] = _value(f, raw[key], where, ctx, key)
    rest = {k: v for k, v in raw.items() if k not in known}
    if rest and _find_name(cls, "details"):
        args["details"] = rest
    elif rest:
        raise JournalRejected(f"{where}: {ctx}field {sorted(rest)[0]!r} is not a journal field"
                              " (written by a newer clusterlib, or edited?)")
    return cls(**args)


def _find_name(cls: type[Record], name: str) -> bool:
    return any(f.name == name for f in _fields(cls))


def _value(f: attrs.Attribute[Any], value: Any, where: str, ctx: str, key: str) -> Any:
    meta = f.metadata
    if not _fits(value, meta["types"]):
        raise JournalRejected(f"{where}: {ctx}field {key!r} has the wrong type"
                              f" ({type(value).__name__})")
    of, items, shape = meta["of"], meta["items"], meta["shape"]
    if value is None or (of is None and items is None):
        return value
    if shape == "one":
        return _load(of, value, where, f"{ctx}{key} ")
    pairs: Iterable[tuple[Any, Any]] = enumerate(value) if shape == "list" else value.items()
    out = {}
    for k, v in pairs:
        label = f"{ctx}{key}[{k!r}] " if shape == "map" else f"{ctx}{key}[{k}] "
        if of is not None:
            out[k] = _load(of, v, where, label)
        elif not _fits(v, items):
            raise JournalRejected(f"{where}: {label}has the wrong type ({type(v).__name__})")
        else:
            out[k] = v
    return list(out.values()) if shape == "list" else out


# ---- the records ----


@define(kw_only=True, on_setattr=_KEPT)
class StepRecord(Kept):
    """One plan step as run: ``status`` one of STATUSES; ``result`` how it ended when that is
    more than its status ("already done", "skipped", "interrupted", ...)."""

    id: str = field(metadata=_STR)
    kind: str = field(metadata=_STR)
    node: str | None = field(metadata=_OSTR)
    group: str | None = field(default=None, metadata=_OSTR)
    status: str = field(metadata=_STR)
    attempts: int = field(metadata=_m((int,)))
    started: str | None = field(metadata=_OSTR)
    finished: str | None = field(metadata=_OSTR)
    seconds: float | None = field(metadata=_ONUM)
    message: str = field(metadata=_STR)
    result: str | None = field(default=None,
                               metadata=_m(_OPT_STR, omit_none=True, optional=True))


@frozen(kw_only=True)
class MoveRecord(Written):
    """A group move the run made (``purpose``: drain, validation, failback, recovery, ...)."""

    group: str = field(metadata=_STR)
    source: str | None = field(metadata=_OSTR)
    target: str = field(metadata=_STR)
    state: str = field(metadata=_STR)
    attempts: int = field(metadata=_m((int,)))
    seconds: float = field(metadata=_m(_NUM))
    purpose: str = field(metadata=_STR)
    node: str | None = field(default=None, metadata=_MAYBE)
    phase: str | None = field(default=None, metadata=_MAYBE)
    at: str | None = field(default=None, metadata=_MAYBE)


@frozen(kw_only=True)
class RetryRecord(Written):
    """A retried operation (``attempt`` as the retry policy counted it; None when unknown)."""

    node: str | None = field(metadata=_OSTR)
    phase: str | None = field(metadata=_OSTR)
    group: str | None = field(default=None, metadata=_MAYBE)
    attempt: int | None = field(default=None, metadata=_m((int, None), optional=True))
    error: str = field(metadata=_STR)
    at: str | None = field(default=None, metadata=_MAYBE)


@frozen(kw_only=True)
class AuditRecord(Written):
    """An audited act (resumed, lock broken, action sent again...): ``text`` and ``at``, and
    whatever else its writer recorded (``details``, e.g. a broken lock's previous holder)."""

    text: str = field(metadata=_STR)
    at: str | None = field(default=None, metadata=_MAYBE)
    details: dict[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class StopPoint(Written):
    """Where a run stopped."""

    node: str | None = field(default=None, metadata=_OSTR)
    group: str | None = field(default=None, metadata=_OSTR)
    phase: str | None = field(default=None, metadata=_OSTR)


@frozen(kw_only=True)
class InFlight(Written):
    """The validation move under way: ``group`` went to ``node`` from ``home``."""

    node: str = field(metadata=_STR)
    group: str = field(metadata=_STR)
    home: str | None = field(metadata=_OSTR)


@frozen(kw_only=True)
class NodeVersions(Written):
    """A node's versions and state as read (cluster service highest/lowest, OS build)."""

    highest: str | None = field(metadata=_OSTR)
    lowest: str | None = field(metadata=_OSTR)
    os: str | None = field(metadata=_OSTR)
    state: str | None = field(default=None, metadata=_MAYBE)


@frozen(kw_only=True)
class AdoptedTarget(Written):
    """The version the first upgraded node came back with, adopted as the run's target."""

    highest: str | None = field(metadata=_OSTR)
    lowest: str | None = field(metadata=_OSTR)
    os: str | None = field(metadata=_OSTR)
    from_: str = field(metadata=_m((str,), key="from"))


@frozen(kw_only=True)
class Endpoint(Written):
    """What the run was connected to (``kind``: "sim", "winrm", ...)."""

    kind: str = field(metadata=_STR)
    target: str = field(metadata=_STR)


@frozen(kw_only=True)
class Hooks(Written):
    """The run's pre-update and verify hooks (``UpgradeAction.to_dict()`` form, or None)."""

    pre_update: dict[str, Any] | None = field(default=None, metadata=_m((dict, None)))
    verify: dict[str, Any] | None = field(default=None, metadata=_m((dict, None)))


@frozen(kw_only=True)
class Unconfirmed(Written):
    """An upgrade action that may have started without its start being confirmed."""

    at: str | None = field(default=None, metadata=_MAYBE)
    error: str = field(metadata=_STR)


@define(kw_only=True)
class Episode(Record):
    """One time a group was down beyond its own moves."""

    from_: str = field(metadata=_m((str,), key="from"))
    to: str | None = field(default=None, metadata=_MAYBE)
    seconds: float = field(default=0.0, metadata=_m(_NUM, optional=True))
    phase: str | None = field(default=None, metadata=_MAYBE)
    state: str | None = field(default=None, metadata=_MAYBE)
    on: str | None = field(default=None, metadata=_MAYBE)


@define(kw_only=True)
class Availability(Record):
    """A group's downtime account (wall-clock marks as time.time() floats; cluster seconds)."""

    down_since: float | None = field(default=None, metadata=_MAYBE_NUM)
    counted_until: float | None = field(default=None, metadata=_MAYBE_NUM)
    down_phase: str | None = field(default=None, metadata=_MAYBE)
    excess: float = field(default=0.0, metadata=_m(_NUM))
    by_phase: dict[str, float] = field(factory=dict, metadata=_m((dict,), shape="map", items=_NUM,
                                                                optional=True))
    episodes: list[Episode] = field(factory=list, metadata=_m((list,), of=Episode, shape="list",
                                                             optional=True))


@define(kw_only=True)
class RunState(Record):
    """One run's recorded state: what the journal file holds (``plan`` is written apart)."""

    run_id: str = field(metadata=_STR)
    cluster: str = field(metadata=_STR)
    created: str = field(metadata=_STR)
    updated: str = field(metadata=_STR)
    owner: str = field(metadata=_STR)
    pid: int | None = field(default=None, metadata=_m((int, None)))
    clusterlib_version: str | None = field(default=None, metadata=_OSTR)
    endpoint: Endpoint | None = field(default=None, metadata=_m((dict, None), of=Endpoint))
    options: dict[str, Any] = field(metadata=_OBJ)  # UpgradeOptions.to_dict() form
    action: dict[str, Any] = field(metadata=_OBJ)  # UpgradeAction.to_dict(), redacted
    hooks: Hooks = field(factory=Hooks, metadata=_m((dict,), of=Hooks))
    original_placement: dict[str, str | None] = field(
        metadata=_m((dict,), shape="map", items=_OPT_STR, fixed=True))
    original_states: dict[str, str] = field(metadata=_m((dict,), shape="map", items=(str,),
                                                        fixed=True))
    nodes_before: dict[str, NodeVersions] = field(metadata=_m((dict,), of=NodeVersions, shape="map"))
    nodes_after: dict[str, NodeVersions] = field(metadata=_m((dict,), of=NodeVersions, shape="map"))
    plan: dict[str, Any] = field(metadata=_OBJ)  # Plan.to_dict() form
    steps: list[StepRecord] = field(metadata=_m((list,), of=StepRecord, shape="list"))
    extra_steps: list[dict[str, Any]] = field(factory=list, metadata=_m((list,), shape="list", items=(dict,)))
    moves: list[MoveRecord] = field(metadata=_m((list,), of=MoveRecord, shape="list"))
    retries: list[RetryRecord] = field(metadata=_m((list,), of=RetryRecord, shape="list"))
    warnings: list[str] = field(metadata=_m((list,), shape="list", items=(str,)))
    audit: list[AuditRecord] = field(metadata=_m((list,), of=AuditRecord, shape="list"))
    failed_nodes: list[str] = field(metadata=_m((list,), shape="list", items=(str,)))
    outcome: str | None = field(metadata=_OSTR)
    message: str = field(metadata=_STR)
    stopped_at: StopPoint | None = field(metadata=_m((dict, None), of=StopPoint))
    validation_in_flight: InFlight | None = field(metadata=_m((dict, None), of=InFlight))
    functional_level: dict[str, int | None] = field(  # "before", "after", "final"
        metadata=_m((dict,), shape="map", items=(int, None)))
    final_placement: dict[str, str | None] = field(metadata=_PLACES)
    availability: dict[str, Availability] = field(
        factory=dict, metadata=_m((dict,), of=Availability, shape="map"))
    adopted_target: AdoptedTarget | None = field(default=None,
                                                 metadata=_m((dict, None), of=AdoptedTarget))
    action_sent: dict[str, str] = field(factory=dict, metadata=_m((dict,), shape="map", items=(str,)))
    action_unconfirmed: dict[str, Unconfirmed] = field(
        factory=dict, metadata=_m((dict,), of=Unconfirmed, shape="map"))
    left_in_place: dict[str, str | None] = field(factory=dict, metadata=_PLACES)

    def step(self, step_id: str) -> StepRecord:
        """The step record ``step_id`` (KeyError if none). Found through an index of the steps'
        places, checked at each use and rebuilt when the list changed: the engine asks once per
        step, and a search from the start each time would be quadratic in the plan's length."""
        steps = self.steps
        places: dict[str, int] = self.__dict__.get("_places") or {}
        at = places.get(step_id)
        if at is None or at >= len(steps) or steps[at].id != step_id:
            places = {rec.id: i for i, rec in enumerate(steps)}
            self.__dict__["_places"] = places
            at = places.get(step_id)
            if at is None:
                raise KeyError(step_id)
        return steps[at]

    def to_dict(self, *, plan: bool = True) -> dict[str, Any]:
        """The JSON form; ``plan=False`` leaves the plan out (the file writes it apart)."""
        return self._dict(() if plan else ("plan",), _plain)

    def json_text(self, *, plan: bool = True, kept: TextCache | None = None) -> str:
        """``canonical(self.to_dict(plan=plan))``, reusing each written record's kept text;
        given ``kept`` (a cache the caller keeps from one call to the next: ``Journal``), also
        the texts of the fields that did not change since (see ``_composed``)."""
        return _composed(self, () if plan else ("plan",), kept)

    @classmethod
    def from_dict(cls, raw: Any, where: str = "<memory>") -> RunState:
        state = _load(cls, raw, where, "")
        check(state, where)
        return state


def check(state: RunState, where: str) -> None:
    """What the types alone do not say: known statuses and outcome, unique step ids, and no step
    started after an earlier one still pending."""
    ids: set[str] = set()
    for step in state.steps:
        if step.status not in STATUSES:
            raise JournalRejected(f"{where}: step {step.id} has unknown status {step.status!r}")
        if step.id in ids:
            raise JournalRejected(f"{where}: step id {step.id} appears twice")
        ids.add(step.id)
    # The engine runs steps strictly in order, so nothing after a pending step has been started:
    # a later step marked done (or running, or failed) was edited in, and resuming would skip it.
    first_pending = None
    for step in state.steps:
        if step.status == "pending":
            first_pending = first_pending or step.id
        elif first_pending is not None and step.status != "skipped":
            raise JournalRejected(
                f"{where}: step {step.id} is {step.status} but the earlier step"
                f" {first_pending} is still pending: steps out of order (edited?); clusterlib"
                " will not act on it")
    if state.outcome is not None and state.outcome not in OUTCOMES:
        raise JournalRejected(f"{where}: unknown outcome {state.outcome!r}")


# ---- version 1 ----

#: The fields version 1 wrote only once they were needed, with the value that means "none yet".
_V1_LATER: dict[str, Callable[[], Any]] = {
    "pid": lambda: None, "clusterlib_version": lambda: None, "endpoint": lambda: None,
    "hooks": lambda: {"pre_update": None, "verify": None}, "availability": dict,
    "adopted_target": lambda: None, "extra_steps": list, "action_sent": dict,
    "action_unconfirmed": dict, "left_in_place": dict,
}


def migrate_v1(body: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 journal body (with its plan) as version 2: the fields version 1 added only
    when needed are filled with their empty value, and each step gets its ``group``. Nothing
    else changes; the result is checked by ``RunState.from_dict`` like any version-2 body."""
    out = dict(body)
    for key, empty in _V1_LATER.items():
        if out.get(key) is None:
            out[key] = empty()
    steps = out.get("steps")
    if isinstance(steps, list):
        out["steps"] = [{"group": None, **s} if isinstance(s, dict) else s for s in steps]
    return out


MIGRATIONS: dict[int, Callable[[Mapping[str, Any]], dict[str, Any]]] = {1: migrate_v1}


def upgrade_body(body: Mapping[str, Any], version: int) -> dict[str, Any]:
    """``body`` as written by journal format ``version``, in today's form (VERSION)."""
    out = dict(body)
    while version < VERSION:
        out = MIGRATIONS[version](out)
        version += 1
    return out
