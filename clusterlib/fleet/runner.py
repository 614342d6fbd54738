"""Runs a fleet: preflight of every cluster, then up to ``parallel`` rolling upgrades at once, in waves.

Each cluster is one :class:`clusterlib.upgrade.RollingUpgrade` with its own journal
(``<journal_dir>/<name>.json``); the fleet journal (``<journal_dir>/fleet.json``) records each
cluster's status, so a fleet run killed at any point resumes every cluster where it stopped
(``Fleet.from_journal(...).run()``). It is I/O bound (each thread mostly waits on WinRM), so one
process drives a few hundred clusters; see docs/fleet.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import clusterlib
from clusterlib.errors import ClusterError, ConnectionFailed
from clusterlib.fleet.errors import FleetError
from clusterlib.fleet.inventory import ClusterEntry, Inventory, InventoryError
from clusterlib.fleet.journal import journal_path, read_journal, write_journal
from clusterlib.fleet.records import ClusterPlan, FleetEvent, FleetPlan
from clusterlib.fleet.report import (
    BUDGET_STATUSES,
    FINAL_STATUSES,
    ClusterResult,
    FleetReport,
    versions_of_report,
    versions_of_snapshot,
)
from clusterlib.upgrade import (
    LockHeld,
    PreflightFailed,
    Report,
    RollingUpgrade,
    UpgradeEvent,
    UpgradeOptions,
    UpgradeStopped,
    default_action,
    report_document,
)
from clusterlib.upgrade.events import utc_now

Connector = Callable[[ClusterEntry], clusterlib.Cluster]


class FleetRefused(FleetError):
    """all_or_nothing: a cluster failed its preflight, so no cluster was changed (``.report``)."""

    def __init__(self, message: str, report: FleetReport) -> None:
        super().__init__(message)
        self.report = report


def connect_entry(entry: ClusterEntry, password: str | None = None) -> clusterlib.Cluster:
    """A connection to one inventory cluster (a fresh simulator for ``sim`` entries)."""
    if entry.sim is not None:
        from clusterlib.sim.layouts import build

        return clusterlib.connect(build(entry.sim, speed=entry.speed))
    conn = dict(entry.connection)
    options: dict[str, Any] = {}
    renames = {"user": "username", "cert_pem": "certificate_pem",
               "cert_key_pem": "certificate_key_pem"}
    for key in ("user", "auth", "ssl", "port", "time_scale", "node_path", "read_timeout",
                "call_timeout", "connect_timeout", "cert_pem", "cert_key_pem", "cluster"):
        if key in conn:
            options[renames.get(key, key)] = conn[key]
    if "auth" in options:
        options["auth"] = str(options["auth"]).lower()
    if conn.get("insecure"):
        options["cert_validation"] = False
    elif conn.get("ca_bundle"):
        options["cert_validation"] = str(Path(conn["ca_bundle"]).expanduser())
    if password is not None:
        options["password"] = password
    return clusterlib.connect(conn["host"], dialect=str(conn.get("dialect", "auto")).lower(),
                              **options)


def already_upgraded(cluster: clusterlib.Cluster, options: UpgradeOptions) -> tuple[bool, Any]:
    """(True, snapshot) when every node is Up and runs ``options.target``: nothing to do. Without
    a target this cannot be known, so the answer is False."""
    snap = cluster.snapshot()
    target = options.target
    if target is None:
        return False, snap
    done = all(n.is_up and target.matches(n.highest_version, n.os_version) for n in snap.nodes)
    return done, snap


def _sim_target(cluster: clusterlib.Cluster, options: UpgradeOptions) -> UpgradeOptions:
    """A simulated cluster without a target upgrades to its layout's next release (as the CLI)."""
    sim = getattr(cluster.transport, "sim", None)
    if options.target is None and sim is not None and getattr(sim, "upgrade_to", None):
        return options.evolve(target=sim.upgrade_to)
    return options


