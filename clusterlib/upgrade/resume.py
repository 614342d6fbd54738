"""Resuming from a journal: it fits the cluster, action and hooks rebuilt, the run reopened, re-verified."""

from __future__ import annotations

import os
from typing import Any

from clusterlib.cluster import Cluster
from clusterlib.errors import NotFound
from clusterlib.model import ClusterSnapshot
from clusterlib.upgrade import lock as locks
from clusterlib.upgrade.actions import UpgradeAction, action_from_dict
from clusterlib.upgrade.context import RunContext, same
from clusterlib.upgrade.errors import JournalRejected
from clusterlib.upgrade.journal import Journal, check_action
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.state import Endpoint, StepRecord, StopPoint

FINISHED = ("completed", "degraded", "incomplete")


def checked_options(cluster: Cluster, j: Journal, journal: str | os.PathLike[str]) -> UpgradeOptions:
    """The journal's options, once the journal is shown to be this cluster's (its name and
    every node of it); refuses another cluster's journal, naming both."""
    state = j.state
    live = cluster.snapshot()
    if not same(state.cluster, live.name):
        raise JournalRejected(f"{journal}: this journal is for cluster {state.cluster}, but"
                              f" the connection is to cluster {live.name}; nothing was done")
    live_nodes = {n.name.lower() for n in live.nodes}
    unknown = [n for n in state.nodes_before if n.lower() not in live_nodes]
    if unknown:
        raise JournalRejected(f"{journal}: nodes {', '.join(unknown)} of the journal are not in"
                              f" cluster {live.name}; nothing was done")
    try:
        return UpgradeOptions.from_dict(state.options)
    except (TypeError, ValueError, KeyError) as exc:
        raise JournalRejected(f"{journal}: unreadable options: {exc}") from exc


def rebuilt_action(j: Journal, action: UpgradeAction | None,
                   journal: str | os.PathLike[str]) -> UpgradeAction | None:
    """The action a resume runs: the caller's (checked against the journal's record), else the
    journal's when it can be rebuilt; refuses when steps still need an action nobody gave."""
    state = j.state
    if action is not None:
        # The action a resume runs is the one the caller means, never just what the file says.
        check_action(state.action, action.to_dict(), str(journal))
    act = action or action_from_dict(state.action)
    pending = [s for s in state.steps
               if s.kind == "action" and s.status not in ("done", "skipped")]
    if act is None and pending:
        raise JournalRejected(
            f"{journal}: the run's action ({state.action.get('kind')}) cannot be rebuilt"
            " from the journal (code, a person, or a secret command line); pass action=")
    return act


def rebuilt_hooks(j: Journal, journal: str | os.PathLike[str], **given: Any) -> dict[str, Any]:
    """The run's hooks (``pre_update``, ``verify``): the caller's, else rebuilt from the
    journal; refuses a recorded hook that cannot be rebuilt (code or a secret)."""
    hooks = j.state.hooks
    rebuilt = dict(given)
    for name, value in given.items():
        saved: dict[str, Any] | None = getattr(hooks, name)
        if value is None and saved:
            rebuilt[name] = action_from_dict(saved)
            if rebuilt[name] is None:
                raise JournalRejected(
                    f"{journal}: the run's {name} hook ({saved.get('kind')}"
                    f" {saved.get('name') or ''}) cannot be rebuilt from the journal (code or"
                    f" a secret); pass {name}= to resume")
    return rebuilt


def reopen(run: RunContext, snapshot: ClusterSnapshot, endpoint: Endpoint) -> None:
    """Reopen a recorded run for this session (the lock is already taken): clear its outcome,
    audit who resumed it and through what, and re-verify it against ``snapshot``. Every resume
    re-reads the live cluster, also of a run the journal calls finished: the journal's word is
    never the outcome. The steps the live cluster contradicts are reopened, and the final check
    always runs again; a finished run that still holds sends nothing (every step is done)."""
    state = run.state
    was = state.outcome
    state.outcome = None
    state.stopped_at = None
    state.message = "resumed"
    run.audit(f"resumed by {locks.whoami()} pid {os.getpid()}"
              + (f" (the journal said {was}; re-checked)" if was in FINISHED else ""))
    if state.endpoint != endpoint:
        # The report says where the run's changes went: the latest endpoint, each change
        # audited (a simulated run resumed on a real host, or the reverse, is visible).
        run.audit(f"resumed through {endpoint.kind} {endpoint.target}"
                  + (f" (the run was on {state.endpoint.kind} {state.endpoint.target})"
                     if state.endpoint else ""))
        state.endpoint = endpoint
    reverify(run, snapshot)


