"""Driving one upgrade run at the terminal: progress, webhook, safe Ctrl-C/SIGTERM, then report and exit code.

Ctrl-C or SIGTERM during a run asks the engine to stop at the next step boundary (the cluster is
never left mid-move); a second one interrupts at once, and the engine journals the step's real
end. Either way the report is printed with the exact ``clusterlib upgrade resume`` command that
works (every connection option but the secrets), and a safe stop exits 4. A run on a fresh
embedded simulator cannot be resumed (its cluster lived in the process): the CLI says so and
how to rehearse a resume against ``clusterlib sim serve`` instead of printing a command that
would resume against a different, fresh cluster.
"""

from __future__ import annotations

import json as json_module
import os
import shlex
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from clusterlib_cli.passwords import PASSWORD_ENV
from clusterlib_cli.upgrade_args import RunReporting, action_args

if TYPE_CHECKING:
    import clusterlib
    from clusterlib.upgrade import Plan, Report, RollingUpgrade, UpgradeOptions
    from clusterlib_cli.notify import Notifier
    from clusterlib_cli.render import RenderContext
    from clusterlib_cli.target import Target

_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopOnInterrupt:
    """First Ctrl-C or SIGTERM: stop at the next step boundary. Second: interrupt at once (the
    engine journals the interrupted step's real end; resume re-checks it).

    SIGTERM (what ``kill``, systemd and container runtimes send) is handled exactly like Ctrl-C:
    its default action would end the process mid-step without a journal entry or a report.
    """

    def __init__(self, upgrade: RollingUpgrade, ui: RenderContext) -> None:
        self.requested = False
        self.by: str | None = None
        self._upgrade = upgrade
        self._ui = ui
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def request(self, by: str) -> None:
        """Stop at the next step boundary (the engine's flag; safe from a signal or a timer)."""
        self.requested, self.by = True, by
        self._upgrade.request_stop()

    def _handle(self, signum: int, frame: Any) -> None:
        name = _SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}")
        if self.requested:
            raise KeyboardInterrupt
        self.request(name)
        self._ui.warn(f"{name}: stopping after the current step ({name} again to interrupt now)")


def _phase_timeouts(options: UpgradeOptions) -> dict[str, float]:
    return {"drain": options.drain_timeout, "action": options.action_timeout,
            "reboot": options.reboot_timeout, "verify": options.rejoin_timeout}


