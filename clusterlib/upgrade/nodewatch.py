"""Watching a node through its upgrade: down and back, evidence an installer started, refused joins."""

from __future__ import annotations

import time

from clusterlib.cluster import execute_then_node
from clusterlib.errors import ClusterError, WaitTimeout
from clusterlib.model import NodeInfo, NodeState
from clusterlib.retry import WaitPolicy, pause_between_polls
from clusterlib.upgrade.context import BACK, OUT, RunContext, Stop, same
from clusterlib.upgrade.options import TargetVersion
from clusterlib.upgrade.preflight import join_verdict

#: Cluster seconds between reads of a node whose installer runs with the node still Up (before
#: it is first seen going down): nothing there needs catching promptly, since the restart keeps
#: the node out for a while and a new version also counts as seen down; from then on the node
#: is read every ``poll_interval`` so its return is seen at once. Never less than poll_interval.
INSTALL_POLL = 15.0
#: Cluster seconds between reads of a node seen Joining: it is back (Paused or Up) within the
#: join's few seconds, and the run waits for that, so its return is seen promptly (at
#: ``poll_interval`` it would be seen half an interval late on average). Never more than
#: poll_interval.
JOIN_POLL = 1.0


class _BackWatch:
    """The conditions of one wait for a node to go down and come back (see ``wait_back``)."""

    def __init__(self, run: RunContext, node: str, seen_down: bool) -> None:
        self.run = run
        self.node = node
        self.down = seen_down
        self.joining_at: float | None = None
        self.incompatible_at: float | None = None
        self.failure: str | None = None
        # When the read being judged began: how long the node has been Joining (or refused) is
        # measured between reads, never up to after a stall that followed the read (a paused
        # VM, a long garbage collection), which would blame the node for the client's pause.
        self.read_at = time.monotonic()

    def done(self, info: NodeInfo) -> bool:
        # Evidence it went down: seen out, or already on another version (it restarted
        # between two reads).
        if info.state in OUT or self.run.changed(self.node, info):
            self.down = True
        if info.state is NodeState.Joining and self.joining_at is None:
            self.joining_at = time.monotonic()
        return self.down and info.state in BACK

    def failed(self, info: NodeInfo) -> str | None:
        run, n = self.run, self.node
        scale = run.cluster.time_scale
        if self.joining_at is not None and info.state is NodeState.Joining and (
                self.read_at - self.joining_at) * scale > run.options.rejoin_timeout:
            self.failure = f"{n} has been Joining for more than {run.options.rejoin_timeout:g}s"
            return self.failure
        # Down with versions the join rule refuses: refused, once we saw it try to join
        # (Joining, then Down again), or once that has lasted the rejoin timeout; a node
        # still rebooting into a fixed install also looks like this for a while.
        if info.state is NodeState.Down and incompatible(run, n, info):
            since = self.incompatible_at or time.monotonic()
            self.incompatible_at = since
            if self.joining_at is not None or (
                    self.read_at - since) * scale >= run.options.rejoin_timeout:
                self.failure = join_refused_text(run, n, info)
                return self.failure
        else:
            self.incompatible_at = None
        return None


def wait_back(run: RunContext, n: str, *, seen_down: bool) -> NodeInfo:
    """Wait, bounded, for ``n`` to go down (unless already seen) and return Paused or Up.
    Stops early when the node came back with versions the cluster refuses (join refused)."""
    watch = _BackWatch(run, n, seen_down)
    timeout = run.options.reboot_timeout
    try:
        info = _watch(run, n, watch, timeout)
        run.back = (n, info, time.monotonic())  # the version check may start from it
        return info
    except WaitTimeout as exc:
        if watch.failure:
            raise Stop(watch.failure, node=n, phase="reboot") from exc
        last = run.node(n)
        raise Stop(f"{n} did not come back within {timeout:g}s after the upgrade action (last"
                   f" seen {last.state.name}{'' if watch.down else ', never seen going down'})."
                   " It owns no group and every group runs on the other nodes. Once it is back"
                   " (Paused), run RollingUpgrade.resume with the journal."
                   + ("" if watch.down else
                      " The installer was not sent again. If it failed or never ran (an exit"
                      " code started through WMI cannot be read), resume with"
                      f" resend_action=[{n!r}]."), node=n, phase="reboot") from exc


