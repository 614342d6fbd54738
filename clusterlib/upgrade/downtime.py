"""The downtime ledger: when each group Online at the start went down, in which step, for how long."""

from __future__ import annotations

from typing import Any

from clusterlib.upgrade.context import RunContext
from clusterlib.upgrade.events import utc_now


def ledger(run: RunContext, group: str) -> dict[str, Any]:
    """``group``'s availability record, created empty on first use."""
    avail: dict[str, Any] = run.body.setdefault("availability", {})
    rec: dict[str, Any] = avail.setdefault(group, {
        "down_since": None, "counted_until": None, "down_phase": None, "excess": 0.0,
        "by_phase": {}, "episodes": []})
    return rec


def went_down(run: RunContext, group: str, since: float, label: str, state: str,
              on: str | None) -> None:
    """Note ``group`` as down since ``since`` (wall clock), if not already."""
    if run.body["original_states"].get(group) != "Online":
        return  # the invariant covers the groups Online at the start
    rec = ledger(run, group)
    if rec["down_since"] is None:
        rec["down_since"] = rec["counted_until"] = since
        rec["down_phase"] = label
        rec["episodes"].append({"from": utc_now(), "to": None, "seconds": 0.0,
                                "phase": label, "state": state, "on": on})
    else:
        rec["episodes"][-1].update(state=state, on=on)


def account(run: RunContext, group: str, now: float, label: str, up: bool) -> None:
    """Add the downtime since the last count to ``label``; close the episode when ``up``."""
    rec = ledger(run, group)
    if rec["down_since"] is None:
        return
    seconds = max(0.0, now - float(rec["counted_until"])) * run.cluster.time_scale
    rec["excess"] = round(float(rec["excess"]) + seconds, 3)
    rec["by_phase"][label] = round(float(rec["by_phase"].get(label, 0.0)) + seconds, 3)
    rec["episodes"][-1]["seconds"] = round(rec["episodes"][-1]["seconds"] + seconds, 3)
    rec["counted_until"] = now
    if up:
        rec["episodes"][-1]["to"] = utc_now()
        rec["down_since"] = rec["counted_until"] = None


def down_for(run: RunContext, group: str, now: float) -> float:
    """How long ``group`` has been down (cluster seconds), 0 when it is not."""
    since = ledger(run, group)["down_since"]
    return 0.0 if since is None else max(0.0, now - float(since)) * run.cluster.time_scale


def excess(run: RunContext) -> dict[str, float]:
    """Each group's downtime beyond its moves, for the groups that had any."""
    avail = run.body.get("availability", {})
    return {g: float(r["excess"]) for g, r in avail.items() if float(r["excess"]) > 0}