def _plan_cluster(cluster: clusterlib.Cluster, entry: ClusterEntry, inventory: Inventory,
                  journal: Path) -> ClusterPlan:
    """The preflight of one connected cluster: resume (its journal exists), already-upgraded,
    preflight-failed or ready (the engine's plan)."""
    opts = _sim_target(cluster, inventory.upgrade_options(entry))
    done, snap = already_upgraded(cluster, opts)
    before = versions_of_snapshot(snap)
    simulated = entry.simulated
    # A journal first: a run killed after its last node (groups not yet home) must resume,
    # although every node already runs the target.
    if journal.exists():
        return ClusterPlan(entry.name, "resume", f"resumes its journal {journal}",
                           versions_before=before, simulated=simulated)
    if done:
        return ClusterPlan(entry.name, "already-upgraded",
                           f"every node runs {opts.target}; nothing to do",
                           versions_before=before, simulated=simulated)
    installer = inventory.installer_of(entry)
    action = default_action(installer, snap) if installer else None
    plan = RollingUpgrade(cluster, action, options=opts).plan()
    if not plan.ok:
        failed = tuple(f"{c.name}: {c.message}" for c in plan.failed_checks)
        return ClusterPlan(entry.name, "preflight-failed", "; ".join(failed), plan=plan,
                           failed_checks=failed, versions_before=before, simulated=simulated)
    return ClusterPlan(entry.name, "ready", f"{len(plan.steps)} steps, order"
                       f" {' -> '.join(plan.order)}", plan=plan, versions_before=before,
                       simulated=simulated)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


