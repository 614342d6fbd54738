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

    kind: ClassVar[str] = "event"

    run_id: str
    node: str | None = None
    phase: str | None = None
    message: str = ""
    at: str = field(factory=utc_now)

    @property
    def text(self) -> str:
        where = " ".join(x for x in (self.node, self.phase) if x)
        return f"[{where}] {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=True, value_serializer=_plain)
        data = {"type": type(self).__name__, "kind": self.kind, **data, "text": self.text}
        return data


@frozen(kw_only=True)
class RunStarted(UpgradeEvent):
    kind: ClassVar[str] = "run-started"
    cluster: str
    nodes: tuple[str, ...] = ()
    resumed: bool = False


@frozen(kw_only=True)
class CheckFinished(UpgradeEvent):
    """One preflight check's result."""

    kind: ClassVar[str] = "check"
    check: str
    ok: bool


@frozen(kw_only=True)
class PhaseStarted(UpgradeEvent):
    """``timeout``: the bound on this phase in cluster seconds (None when unbounded here)."""

    kind: ClassVar[str] = "phase-started"
    step: str
    timeout: float | None = None


@frozen(kw_only=True)
class PhaseFinished(UpgradeEvent):
    """``status`` is "done", "skipped" (already done on the live cluster) or "failed"."""

    kind: ClassVar[str] = "phase-finished"
    step: str
    status: str
    seconds: float


@frozen(kw_only=True)
class GroupMoved(UpgradeEvent):
    kind: ClassVar[str] = "group-moved"
    group: str
    source: str | None
    target: str
    state: str
    attempts: int = 1
    seconds: float = 0.0
    purpose: str = ""  # drain, validation, failback, redistribute, rollback

    @property
    def text(self) -> str:
        return (f"[{self.node or ''} {self.phase or ''}] {self.group}: {self.source} -> {self.target}"
                f" ({self.state}, {self.purpose}, {self.seconds:.1f}s"
                f"{', ' + str(self.attempts) + ' attempts' if self.attempts > 1 else ''})")


@frozen(kw_only=True)
class Retry(UpgradeEvent):
    kind: ClassVar[str] = "retry"
    attempt: int
    error: str
    group: str | None = None


@frozen(kw_only=True)
class Warning(UpgradeEvent):  # the name the event stream documents (shadows the builtin here)
    """Something an operator should read, that did not stop the run."""

    kind: ClassVar[str] = "warning"


@frozen(kw_only=True)
class WaitingForOperator(UpgradeEvent):
    """A ManualAction waits for ``upgrade.confirm(node)`` (or the CLI's prompt)."""

    kind: ClassVar[str] = "waiting"
    prompt: str
    timeout: float


@frozen(kw_only=True)
class LockBroken(UpgradeEvent):
    kind: ClassVar[str] = "lock-broken"
    reason: str
    by: str
    previous: dict[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class RunFinished(UpgradeEvent):
    """``outcome``: "completed", "degraded" (every step done, but a group was down longer than
    its moves needed: see Report.availability), "incomplete" (nodes failed within
    max_failed_nodes) or "stopped"."""

    kind: ClassVar[str] = "run-finished"
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
