"""Live fleet progress: one line per cluster event for a terminal, a live table for a notebook."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from clusterlib.fleet.records import FleetEvent

#: Engine event kinds worth a terminal line (the rest, e.g. every check, stay in the journal).
LINE_KINDS = ("phase-started", "phase-finished", "run-finished", "warning", "retry",
              "waiting-for-operator", "lock-broken")


class Writable(Protocol):
    """Anything print() can write to (a text stream)."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def print_events(stream: Writable | None = None, *, verbose: bool = False
                 ) -> Callable[[FleetEvent], None]:
    """A subscriber printing ``[cluster] text`` for each fleet event and each step of every
    cluster (``verbose``: every engine event)."""

    def show(event: FleetEvent) -> None:
        if event.kind == "upgrade" and not verbose:
            if (event.upgrade or {}).get("kind") not in LINE_KINDS:
                return
        out = stream if stream is not None else sys.stderr
        print(event.line(), file=out, flush=True)

    return show


class NotebookProgress:
    """A notebook subscriber: one live HTML table, a row per cluster with its last event.

    ``fleet.subscribe(NotebookProgress())``; outside IPython it keeps the rows (``.rows``)
    and displays nothing.
    """

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}
        self.fleet_line = ""
        self._handle: Any = None
        try:
            from IPython.display import (  # type: ignore[import-not-found, unused-ignore]
                HTML,
                display,
            )
        except ImportError:
            self._html: Any = None
        else:
            self._html = HTML
            self._handle = display(HTML(self.to_html()), display_id=True)  # type: ignore[no-untyped-call, unused-ignore]

    def __call__(self, event: FleetEvent) -> None:
        if event.cluster is None:
            self.fleet_line = event.text
        elif event.kind == "upgrade":
            self.rows[event.cluster] = (self.rows.get(event.cluster, ("running", ""))[0],
                                        event.text)
        else:
            state = {"finished": event.text.split(":", 1)[0], "started": "running",
                     "planned": "planned"}.get(event.kind, event.kind)
            self.rows[event.cluster] = (state, event.text)
        if self._handle is not None:
            self._handle.update(self._html(self.to_html()))

    def to_html(self) -> str:
        import html

        body = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(s)}</td>"
                       f"<td>{html.escape(t)}</td></tr>" for n, (s, t) in self.rows.items())
        return (f"<p>{html.escape(self.fleet_line)}</p><table><tr><th>cluster</th><th>state</th>"
                f"<th>last event</th></tr>{body}</table>")

    def _repr_html_(self) -> str:
        return self.to_html()
