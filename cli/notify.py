"""``--notify URL``: post upgrade events and the summary to a chat webhook, never slowing the upgrade.

Each message is JSON shaped like a Slack/Teams incoming-webhook body: a human ``text`` plus the
event's own fields under ``clusterlib``. Posting happens on one daemon thread fed by a bounded
queue: ``send`` never blocks (a full queue drops the message and counts it), each POST has a
short timeout and is tried again (bounded) when the service throttles or is briefly away, and
any failure is counted, reported once as a warning, and otherwise ignored:
a dead webhook must never stop or fail a rolling upgrade.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

_STOP = object()

#: Tries per message, and the pause before the second (doubled before the third).
ATTEMPTS = 3
RETRY_PAUSE = 0.5

#: ``--notify-on`` categories and the upgrade events each one lets through ("finish" is the
#: final summary the CLI sends itself; "stop" is that summary when the run did not complete).
CATEGORIES = ("start", "step", "warn", "stop", "finish")
_EVENT_CATEGORY = {"RunStarted": "start", "PhaseStarted": "step", "PhaseFinished": "step",
                   "GroupMoved": "step", "CheckFinished": "step", "Retry": "warn",
                   "Warning": "warn", "UpgradeWarning": "warn", "WaitingForOperator": "warn",
                   "LockBroken": "warn", "RunFinished": "finish"}


def parse_categories(text: str | None) -> frozenset[str]:
    """``--notify-on start,step,warn,stop,finish`` (or ``all``; the default): a ValueError
    naming the unknown word and the valid ones otherwise."""
    if text is None or text.strip().lower() in ("", "all"):
        return frozenset(CATEGORIES)
    words = {w.strip().lower() for w in text.split(",") if w.strip()}
    unknown = sorted(words - set(CATEGORIES))
    if unknown:
        raise ValueError(f"unknown --notify-on {', '.join(map(repr, unknown))}; valid:"
                         f" {', '.join(CATEGORIES)} or all")
    return frozenset(words)


class Notifier:
    """Background webhook poster. Use as a context manager; ``close`` flushes, bounded in time."""

    def __init__(self, url: str, *, timeout: float = 3.0, max_queue: int = 200,
                 flush_timeout: float = 5.0, categories: frozenset[str] | None = None) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"--notify needs an http(s) URL, not {url!r}")
        self.url = url
        self.categories = categories if categories is not None else frozenset(CATEGORIES)
        self.timeout = timeout
        self.flush_timeout = flush_timeout
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._worker, name="clusterlib-notify", daemon=True)
        self._thread.start()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, text: str, fields: Mapping[str, Any] | None = None) -> None:
        """Queue one message; never blocks, never raises."""
        body = {"text": text, "clusterlib": dict(fields or {})}
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.dropped += 1

    def on_upgrade_event(self, event: Any) -> None:
        """Subscriber for the upgrade's typed events (those of the chosen categories; the
        run's end is left to the final summary, which says more)."""
        doc = event.to_dict() if hasattr(event, "to_dict") else dict(event)
        category = _EVENT_CATEGORY.get(str(doc.get("type") or ""), "step")
        if category == "finish" or category not in self.categories:
            return
        self.send(str(doc.get("text") or doc), doc)

    def wants_summary(self, completed: bool) -> bool:
        return "finish" in self.categories or (not completed and "stop" in self.categories)

    def close(self) -> None:
        """Deliver what is queued within ``flush_timeout``, then let the daemon thread go."""
        deadline = time.monotonic() + self.flush_timeout
        while True:
            try:
                self._queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))

    def summary(self) -> str | None:
        """A warning line when something did not get through (None when all did)."""
        if not (self.failed or self.dropped) and self._queue.empty():
            return None
        pending = self._queue.qsize()
        why = f" (last error: {self.last_error})" if self.last_error else ""
        return (f"--notify: {self.sent} delivered, {self.failed} failed, {self.dropped} dropped,"
                f" {pending} undelivered{why}")

    def _worker(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._post(item)

    def _post(self, body: object) -> None:
        """POST one message: up to ``ATTEMPTS`` tries for what may pass on a second try (no
        connection, a timeout, HTTP 429 or 5xx: chat services throttle), with a short pause
        between them; a 4xx other than 429 is final. Bounded: attempts x timeout, on this
        thread only."""
        data = json.dumps(body, default=str).encode("utf-8")
        # The scheme was checked in __init__ (http/https only), so S310's file: worry is moot.
        request = urllib.request.Request(self.url, data=data, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read(1024)
                self.sent += 1
                return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                # The URL may carry a token (Slack webhooks do): report the reason only.
                code = getattr(exc, "code", None)
                reason = getattr(exc, "reason", None) or type(exc).__name__
                self.last_error = f"HTTP {code} {reason}" if isinstance(code, int) else str(reason)
                final = isinstance(code, int) and 400 <= code < 500 and code != 429
                if final or attempt == ATTEMPTS:
                    self.failed += 1
                    return
                time.sleep(RETRY_PAUSE * attempt)
