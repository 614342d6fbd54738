"""Typed, JSON-serialisable records of what a rolling upgrade does, for progress displays,
notebooks, webhooks and the journal.

Every event carries the run id, a UTC timestamp, the node and phase it concerns (None for
run-wide events) and a one-line human ``text``. ``event.to_dict()`` is plain JSON (strings,
numbers, booleans, None, lists), so a subscriber can forward it anywhere without knowing the class.
Subscribers are plain callables: ``upgrade.subscribe(fn)`` or ``RollingUpgrade(..., on_event=fn)``.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
from attrs import field, frozen

log = logging.getLogger("clusterlib.upgrade")


def utc_now() -> str:
    """An ISO 8601 UTC timestamp with milliseconds (what every record in the journal uses)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _plain(_inst: Any, _field: Any, value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@frozen(kw_only=True)
class UpgradeEvent:
    """Base of all events. ``message`` is the detail; ``text`` the rendered one-liner."""

    kind: ClassVar[str] = "event"  # each event names its own: class X(UpgradeEvent, kind=...)

    run_id: str
    node: str | None = None
    phase: str | None = None
    message: str = ""
    at: str = field(factory=utc_now)

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:  # (attrs rebuilds each class without it: the name is kept then)
            cls.kind = kind

    @property
    def text(self) -> str:
        where = " ".join(x for x in (self.node, self.phase) if x)
        return f"[{where}] {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=True, value_serializer=_plain)
        data = {"type": type(self).__name__, "kind": self.kind, **data, "text": self.text}
        return data


@frozen(kw_only=True)
class RunStarted(UpgradeEvent, kind="run-started"):
    """A run starts (``resumed``: from its journal), over ``nodes`` in their order."""

    cluster: str
    nodes: tuple[str, ...] = ()
    resumed: bool = False


@frozen(kw_only=True)
class CheckFinished(UpgradeEvent, kind="check"):
    """One preflight check's result."""

    check: str
    ok: bool


@frozen(kw_only=True)
class StepEvent(UpgradeEvent):
    """An event about one plan step: ``step`` is its id ("NODE1:drain", "cluster:redistribute")."""

    step: str


@frozen(kw_only=True)
class PhaseStarted(StepEvent, kind="phase-started"):
    """``timeout``: the bound on this phase in cluster seconds (None when unbounded here)."""

    timeout: float | None = None


@frozen(kw_only=True)
class PhaseFinished(StepEvent, kind="phase-finished"):
    """``status`` is "done", "skipped" (already done on the live cluster) or "failed"."""

    status: str
    seconds: float


@frozen(kw_only=True)
class GroupMoved(UpgradeEvent, kind="group-moved"):
    """A group moved (or was moved back: ``purpose`` "rollback"), as the journal records it."""

    group: str
    source: str | None
    target: str
    state: str
    attempts: int = 1
    seconds: float = 0.0
    #: drain, validation, failback, redistribute, recovery, rollback, drain-ahead (the next
    #: node's groups leaving while a node installs), drain-ahead-back (sent back after a stop)
    purpose: str = ""

    @property
    def text(self) -> str:
        return (f"[{self.node or ''} {self.phase or ''}] {self.group}: {self.source} -> {self.target}"
                f" ({self.state}, {self.purpose}, {self.seconds:.1f}s"
                f"{', ' + str(self.attempts) + ' attempts' if self.attempts > 1 else ''})")


@frozen(kw_only=True)
class Retry(UpgradeEvent, kind="retry"):
    """A refused or slow operation is tried again (``attempt`` counts from 1)."""

    attempt: int
    error: str
    group: str | None = None


@frozen(kw_only=True)
class Warning(UpgradeEvent, kind="warning"):  # the event stream's name (shadows the builtin)
    """Something an operator should read, that did not stop the run."""


@frozen(kw_only=True)
class WaitingForOperator(UpgradeEvent, kind="waiting"):
    """A ManualAction waits for ``upgrade.confirm(node)`` (or the CLI's prompt)."""

    prompt: str
    timeout: float


@frozen(kw_only=True)
class LockBroken(UpgradeEvent, kind="lock-broken"):
    """The cluster-side lock was broken by ``by`` (``previous``: the holder it named)."""

    reason: str
    by: str
    previous: dict[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class RunFinished(UpgradeEvent, kind="run-finished"):
    """``outcome``: "completed", "degraded" (every step done, but a group was down longer than
    its moves needed: see Report.availability), "incomplete" (nodes failed within
    max_failed_nodes) or "stopped"."""

    outcome: str
    seconds: float


UpgradeWarning = Warning

Subscriber = Callable[[UpgradeEvent], None]


class EventBus:
    """Delivers events to subscribers; a failing subscriber is logged, never allowed to break a
    run in flight (a display crash must not leave a node half-drained)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def emit(self, event: UpgradeEvent) -> None:
        log.info("%s", event.text)
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:
                log.exception("upgrade event subscriber failed on %s", type(event).__name__)