def unbuildable(run: RunContext) -> str | None:
    """Why this session cannot continue: nodes the live cluster reopened need the action, but
    it could not be rebuilt from the journal (None when the session can go on)."""
    state = run.state
    pending = sorted({str(r.node) for r in state.steps if r.kind == "action"
                      and r.status not in ("done", "skipped")})
    if run.action is not None or not pending:
        return None
    # Reopened by the live cluster (a node rolled back after the run finished), but the action
    # is not in the journal (code, a person, a secret line): refuse before any change. The
    # journal keeps the truth (the reopened steps are in it); a resume with action= continues.
    message = (f"the live cluster contradicts the journal: {', '.join(pending)} must be"
               f" upgraded again, but the run's action ({state.action.get('kind')})"
               " cannot be rebuilt from the journal (code, a person, or a secret command"
               " line); pass action= to resume; nothing was done")
    state.outcome = "stopped"
    state.message = message
    state.stopped_at = StopPoint(node=pending[0], group=None, phase="resume")
    return message


def reverify(run: RunContext, snapshot: ClusterSnapshot) -> None:
    """On resume, re-check every node the journal says is upgraded against the live cluster
    (it may have been rolled back or reimaged since). A node whose verify step is done but
    whose live version is not the target's is upgraded again from its drain: new steps are
    appended (the journal's done steps stay as the history). Sending its installer again is
    safe here, because that node's earlier installer was proven finished (it came back on
    the new version). A node whose action started but was never verified is not redone: its
    reboot step waits for evidence, and never re-sends (see nodewatch.await_evidence). When
    every step is done but groups are off their original owners, the redistribution runs
    again."""
    state = run.state
    redo = _rolled_back(run, snapshot)
    every_done = all(r.status in ("done", "skipped") for r in state.steps)
    left = state.left_in_place
    misplaced = [g.name for g in snapshot.groups
                 if state.original_placement.get(g.name)
                 and not same(g.owner, state.original_placement[g.name])
                 and g.name not in left]
    if not redo and not (every_done and misplaced):
        return
    _redo_steps(run, redo)
    run.audit("resume redoes " + (", ".join(redo) or "the redistribution")
              + " (the live cluster contradicts the journal)")


def _rolled_back(run: RunContext, snapshot: ClusterSnapshot) -> list[str]:
    """Nodes the journal verified as upgraded that the live cluster shows on another version;
    their recorded versions and action records are dropped."""
    state = run.state
    latest: dict[tuple[str, str], StepRecord] = {}
    for rec in state.steps:
        if rec.node is not None:
            latest[(rec.node, rec.kind)] = rec
    redo: list[str] = []
    for n in state.plan["order"]:
        verified = latest.get((n, "verify"))
        if n in state.failed_nodes or verified is None or verified.status != "done":
            continue
        try:
            info = snapshot.node(n)
        except NotFound:
            continue
        if run.upgraded(n, info):
            continue
        redo.append(n)
        run.warn(f"the journal says {n} is upgraded, but it runs cluster service"
                 f" {info.highest_version} (OS {info.os_version}) now: rolled back or"
                 " reimaged; it is upgraded again", node=n, phase="resume")
        state.nodes_after.pop(n, None)
        state.action_unconfirmed.pop(n, None)
        state.action_sent.pop(n, None)
    return redo


def _redo_steps(run: RunContext, redo: list[str]) -> None:
    """Append the plan's steps of each node in ``redo``, and one redistribution, as new steps."""
    state = run.state
    rounds = 1 + sum(1 for x in state.extra_steps if x["kind"] == "redistribute")
    plan_steps = [*state.plan["steps"], *state.extra_steps]
    added: list[dict[str, Any]] = []
    for n in redo:
        added += [x for x in state.plan["steps"] if x["node"] == n]
    added += [x for x in plan_steps if x["kind"] == "redistribute"][:1]
    for raw in added:
        step = dict(raw, id=f"{raw['id']}#redo{rounds}")
        state.extra_steps.append(step)
        state.steps.append(pending_record(step["id"], step["kind"], step["node"],
                                            step.get("group")))


def pending_record(step_id: str, kind: str, node: str | None, group: str | None) -> StepRecord:
    """A step's journal record before it runs."""
    return StepRecord(id=step_id, kind=kind, node=node, group=group, status="pending",
                      attempts=0, started=None, finished=None, seconds=None, message="")