class Fleet:
    """Rolling upgrades of every cluster of an inventory, from one process.

    ``connect(entry) -> Cluster`` replaces how clusters are reached (tests, custom transports);
    ``passwords`` maps cluster names to passwords (the CLI's prompt); ``journal_dir`` defaults to
    the inventory's ``journal_dir``, else ``<inventory>.journals`` next to the file.
    Keyword overrides (``parallel``, ``max_failed_clusters``, ``waves``, ``all_or_nothing``)
    win over the inventory's [fleet] table.
    """

    def __init__(self, inventory: Inventory, *, journal_dir: str | os.PathLike[str] | None = None,
                 connect: Connector | None = None, passwords: Mapping[str, str] | None = None,
                 on_event: Callable[[FleetEvent], None] | None = None,
                 parallel: int | None = None, max_failed_clusters: int | None = None,
                 waves: tuple[str, ...] | list[str] | None = None,
                 all_or_nothing: bool | None = None,
                 sims: Mapping[str, Any] | None = None) -> None:
        self.inventory = inventory
        self.parallel = inventory.parallel if parallel is None else int(parallel)
        self.max_failed_clusters = (inventory.max_failed_clusters if max_failed_clusters is None
                                    else int(max_failed_clusters))
        if self.parallel < 1 or self.max_failed_clusters < 0:
            raise InventoryError("parallel must be >= 1 and max_failed_clusters >= 0")
        self.waves = tuple(waves) if waves is not None else inventory.waves
        self.all_or_nothing = inventory.all_or_nothing if all_or_nothing is None \
            else bool(all_or_nothing)
        self.wave_entries = inventory.waves_of(self.waves)
        self.journal_dir = Path(journal_dir) if journal_dir is not None else (
            inventory.journal_dir or (inventory.path.with_suffix(".journals")
                                      if inventory.path else Path("fleet.journals")))
        self._connect = connect
        self._passwords = dict(passwords or {})
        # name -> SimCluster of the simulated clusters (pass a finished fleet's ``sims`` to
        # resume it in the same process).
        self.sims: dict[str, Any] = dict(sims or {})
        self._subscribers: list[Callable[[FleetEvent], None]] = []
        if on_event is not None:
            self._subscribers.append(on_event)
        self._emit_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._stop = threading.Event()
        self._running: dict[str, RollingUpgrade] = {}
        self._results: dict[str, ClusterResult] = {}
        self._resumed = False
        self._started: str | None = None
        self._failed = 0

    # ---- events and stop ----

    def subscribe(self, fn: Callable[[FleetEvent], None]) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def _emit(self, cluster: str | None, kind: str, text: str,
              upgrade: Mapping[str, Any] | None = None) -> None:
        event = FleetEvent(cluster, kind, text, upgrade=upgrade)
        with self._emit_lock:  # one line at a time, whichever thread speaks
            for fn in list(self._subscribers):
                fn(event)

    def request_stop(self) -> None:
        """Start no further cluster, and ask every running one to stop at its next step boundary
        (signal-safe: it only sets flags)."""
        self._stop.set()
        for upgrade in list(self._running.values()):
            upgrade.request_stop()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ---- connecting ----

    def connect(self, entry: ClusterEntry) -> clusterlib.Cluster:
        if self._connect is not None:
            return self._connect(entry)
        if entry.simulated:
            # One simulator per cluster for the fleet's life: plan and run see the same one.
            if entry.name not in self.sims:
                if self._resumed:
                    raise FleetError(
                        f"cluster {entry.name!r} is SIMULATED: a fresh simulator is a different,"
                        " unchanged cluster, so its run cannot be resumed by another process;"
                        " serve it with `clusterlib sim serve` and give its host instead")
                cluster = connect_entry(entry)
                self.sims[entry.name] = cluster.transport.sim  # type: ignore[attr-defined]
                return cluster
            return clusterlib.connect(self.sims[entry.name])
        password = entry.password(self._passwords) if entry.needs_password() else None
        return connect_entry(entry, password)

    # ---- planning ----

    def journal_of(self, entry: ClusterEntry) -> Path:
        return self.journal_dir / f"{_safe_name(entry.name)}.json"

    def _plan_one(self, entry: ClusterEntry) -> ClusterPlan:
        try:
            cluster = self.connect(entry)
        except (ClusterError, FleetError, InventoryError, OSError) as exc:
            return ClusterPlan(entry.name, "unreachable", f"{type(exc).__name__}: {exc}",
                               simulated=entry.simulated)
        try:
            return _plan_cluster(cluster, entry, self.inventory, self.journal_of(entry))
        except ClusterError as exc:
            return ClusterPlan(entry.name, "unreachable", f"{type(exc).__name__}: {exc}",
                               simulated=entry.simulated)
        finally:
            cluster.close()

    def plan(self) -> FleetPlan:
        """Preflight of every cluster (in parallel); changes nothing."""
        by_name = {p.name: p for p in self._preflight([e for w in self.wave_entries for e in w])}
        ordered = [by_name[e.name] for e in self.inventory.clusters if e.name in by_name]
        for p in ordered:
            self._emit_planned(p, detail_ready=True)
        return FleetPlan(ordered, [[e.name for e in w] for w in self.wave_entries],
                         self.inventory.simulated)

    # ---- the fleet journal ----

    @property
    def fleet_journal(self) -> Path:
        return journal_path(self.journal_dir)

    def _write_journal(self, state: str) -> None:
        write_journal(self.fleet_journal, {
            "state": state, "started": self._started, "updated": utc_now(),
            "inventory": str(self.inventory.path or ""),
            "clusters_sha256": _clusters_hash(self.inventory), "options": self._fleet_options(),
            "clusters": {n: r.to_dict() for n, r in self._results.items()}})

    def _fleet_options(self) -> dict[str, Any]:
        return {"parallel": self.parallel, "max_failed_clusters": self.max_failed_clusters,
                "waves": list(self.waves), "all_or_nothing": self.all_or_nothing}

    def _record(self, result: ClusterResult, state: str = "running") -> None:
        with self._state_lock:
            self._results[result.name] = result
            self._write_journal(state)

    @classmethod
    def from_journal(cls, inventory: Inventory, *,
                     journal_dir: str | os.PathLike[str] | None = None,
                     **kwargs: Any) -> Fleet:
        """The fleet run recorded in ``journal_dir``, ready to ``run()`` again: clusters that
        finished keep their result, every other one resumes its own journal (or starts)."""
        fleet = cls(inventory, journal_dir=journal_dir, **kwargs)
        path = fleet.fleet_journal
        body = read_journal(path, missing=": nothing to resume; start with `run`")
        names = {c.name for c in inventory.clusters}
        missing = [n for n in body.get("clusters", {}) if n not in names]
        if missing:
            raise FleetError(f"{path}: clusters {', '.join(missing)} of the journal are not in the"
                             " inventory; resume with the inventory the run used")
        for name, data in body.get("clusters", {}).items():
            result = ClusterResult.from_dict(data)
            if result.status in FINAL_STATUSES:
                fleet._results[name] = result
        fleet._resumed = True
        fleet._started = body.get("started")
        return fleet

    # ---- running ----

    def run(self) -> FleetReport:
        """Preflight every cluster, then upgrade them wave by wave, ``parallel`` at a time.

        Returns the FleetReport (``outcome``: completed, incomplete, stopped, budget-exceeded).
        Raises FleetRefused (nothing changed) when ``all_or_nothing`` and a preflight failed.
        """
        self.journal_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self._resumed and self.fleet_journal.exists():
            raise FleetError(f"{self.fleet_journal} already records a fleet run: resume it"
                             " (`clusterlib fleet resume`, Fleet.from_journal) or choose another"
                             " journal folder")
        self._started = self._started or utc_now()
        t0 = time.monotonic()
        todo = [e for wave in self.wave_entries for e in wave if e.name not in self._results]
        self._emit(None, "fleet-started", f"{len(todo)} clusters to do, parallel {self.parallel},"
                   f" budget {self.max_failed_clusters} failed, waves"
                   f" {list(self.waves) or ['all']}"
                   + (" (SIMULATED clusters included)" if self.inventory.simulated else ""))
        plan = self._plan_todo(todo)
        self._failed = sum(1 for r in self._results.values() if r.status in BUDGET_STATUSES)
        self._refuse_unless_all_ready(plan, t0)
        for p in plan.values():
            if p.status in ("preflight-failed", "unreachable", "already-upgraded"):
                self._record(ClusterResult.from_plan(p, p.status, p.message, self._entry(p.name)))
        self._run_waves(plan)
        self._record_not_started()
        outcome = self._outcome()
        self._write_journal(outcome)
        report = self._report(outcome, t0)
        self._emit(None, "fleet-finished", report.summary())
        return report

    def _refuse_unless_all_ready(self, plan: dict[str, ClusterPlan], t0: float) -> None:
        """all_or_nothing: a failed preflight refuses the whole fleet before any change."""
        bad = [p for p in plan.values() if not p.ok]
        if not bad or not self.all_or_nothing:
            return
        for p in plan.values():
            self._results[p.name] = ClusterResult.from_plan(
                p, "preflight-failed" if not p.ok else "not-started",
                p.message if not p.ok else "all_or_nothing: another cluster failed its"
                " preflight", self._entry(p.name))
        self._write_journal("refused")
        report = self._report("refused", t0)
        raise FleetRefused(f"all_or_nothing: {len(bad)} cluster(s) failed their preflight"
                           f" ({', '.join(p.name for p in bad)}); no cluster was changed", report)

    def _run_waves(self, plan: dict[str, ClusterPlan]) -> None:
        """Each wave's clusters not done yet, ``parallel`` at a time; a wave starts only when the
        previous one has finished and the fleet is neither stopped nor over its budget."""
        for index, wave in enumerate(self.wave_entries, 1):
            entries = [e for e in wave if e.name not in self._results]
            if not entries:
                continue
            if self._halted():
                break
            self._emit(None, "wave-started", f"wave {index} of {len(self.wave_entries)}:"
                       f" {len(entries)} clusters")
            with ThreadPoolExecutor(max_workers=min(self.parallel, len(entries)),
                                    thread_name_prefix="fleet") as pool:
                futures = [pool.submit(self._run_one, e, index, plan.get(e.name)) for e in entries]
                for f in futures:
                    f.result()

    def _record_not_started(self) -> None:
        for entry in self.inventory.clusters:
            if entry.name not in self._results:
                why = "stopped at your request before it started" if self._stop.is_set() \
                    else f"not started: more than {self.max_failed_clusters} clusters failed"
                self._results[entry.name] = ClusterResult(
                    name=entry.name, status="not-started", message=why, tags=entry.tags,
                    simulated=entry.simulated)

    def _entry(self, name: str) -> ClusterEntry:
        return self.inventory.cluster(name)

    def _plan_todo(self, todo: list[ClusterEntry]) -> dict[str, ClusterPlan]:
        plans = self._preflight(todo)
        for p in plans:
            self._emit_planned(p, detail_ready=False)
        return {p.name: p for p in plans}

    def _preflight(self, entries: list[ClusterEntry]) -> list[ClusterPlan]:
        """The preflight of these clusters, ``parallel`` at a time, in their order."""
        if not entries:
            return []
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(entries))) as pool:
            return list(pool.map(self._plan_one, entries))

    def _emit_planned(self, p: ClusterPlan, *, detail_ready: bool) -> None:
        detail = p.message and (detail_ready or p.status != "ready")
        self._emit(p.name, "planned", f"preflight: {p.status}" + (f" ({p.message})" if detail
                                                                  else ""))

    def _halted(self) -> bool:
        return self._stop.is_set() or self._failed > self.max_failed_clusters

    def _outcome(self) -> str:
        statuses = [r.status for r in self._results.values()]
        if self._stop.is_set() and any(s in ("stopped", "not-started") for s in statuses):
            return "stopped"
        if self._failed > self.max_failed_clusters:
            return "budget-exceeded"
        if all(s in ("completed", "already-upgraded") for s in statuses):
            return "completed"
        return "incomplete"

    def _report(self, outcome: str, t0: float) -> FleetReport:
        ordered = [self._results[e.name] for e in self.inventory.clusters if e.name in self._results]
        return FleetReport(outcome=outcome, clusters=ordered, started=self._started,
                           finished=utc_now(), seconds=time.monotonic() - t0,
                           options=self._fleet_options(), journal_dir=str(self.journal_dir),
                           simulated=self.inventory.simulated)

    def _run_one(self, entry: ClusterEntry, wave: int, plan: ClusterPlan | None) -> None:
        if self._halted():
            return  # recorded as not-started at the end
        t0 = time.monotonic()
        base: dict[str, Any] = {"name": entry.name, "tags": entry.tags, "wave": wave,
                                "simulated": entry.simulated, "journal": str(self.journal_of(entry)),
                                "started": utc_now(),
                                "versions_before": plan.versions_before if plan else ()}
        self._record(ClusterResult(status="running", message="upgrading", **base))
        self._emit(entry.name, "started", f"upgrade started (wave {wave})"
                   + (" SIMULATED" if entry.simulated else ""))
        try:
            cluster = self.connect(entry)
        except (ClusterError, FleetError, InventoryError, OSError) as exc:
            self._finish(base, t0, "failed", f"could not connect: {type(exc).__name__}: {exc}",
                         None)
            return
        try:
            report, status, message = self._upgrade(entry, cluster)
        finally:
            cluster.close()
        self._finish(base, t0, status, message, report)

    def _upgrade(self, entry: ClusterEntry,
                 cluster: clusterlib.Cluster) -> tuple[Report | None, str, str]:
        """One cluster's rolling upgrade, new or resumed: (report, status, message). Never
        raises: whatever one cluster does, the other clusters' runs go on."""
        try:
            report = self._run_upgrade(entry.name, self._upgrade_of(entry, cluster))
        except UpgradeStopped as exc:
            return exc.report, "stopped", str(exc)
        except PreflightFailed as exc:
            return None, "preflight-failed", "; ".join(f"{c.name}: {c.message}"
                                                       for c in exc.failed)
        except LockHeld as exc:
            return None, "refused", str(exc)
        except ConnectionFailed as exc:
            return None, "failed", f"lost the connection: {exc}"
        except ClusterError as exc:
            return None, "failed", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # one cluster's bug must not end the other clusters' runs
            return None, "failed", f"unexpected {type(exc).__name__}: {exc}"
        return report, report.outcome, report.message

    def _upgrade_of(self, entry: ClusterEntry, cluster: clusterlib.Cluster) -> RollingUpgrade:
        journal = self.journal_of(entry)
        installer = self.inventory.installer_of(entry)
        action = default_action(installer, cluster.snapshot()) if installer else None
        if journal.exists():
            # Even a finished journal is resumed: the engine re-reads the live cluster, sends
            # nothing while the journal holds, and redoes what the cluster contradicts.
            return RollingUpgrade.from_journal(cluster, journal=journal, action=action)
        options = _sim_target(cluster, self.inventory.upgrade_options(entry))
        return RollingUpgrade(cluster, action, journal=journal, options=options)

    def _run_upgrade(self, name: str, upgrade: RollingUpgrade) -> Report:
        """Run it, reachable by request_stop() while it runs; its events become fleet events."""
        upgrade.subscribe(lambda ev: self._forward(name, ev))
        with self._state_lock:
            self._running[name] = upgrade
        if self._stop.is_set():
            upgrade.request_stop()
        try:
            return upgrade.run()
        finally:
            with self._state_lock:
                self._running.pop(name, None)

    def _finish(self, base: dict[str, Any], t0: float, status: str, message: str,
                report: Report | None) -> None:
        name = base["name"]
        result = ClusterResult(status=status, message=message, finished=utc_now(),
                               seconds=time.monotonic() - t0, **base)
        if report is not None:
            result = result.with_report(report, self._write_cluster_html(name, report))
            if not result.versions_before:
                result.versions_before = versions_of_report(report, "before")
        with self._state_lock:
            # A cluster that stopped because the fleet asked it to has not failed.
            if status in BUDGET_STATUSES and not (status == "stopped" and self._stop.is_set()):
                self._failed += 1
        self._record(result)
        self._emit(name, "finished", f"{status}: {message}" if message else status)
        if self._failed > self.max_failed_clusters and not self._stop.is_set():
            self._emit(None, "budget-exceeded", f"{self._failed} clusters failed (budget"
                       f" {self.max_failed_clusters}): no further cluster starts; running ones"
                       " finish")

    def _write_cluster_html(self, name: str, report: Report) -> str | None:
        path = self.journal_dir / f"{_safe_name(name)}.html"
        try:
            path.write_text(report_document(report, title=f"Rolling upgrade of {name}"),
                            encoding="utf-8")
        except OSError:
            return None
        return path.name

    def _forward(self, name: str, event: UpgradeEvent) -> None:
        self._emit(name, "upgrade", event.text, upgrade=event.to_dict())


def _clusters_hash(inventory: Inventory) -> str:
    """A short fingerprint of the inventory's cluster names, for a reader comparing runs."""
    text = json.dumps([c.name for c in inventory.clusters])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