def _watch(run: RunContext, n: str, watch: _BackWatch, timeout: float) -> NodeInfo:
    """Read ``n`` every INSTALL_POLL until it is seen going down, then every poll_interval
    until it is back or Joining, then every JOIN_POLL until it is back; ``timeout`` bounds
    them together."""
    def read() -> NodeInfo:
        watch.read_at = time.monotonic()
        return run.node(n)

    def left() -> float:
        return max(timeout - (time.monotonic() - started) * run.cluster.time_scale, 0.0)

    what = f"{n} to come back"
    started = time.monotonic()
    every = run.options.poll_interval
    if not watch.down:
        info = run.wait(read, lambda x: watch.done(x) or watch.down, timeout, what,
                        failed=watch.failed, interval=max(every, INSTALL_POLL))
        if watch.done(info):
            return info
        if info.state is not NodeState.Joining:
            # Just seen out: the next read comes one poll_interval later, not at once.
            pause_between_polls(WaitPolicy(timeout, every), run.cluster.time_scale,
                                clock=run.cluster.policies.clock)
    info = run.wait(read, lambda x: watch.done(x) or x.state is NodeState.Joining, left(), what,
                    failed=watch.failed)
    if watch.done(info):
        return info
    return run.wait(read, watch.done, left(), what, failed=watch.failed,
                    interval=min(JOIN_POLL, every))


def await_evidence(run: RunContext, n: str, why: str) -> tuple[str, str]:
    """The action's start on ``n`` can be neither confirmed nor ruled out. Wait, bounded by
    ``reboot_timeout``, for evidence that it started (``n`` going down, or already on a new
    version); without it, stop for an operator. Never send the action again."""
    timeout = run.options.reboot_timeout
    try:
        info = run.wait(lambda: run.node(n), lambda x: x.state in OUT or run.changed(n, x),
                        timeout, f"evidence that the upgrade of {n} started")
    except WaitTimeout as exc:
        raise Stop(f"{why}. {n} did not restart and runs the same version {timeout:g}s later."
                   " The upgrade action was NOT sent again: a second installer on a node"
                   f" mid-upgrade can break it. {n} is paused and owns no group. Check {n}: if"
                   " the installer runs, let it finish and resume; if it never started, resume"
                   f" with resend_action=[{n!r}] (CLI: clusterlib upgrade resume JOURNAL"
                   f" --resend-action {n}).", node=n, phase="action") from exc
    return "done", (f"start unconfirmed ({why}), but {n} is"
                    f" {info.state.name} on {info.highest_version}: it started")


def _others_back(run: RunContext, n: str) -> list[NodeInfo]:
    return [x for x in run.cluster.snapshot().nodes if not same(x.name, n) and x.state in BACK]


def incompatible(run: RunContext, n: str, info: NodeInfo) -> bool:
    """Whether the cluster's join rule refuses ``n`` on the versions it came back with."""
    if info.highest_version is None or str(info.highest_version) == run.before(n).highest:
        return False
    ok, _why = join_verdict(TargetVersion(info.highest_version, info.lowest_version),
                            _others_back(run, n))
    return ok is False


def join_refused_text(run: RunContext, n: str, info: NodeInfo) -> str:
    _ok, why = join_verdict(TargetVersion(info.highest_version or "0.0", info.lowest_version),
                            _others_back(run, n))
    return (f"{n} came back running cluster service {info.highest_version} (lowest"
            f" {info.lowest_version}, OS {info.os_version}) and the cluster refuses its join"
            f" (Win32 5075 ERROR_CLUSTER_INCOMPATIBLE_VERSIONS; {why}). It owns no group;"
            " install a compatible version on it, then resume with the journal.")


def resume_node(run: RunContext, n: str) -> NodeInfo:
    """Resume ``n`` without failback and wait, bounded by ``rejoin_timeout``, until it is Up;
    returns it as last read. The resume and the node's first read travel in one round trip
    (``cluster.execute_then_node``): Resume-ClusterNode returns once the node is Up, so that
    read usually ends the wait."""
    d = run.cluster.dialect
    info = execute_then_node(run.cluster, d.resume_command(n, failback="NoFailback"), n)
    if info.state is NodeState.Up:
        return info
    return run.wait(lambda: run.node(n), lambda x: x.state is NodeState.Up,
                    run.options.rejoin_timeout, f"resume of {n}")


def node_state_text(run: RunContext, node: str) -> str:
    """``node``'s state and the groups it still owns, for a stop's message ("" unreadable)."""
    try:
        snap = run.cluster.snapshot()
    except ClusterError:
        return ""
    me = snap.node(node)
    on = [g.name for g in snap.groups_on(node)]
    return (f"{node} is {me.state.name}" + (f" and still owns {', '.join(on)}" if on else
                                            " and owns no group") + ".")