def journal_failure(exc: BaseException | None) -> tuple[str, str] | None:
    """(file, reason) when ``exc`` or its cause is a failed journal write, else None.

    The engine reports it as ``JournalWriteFailed`` (with ``path``), or as a stop caused by an
    ``OSError``; a bare ``OSError`` naming a file is recognised too, so a full disk is never
    presented as an "unexpected OSError"."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ in ("JournalWriteFailed", "JournalTakenOver"):
            reason = str(exc)
            if exc.__cause__ is not None and isinstance(exc.__cause__, OSError):
                reason = exc.__cause__.strerror or str(exc.__cause__)
            return str(getattr(exc, "path", None) or "the journal"), reason
        if isinstance(exc, OSError) and (exc.filename or type(exc) is OSError):
            return str(exc.filename or "the journal"), exc.strerror or str(exc)
        exc = exc.__cause__ or exc.__context__
    return None


def write_html(html: Path, report: Report, target: Target | None) -> None:
    from clusterlib_cli import render

    # 0600 like the journal: a report names nodes, groups and command lines.
    fd = os.open(str(html), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        fh.write(render.html_report(report, target))
    render.info(f"HTML report written to {html}")


def print_report(report: Report, target: Target, json: bool) -> None:
    from clusterlib_cli import render

    render.out("")
    if json:
        render.out(render.mark_json_text(report.to_json(), target))
    else:
        render.sim_banner(target)
        render.out(report.to_text())


def _downtimes(availability: Any) -> dict[str, float]:
    """Each group's downtime in seconds from a report document's ``availability``."""
    downtime: dict[str, float] = {}
    groups = availability.get("groups", availability) if isinstance(availability, dict) else None
    if isinstance(groups, dict):
        for name, value in groups.items():
            total = value.get("seconds", value.get("total")) if isinstance(value, dict) else value
            if isinstance(total, (int, float)):
                downtime[str(name)] = round(float(total), 1)
    return downtime


def final_summary(cluster: str, report: Report | None, outcome: str, journal: Path,
                  html: Path | None, target: Target) -> tuple[str, dict[str, Any]]:
    """The webhook's last message: outcome, groups off their original owner, each group's
    downtime, and where the journal and the report are."""
    doc: dict[str, Any] = {}
    if report is not None:
        try:
            doc = json_module.loads(report.to_json())
        except (TypeError, ValueError):
            doc = {}
    misplaced = doc.get("misplaced") or {}
    downtime = _downtimes(doc.get("availability") or {})
    fields = {"outcome": outcome, "cluster": cluster, "message": doc.get("message"),
              "misplaced": misplaced, "downtime_seconds": downtime,
              "journal": str(Path(journal).absolute()),
              "report_html": str(Path(html).absolute()) if html is not None else None,
              "simulated": target.is_sim}
    worst = max(downtime.items(), key=lambda kv: kv[1], default=None)
    parts = [f"clusterlib: upgrade of {cluster}: {outcome.upper()}"]
    if doc.get("message"):
        parts.append(str(doc["message"]))
    parts.append(f"{len(misplaced)} group(s) off their original owner" if misplaced
                 else "every group on its original owner" if doc else "placement unknown")
    if worst is not None:
        parts.append(f"longest downtime {worst[0]} {worst[1]:g} s")
    if html is not None:
        parts.append(f"report {Path(html).absolute()}")
    if target.is_sim:
        parts.insert(0, "SIMULATED")
    return "; ".join(parts), fields


# --- the resume command ---------------------------------------------------------------------------

def resume_command(journal: Path | str, target: Target, extra: list[str] | None = None) -> str:
    """The exact command that resumes this run (never with a secret in it): the journal's
    absolute path, every connection option, and the action options the resume must match."""
    path = Path(journal).expanduser().absolute()
    return shlex.join(["clusterlib", "upgrade", "resume", str(path), *target.connection_args(),
                       *(extra or [])])


def resume_lines(journal: Path | str, target: Target, extra: list[str] | None = None) -> list[str]:
    """What to print after a stop: the command that works, or why there is none."""
    if target.is_sim:
        serve = shlex.join(["clusterlib", "sim", "serve", "--sim", target.layout, "--ssl"])
        return [f"This run was on a fresh embedded simulator (--sim {target.layout}): its cluster"
                " lived in this process and is gone, so it cannot be resumed (a new --sim would"
                " be a different, unchanged cluster).",
                f"To rehearse stop and resume, serve a simulator ({serve}), run the upgrade"
                " against it with the --host options it prints, and resume with the same"
                " options: clusterlib upgrade resume JOURNAL --host ..."]
    text = f"Resume with: {resume_command(journal, target, extra)}"
    if target.user and not target.password_stdin:
        text += f"   (password from ${PASSWORD_ENV}, or asked at the prompt)"
    return [text]


def _status_command(target: Target) -> str:
    return shlex.join(["clusterlib", "status", *target.connection_args()])


# --- one run --------------------------------------------------------------------------------------

@dataclass
class _Outcome:
    """What a run ended with: its report (None when there is none to show) and the exception."""

    report: Report | None
    failure: BaseException | None
    stopper: StopOnInterrupt

    @property
    def stopped_by_us(self) -> bool:
        return self.stopper.requested and _is_stop(self.failure)


def _deadline_timers(stopper: StopOnInterrupt, ui: RenderContext, *, stop_after: float | None,
                     warn_after: float | None) -> list[threading.Timer]:
    """--stop-after: stop at the next boundary once the run has taken that long (wall seconds,
    as CAU's StopAfter); --warn-after: say so once (CAU's WarnAfter)."""
    timers: list[threading.Timer] = []
    if stop_after is not None:
        def stop() -> None:
            ui.warn(f"--stop-after {stop_after:g} s reached: stopping after the current step")
            stopper.request("--stop-after")

        timers.append(threading.Timer(stop_after, stop))
    if warn_after is not None:
        timers.append(threading.Timer(warn_after, ui.warn, args=(
            f"--warn-after {warn_after:g} s: the run is taking longer than expected",)))
    for timer in timers:
        timer.daemon = True
        timer.start()
    return timers


def _watched_run(upgrade: RollingUpgrade, subscribers: list[Callable[[], None]],
                 stopper: StopOnInterrupt, progress: Any, timers: list[threading.Timer]) -> _Outcome:
    """Run (or resume) until it returns or raises; the report is read whatever happened."""
    report: Report | None = None
    failure: BaseException | None = None
    try:
        with stopper, progress:
            report = upgrade.run()
    except KeyboardInterrupt as exc:
        failure = exc
        report = _safe_report(upgrade)
    except Exception as exc:
        report = getattr(exc, "report", None) or _safe_report(upgrade)
        failure = exc
    finally:
        for timer in timers:
            timer.cancel()
        for unsubscribe in subscribers:
            unsubscribe()
    return _Outcome(report, failure, stopper)


def drive(upgrade: RollingUpgrade, cluster: clusterlib.Cluster, target: Target, journal: Path,
          reporting: RunReporting, *, resume: bool, stop_after: float | None = None,
          warn_after: float | None = None, plan: Plan | None = None) -> None:
    """Run (or resume) with progress, webhook and safe Ctrl-C/SIGTERM, then present the truth:
    the report (whatever the outcome), where the run stopped, and the resume command."""
    from clusterlib_cli import render
    from clusterlib_cli.notify import Notifier
    from clusterlib_cli.progress import Progress

    ui = render.current()
    progress = Progress(f"{'Resuming' if resume else 'Rolling'} upgrade of {cluster.name}",
                        time_scale=cluster.time_scale, ui=ui)
    progress.timeouts = _phase_timeouts(upgrade.options)
    if plan is not None:
        progress.set_plan(plan)
    notifier = (Notifier(reporting.notify, categories=reporting.categories())
                if reporting.notify else None)
    stopper = StopOnInterrupt(upgrade, ui)
    subscribers = [upgrade.subscribe(progress.on_upgrade_event),
                   cluster.subscribe(progress.on_cluster_event)]
    if notifier is not None:
        subscribers.append(upgrade.subscribe(notifier.on_upgrade_event))
    timers = _deadline_timers(stopper, ui, stop_after=stop_after, warn_after=warn_after)
    outcome = _watched_run(upgrade, subscribers, stopper, progress, timers)
    html_written = _write_report_html(reporting.html, outcome.report, target)
    if notifier is not None:
        _send_summary(notifier, cluster.name, outcome, journal,
                      reporting.html if html_written else None, target)
    if outcome.report is not None:
        print_report(outcome.report, target, reporting.json)
    _conclude(upgrade, target, journal, outcome)


def _write_report_html(html: Path | None, report: Report | None, target: Target) -> bool:
    from clusterlib_cli import render

    if html is None or report is None:
        return False
    try:
        write_html(html, report, target)
    except OSError as exc:
        render.warn(f"could not write the HTML report {html}: {exc.strerror or exc}")
        return False
    return True


def _send_summary(notifier: Notifier, cluster: str, outcome: _Outcome, journal: Path,
                  html: Path | None, target: Target) -> None:
    from clusterlib_cli import render

    said = (f"stopped ({outcome.stopper.by})" if outcome.stopped_by_us
            else getattr(outcome.report, "outcome", None) or "failed")
    if notifier.wants_summary(said == "completed"):
        text, fields = final_summary(cluster, outcome.report, said, journal, html, target)
        notifier.send(text, fields)
    notifier.close()
    problem = notifier.summary()
    if problem:
        render.warn(problem)


def _conclude(upgrade: RollingUpgrade, target: Target, journal: Path, outcome: _Outcome) -> None:
    """The lines after the report and the exit code (returns only for a clean completion)."""
    from clusterlib_cli import render

    report, failure = outcome.report, outcome.failure
    if failure is None:
        code = render.exit_code_for_report(report)
        if code == render.FINISHED_WITH_PROBLEMS:
            # Every step ran but the report is not a clean completion: never exit 0 for it.
            render.info(f"the run finished {str(getattr(report, 'outcome', '')).upper()}, not"
                        f" completed (see the report above); exit {code}")
            raise typer.Exit(code)
        return
    written = journal_failure(failure)
    if written is not None and report is None and not Path(journal).exists():
        # The engine writes the journal before it takes the lock or changes anything.
        render.usage_line(f"the run's journal {written[0]} could not be created ({written[1]});"
                          " the run did not start and nothing was changed. Free space or fix the"
                          " file system (or choose another --journal), then run it again.")
        raise typer.Exit(render.REFUSED)
    _explain_where(upgrade, target, journal, outcome)
    if written is not None:
        _explain_journal_failure(target, written, failure)
    _exit_for_failure(target, outcome)


def _explain_where(upgrade: RollingUpgrade, target: Target, journal: Path,
                   outcome: _Outcome) -> None:
    """Who holds the cluster now (fenced out), or the command that resumes this run."""
    from clusterlib.upgrade import LockLost
    from clusterlib_cli import render

    if isinstance(outcome.failure, LockLost):
        # Fenced out: another holder took the lock (a resume while this process was frozen, or
        # a broken lock). Resuming from here would fight it; say who holds the cluster now.
        describe = getattr(outcome.failure.holder, "describe", None)
        who = describe() if callable(describe) else "nobody (the lock was removed)"
        render.info(f"This run no longer holds the cluster's upgrade lock; it now belongs to"
                    f" {render.visible(str(who))}. Nothing more was sent. Check that run before"
                    " resuming this journal.")
    elif str(getattr(outcome.report, "outcome", "") or "") != "completed":
        for text in resume_lines(journal, target, action_args(upgrade.action)):
            render.info(text)


def _explain_journal_failure(target: Target, written: tuple[str, str],
                             failure: BaseException) -> None:
    from clusterlib_cli import render

    path, reason = written
    render.usage_line(f"the run's journal {path} could not be written ({reason}).")
    then = ("then resume with the command above" if not target.is_sim
            else "(a run on a fresh simulator cannot be resumed, see above)")
    if _is_stop(failure):
        render.info("The run stopped safely before its next change: the cluster is as the"
                    f" report above shows. Free space or fix the file system, {then}.")
    else:
        render.info("The run stopped at once. See where every node and group is with: "
                    + _status_command(target) + f"; free space or fix the file system, {then}.")
    raise typer.Exit(render.STOPPED)


def _exit_for_failure(target: Target, outcome: _Outcome) -> None:
    from clusterlib_cli import render

    stopper, failure = outcome.stopper, outcome.failure
    if outcome.stopped_by_us:
        render.info(f"stopped safely between two steps at your request ({stopper.by}); exit 4")
        raise typer.Exit(render.STOPPED)
    if isinstance(failure, KeyboardInterrupt):
        # Not "safely": a step was cut short. The cluster may still finish what it was asked
        # (a move, a drain); the report above is what the run knew when it was interrupted.
        render.info(f"interrupted mid-step ({stopper.by or 'Ctrl-C'} twice): the journal records"
                    " where that step was, and the resume re-checks it against the live cluster"
                    " before going on; check the cluster with: " + _status_command(target)
                    + "; exit 4")
        raise typer.Exit(render.STOPPED)
    assert failure is not None
    raise failure


def _is_stop(exc: BaseException | None) -> bool:
    from clusterlib_cli import render

    return exc is not None and render.is_resumable_stop(exc)


def _safe_report(upgrade: RollingUpgrade) -> Report | None:
    try:
        return upgrade.report()
    except Exception:  # no journal yet: nothing to report
        return None
