"""The upgrade lock under a race: 2, 4, 8 starts or resumes at once, exactly one proceeds; frozen runs stop.

Contenders are threads (each with its own connection) or processes, over the in-process
transport (processes: the RPC stand-in of tests/upgrade_child.py, whose calls run on the
test's in-process simulator) and the loopback WinRM endpoint, in both dialects. A contender
that gets past the lock holds after its first step until every other contender has finished,
so "exactly one" is decided by the lock, never by one run finishing before another starts.
"Refused before it changes anything" is read from the simulator's event log: one lock write,
one node paused, nothing else changed by anyone else.

Figures (``-s`` prints them; the chaos set records them as JUnit properties): attempts (races),
contenders, double runs seen (goal 0).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import skip_unless_chaos
from upgrade_helpers import SETUP, SPEED

import clusterlib
from clusterlib.sim import SimCluster
from clusterlib.sim.transport import InProcessTransport
from clusterlib.upgrade import (
    CallableAction,
    LockHeld,
    PreflightFailed,
    RollingUpgrade,
    UpgradeStopped,
    break_lock,
    default_action,
    read_lock,
)
from clusterlib.upgrade import lock as locks
from clusterlib.upgrade.errors import LockLost
from clusterlib.upgrade.journal import read_body

HERE = Path(__file__).resolve().parents[1]
MUTATING = {"paused", "resumed", "move-start", "upgrade-start", "functional-level",
            "wmic-started", "restart"}
DIALECTS = ("powershell", "clusterexe")
TALLY: Counter[str] = Counter()


def _sim(dialect: str) -> SimCluster:
    if dialect == "powershell":
        return SimCluster.classic(os="2012R2", upgrade_to="2016", speed=SPEED)
    return SimCluster.classic(os="2000", upgrade_to="2003", speed=SPEED)


def _install(sim: SimCluster) -> CallableAction:
    def install(node: str, cluster: clusterlib.Cluster) -> None:
        sim.upgrade_node(node)

    return CallableAction(install, name="install")


def _changes(sim: SimCluster) -> list[tuple[str, str]]:
    return [(e.kind, e.subject) for e in sim.events if e.kind in MUTATING]


def _lock_writes(sim: SimCluster) -> tuple[int, int]:
    """(lock writes, claim writes) so far."""
    sets = [e.subject for e in sim.events if e.kind == "private-prop-set"]
    return (sets.count(locks.LOCK_KEY),
            sum(1 for x in sets if x.startswith(locks.CLAIM_PREFIX)))


def _stopped_before_anything(sim: SimCluster, cluster: clusterlib.Cluster, journal: Path,
                             action: Any) -> None:
    """A run stopped on request before its first step: a journal for the resumes to race on."""
    upgrade = RollingUpgrade(cluster, action=action, journal=journal)
    upgrade.subscribe(lambda e: upgrade.request_stop()
                      if type(e).__name__ == "RunStarted" else None)
    with pytest.raises(UpgradeStopped, match="on request"):
        upgrade.run()
    assert not _changes(sim)


def _check(sim: SimCluster, results: list[dict[str, Any]], writes_before: tuple[int, int],
           what: str) -> None:
    """Exactly one proceeded; every other was refused, and only the winner changed anything."""
    kinds = Counter(r["result"] for r in results)
    TALLY["attempts"] += 1
    TALLY["contenders"] += len(results)
    now = _lock_writes(sim)
    lock_writes, claims = now[0] - writes_before[0], now[1] - writes_before[1]
    TALLY["claims written"] += claims
    if claims > len(results):
        TALLY["races that needed a back-off"] += 1
    if kinds["proceeded"] > 1:
        TALLY["double runs"] += 1
    assert kinds["proceeded"] == 1, (what, results)
    assert kinds["refused"] == len(results) - 1, (what, results)
    changes = _changes(sim)
    # The winner's first step drains one node: one pause, moves of that node's groups only.
    assert [c for c in changes if c[0] == "paused"] and \
        len([c for c in changes if c[0] == "paused"]) == 1, (what, changes)
    assert not [c for c in changes if c[0] in ("upgrade-start", "resumed", "restart")], changes
    assert lock_writes == 1, (what, "the lock was written more than once")


# ---- threads -------------------------------------------------------------------------------


def _race_threads(connect: Callable[[], clusterlib.Cluster], make: Callable[
        [clusterlib.Cluster, int], RollingUpgrade], n: int) -> list[dict[str, Any]]:
    barrier = threading.Barrier(n)
    finished = threading.Condition()
    done = [0]
    results: list[dict[str, Any]] = []

    def contender(i: int) -> None:
        cluster = connect()
        try:
            upgrade = make(cluster, i)
            held = [False]

            def on_event(event: Any) -> None:
                if type(event).__name__ == "PhaseFinished" and not held[0]:
                    held[0] = True
                    with finished:  # hold the lock until every other contender has finished
                        finished.wait_for(lambda: done[0] >= n - 1, timeout=60)
                    upgrade.request_stop()

            upgrade.subscribe(on_event)
            barrier.wait(timeout=60)
            try:
                upgrade.run()
                result = {"result": "proceeded", "text": "completed"}
            except LockLost as exc:
                result = {"result": "lost", "text": str(exc)}
            except UpgradeStopped as exc:
                result = {"result": "proceeded" if held[0] else "error", "text": str(exc)}
            except (LockHeld, PreflightFailed) as exc:
                result = {"result": "refused", "text": f"{type(exc).__name__}: {exc}"}
            except Exception as exc:  # reported, then asserted on
                result = {"result": "error", "text": f"{type(exc).__name__}: {exc}"}
        finally:
            cluster.close()
        with finished:
            results.append(result)
            if result["result"] != "proceeded":
                done[0] += 1
            finished.notify_all()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == n
    return results


@contextlib.contextmanager
def _connector(sim: SimCluster, transport: str, dialect: str) -> Iterator[
        Callable[[], clusterlib.Cluster]]:
    if transport == "inprocess":
        yield lambda: clusterlib.connect(sim, dialect=dialect)
        return
    with sim.serve(receive_timeout=0.05) as endpoint:
        options = endpoint.connect_options()
        options.pop("time_scale")
        host = options.pop("target")
        yield lambda: clusterlib.connect(host, dialect=dialect, time_scale=sim.speed, **options)


def _thread_race(tmp_path: Path, transport: str, dialect: str, kind: str, n: int) -> None:
    sim = _sim(dialect)
    action = _install(sim)
    journal = tmp_path / f"{transport}-{dialect}-{kind}-{n}.json"
    with _connector(sim, transport, dialect) as connect:
        if kind == "resume":
            first = connect()
            _stopped_before_anything(sim, first, journal, action)
            first.close()

            def make(cluster: clusterlib.Cluster, i: int) -> RollingUpgrade:
                return RollingUpgrade.from_journal(cluster, journal=journal, action=action)
        else:
            def make(cluster: clusterlib.Cluster, i: int) -> RollingUpgrade:
                return RollingUpgrade(cluster, action=action,
                                      journal=tmp_path / f"{journal.stem}-{i}.json")
        writes = _lock_writes(sim)
        results = _race_threads(connect, make, n)
    _check(sim, results, writes, f"threads {transport} {dialect} {kind} x{n}")
    if kind == "resume":
        body = read_body(journal)
        assert [s["status"] for s in body["steps"]].count("done") + \
            [s["status"] for s in body["steps"]].count("skipped") <= 1


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("kind", ["run", "resume"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_threads_in_process(tmp_path: Path, dialect: str, kind: str, n: int) -> None:
    _thread_race(tmp_path, "inprocess", dialect, kind, n)


@pytest.mark.parametrize(("dialect", "kind", "n"), [("powershell", "run", 4),
                                                   ("clusterexe", "resume", 4)])
def test_threads_over_winrm(tmp_path: Path, dialect: str, kind: str, n: int) -> None:
    """Bounded here; the chaos set varies dialect, kind and 2/4 contenders over WinRM."""
    _thread_race(tmp_path, "winrm", dialect, kind, n)


# ---- processes -----------------------------------------------------------------------------


@contextlib.contextmanager
def _rpc_server(sim: SimCluster, authkey: bytes) -> Iterator[int]:
    """tests/upgrade_child.py's RPC protocol, served from this process: the contenders' calls
    run on ``sim`` here, so its event log is the one the test reads."""
    listener = Listener(("127.0.0.1", 0), authkey=authkey)
    stop = threading.Event()

    def handle(conn: Connection) -> None:
        transports: dict[str | None, InProcessTransport] = {}
        with contextlib.suppress(EOFError, OSError):
            while True:
                kind, node, payload = conn.recv()
                t = transports.setdefault(node, InProcessTransport(sim, node=node))
                try:
                    value = t.run_pipeline(payload) if kind == "pipeline" else t.run_cmd(payload)
                    conn.send(("ok", value))
                except Exception as exc:
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
        conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(listener.address[1])
    finally:
        stop.set()
        listener.close()


def _race_processes(tmp_path: Path, n: int, mode: str, journal: Callable[[int], Path],
                    extra: list[str], env: dict[str, str]) -> list[dict[str, Any]]:
    go, hold = tmp_path / "go", tmp_path / "hold"
    for f in (go, hold):
        f.unlink(missing_ok=True)
    procs = [subprocess.Popen(
        [sys.executable, str(HERE / "lock_race_child.py"), mode, "--journal", str(journal(i)),
         "--go", str(go), "--hold", str(hold), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
        for i in range(n)]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "READY", (line, p.stderr.read() if p.stderr else "")
        go.touch()
        results: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + 120
        while len(results) < n and time.monotonic() < deadline:
            for i, p in enumerate(procs):
                if i not in results and p.poll() is not None:
                    out = p.stdout.read() if p.stdout else ""
                    lines = [x for x in out.splitlines() if x.startswith("{")]
                    results[i] = json.loads(lines[-1]) if lines else {
                        "result": "error", "text": p.stderr.read() if p.stderr else ""}
            if len(results) >= n - 1:
                hold.touch()  # every other contender has finished: the winner may stop now
            time.sleep(0.005)
        assert len(results) == n, "contenders still running"
        return list(results.values())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for stream in (p.stdout, p.stderr):
                if stream is not None:
                    stream.close()


def _process_race(tmp_path: Path, transport: str, dialect: str, kind: str, n: int) -> None:
    sim = _sim(dialect)
    authkey = secrets.token_hex(16)
    env = {"UPGRADE_CHILD_AUTHKEY": authkey}
    shared = tmp_path / "shared.json"
    with contextlib.ExitStack() as stack:
        if transport == "rpc":
            port = stack.enter_context(_rpc_server(sim, bytes.fromhex(authkey)))
            extra = ["--port", str(port), "--dialect", dialect, "--speed", str(SPEED)]
            cluster = clusterlib.connect(sim, dialect=dialect)
        else:
            endpoint = stack.enter_context(sim.serve(receive_timeout=0.05))
            options = endpoint.connect_options()
            env["LOCK_RACE_WINRM"] = json.dumps(options)
            extra = ["--winrm", "--dialect", dialect]
            cluster = clusterlib.connect(sim, dialect=dialect)
        if kind == "resume":
            # default_action: WMI on the Windows 2000 layout (no WinRM listener on its nodes).
            _stopped_before_anything(sim, cluster, shared,
                                     default_action(SETUP, cluster.snapshot()))
            # This process stays alive and so would look like a live holder to the contenders.
            break_lock(cluster, reason="test: the preparing run is done")
        writes = _lock_writes(sim)
        results = _race_processes(tmp_path, n, kind,
                                  (lambda i: shared) if kind == "resume"
                                  else (lambda i: tmp_path / f"run-{i}.json"), extra, env)
    _check(sim, results, writes, f"processes {transport} {dialect} {kind} x{n}")


@pytest.mark.parametrize(("transport", "dialect", "kind", "n"), [
    ("rpc", "powershell", "run", 4),
    ("winrm", "clusterexe", "resume", 2),
    pytest.param("rpc", "clusterexe", "resume", 2, marks=pytest.mark.chaos),
    pytest.param("winrm", "powershell", "run", 2, marks=pytest.mark.chaos),
])
def test_processes(request: pytest.FixtureRequest, tmp_path: Path, transport: str, dialect: str,
                   kind: str, n: int) -> None:
    if request.node.get_closest_marker("chaos"):
        skip_unless_chaos(request)
    _process_race(tmp_path, transport, dialect, kind, n)


# ---- a frozen run wakes up after another holder took over -------------------------------------


def test_frozen_run_wakes_after_a_resume_and_stops(tmp_path: Path) -> None:
    """SIGSTOP a run mid-drain; the operator breaks its lock and resumes the journal, which
    finishes; SIGCONT: the woken run stops with LockLost and changes nothing more."""
    _frozen_and_woken(tmp_path, dialect="powershell")


def _frozen_and_woken(tmp_path: Path, dialect: str) -> None:
    sim = SimCluster.build(3, 9, os="2012R2", upgrade_to="2016", speed=SPEED) \
        if dialect == "powershell" else _sim(dialect)
    authkey = secrets.token_hex(16)
    journal = tmp_path / "j.json"
    go, hold = tmp_path / "go", tmp_path / "hold"
    with _rpc_server(sim, bytes.fromhex(authkey)) as port:
        child = subprocess.Popen(
            [sys.executable, str(HERE / "lock_race_child.py"), "run", "--journal", str(journal),
             "--go", str(go), "--hold", str(hold), "--port", str(port), "--dialect", dialect,
             "--speed", str(SPEED)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "UPGRADE_CHILD_AUTHKEY": authkey})
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "READY"
            hold.touch()  # no holding: the run goes on after its first step...
            go.touch()
            # ...but the child requests a stop after its first step; freeze it before that.
            deadline = time.monotonic() + 30
            while not [e for e in sim.events if e.kind == "move-start"]:
                assert time.monotonic() < deadline, "the run never started moving groups"
                time.sleep(0.0005)
            os.kill(child.pid, signal.SIGSTOP)
            time.sleep(0.05)  # any request already sent is answered while it is frozen
            frozen_at = len(list(sim.events))
            held = read_lock(clusterlib.connect(sim))
            assert held is not None and held.pid == child.pid
            cluster = clusterlib.connect(sim, dialect=dialect)
            break_lock(cluster, reason="test: the operator believes the run is dead")
            report = RollingUpgrade.resume(cluster, journal=journal).run()
            assert report.ok, report.message
            finished = read_body(journal)
            after_resume = len(list(sim.events))
            time.sleep(locks.FENCE_INTERVAL)  # the frozen run's next move must re-check
            os.kill(child.pid, signal.SIGCONT)
            out, err = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    result = json.loads([x for x in out.splitlines() if x.startswith("{")][-1])
    TALLY["sigstop runs"] += 1
    assert result["result"] in ("lost", "proceeded"), (result, err)
    woke = [(e.kind, e.subject) for e in list(sim.events)[after_resume:] if e.kind in MUTATING]
    if woke:
        TALLY["double runs"] += 1
    assert not woke, f"the woken run acted: {woke}"
    if result["result"] == "lost":
        assert "no longer holds the upgrade lock" in result["text"]
        assert "held by nobody" in result["text"] or "run " in result["text"]
    assert read_body(journal) == finished  # the woken run wrote nothing over the resume's journal
    assert read_lock(clusterlib.connect(sim)) is None
    assert frozen_at <= after_resume


def test_a_resume_refuses_while_the_run_is_frozen_on_this_host(tmp_path: Path) -> None:
    """Without a broken lock, a second resume on the same host sees the holder's process alive
    (stopped) and refuses; the run, woken, finishes."""
    sim = _sim("powershell")
    authkey = secrets.token_hex(16)
    journal = tmp_path / "j.json"
    go, hold = tmp_path / "go", tmp_path / "hold"
    with _rpc_server(sim, bytes.fromhex(authkey)) as port:
        child = subprocess.Popen(
            [sys.executable, str(HERE / "lock_race_child.py"), "run", "--journal", str(journal),
             "--go", str(go), "--hold", str(hold), "--port", str(port), "--speed", str(SPEED)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "UPGRADE_CHILD_AUTHKEY": authkey})
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "READY"
            go.touch()
            deadline = time.monotonic() + 30
            while not [e for e in sim.events if e.kind == "paused"]:
                assert time.monotonic() < deadline
                time.sleep(0.0005)
            os.kill(child.pid, signal.SIGSTOP)
            before = len(_changes(sim))
            with pytest.raises(LockHeld, match="stopped"):
                RollingUpgrade.resume(clusterlib.connect(sim), journal=journal).run()
            assert len(_changes(sim)) == before
            hold.touch()
            os.kill(child.pid, signal.SIGCONT)
            out, _err = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert json.loads(out.splitlines()[-1])["result"] == "proceeded"


# ---- the lock on its own ---------------------------------------------------------------------


def test_each_holder_has_its_own_token_and_fencing_names_the_new_holder() -> None:
    sim = _sim("powershell")
    cluster = clusterlib.connect(sim)
    first = locks.acquire(cluster, "run1", "CLUSTER1")
    locks.dormant(first)  # that run stopped; its resume takes over
    second = locks.acquire(cluster, "run1", "CLUSTER1")
    assert first.token != second.token and first.run_id == second.run_id
    with pytest.raises(LockLost, match=second.token) as err:
        locks.check(cluster, first)
    assert err.value.holder == second
    locks.check(cluster, second)
    assert not locks.release(cluster, first)  # a fenced-out holder cannot remove the new lock
    assert locks.release(cluster, second) and read_lock(cluster) is None
    assert not [k for k in sim.private_props if k.startswith(locks.CLAIM_PREFIX)]


def test_a_live_holder_in_this_process_is_not_taken_over() -> None:
    cluster = clusterlib.connect(_sim("clusterexe"))
    held = locks.acquire(cluster, "run1", "CLUSTER1")
    with pytest.raises(LockHeld, match="still running"):
        locks.acquire(cluster, "run1", "CLUSTER1")
    assert read_lock(cluster) == held


def test_a_left_claim_blocks_and_is_named_and_break_lock_clears_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _sim("powershell")
    cluster = clusterlib.connect(sim)
    ghost = locks.LockInfo("ghost", "mallory@elsewhere", 77, "2026-01-01T00:00Z", token="dead")
    cluster.dialect.set_private(locks.CLAIM_PREFIX + "dead", ghost.to_json())
    monkeypatch.setattr(locks, "BACKOFF", 0.0)
    with pytest.raises(LockHeld, match="mallory@elsewhere"):
        locks.acquire(cluster, "run1", "CLUSTER1")
    assert not _changes(sim) and read_lock(cluster) is None
    break_lock(cluster, reason="test: a start killed half-way")
    assert not [k for k in sim.private_props if k.startswith(locks.CLAIM_PREFIX)]
    assert locks.acquire(cluster, "run1", "CLUSTER1").run_id == "run1"


def test_a_claim_whose_withdrawal_failed_does_not_block_the_next_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under wire faults the delete of a claim can fail after the lock was taken; that claim
    must not make this process's next start (its resume) back off forever."""
    from clusterlib.errors import ConnectionFailed

    sim = _sim("powershell")
    cluster = clusterlib.connect(sim)
    real_delete = cluster.dialect.delete_private

    def dropped(key: str) -> None:
        if key.startswith(locks.CLAIM_PREFIX):
            raise ConnectionFailed("127.0.0.1: connection dropped (test)")
        real_delete(key)

    monkeypatch.setattr(cluster.dialect, "delete_private", dropped)
    first = locks.acquire(cluster, "run1", "CLUSTER1")
    assert locks.CLAIM_PREFIX + first.token in sim.private_props  # left behind
    locks.dormant(first)
    monkeypatch.setattr(cluster.dialect, "delete_private", real_delete)
    second = locks.acquire(cluster, "run1", "CLUSTER1")
    assert read_lock(cluster) == second
    assert not [k for k in sim.private_props if k.startswith(locks.CLAIM_PREFIX)]


def test_a_claim_of_a_dead_process_on_this_host_is_ignored() -> None:
    sim = _sim("powershell")
    cluster = clusterlib.connect(sim)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = locks.LockInfo("other", locks.whoami(), int(gone.stdout), "t", token="deadbeef")
    cluster.dialect.set_private(locks.CLAIM_PREFIX + "deadbeef", dead.to_json())
    assert locks.acquire(cluster, "run1", "CLUSTER1").run_id == "run1"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_lock_is_read_from_the_list_of_names_not_an_error_text(dialect: str) -> None:
    """An absent lock is seen as absent in the listing: no query by name whose localized
    "does not exist" error would have to be recognized."""
    sim = _sim(dialect)
    cluster = clusterlib.connect(sim)
    calls = len(sim.calls())
    assert read_lock(cluster) is None
    sent = sim.calls()[calls:]
    if dialect == "powershell":
        reads = [e for e in sent if e.subject == "Get-ClusterParameter"]
        assert len(reads) == 1 and not reads[0].detail["params"]
    else:
        lines = {e.detail.get("line") for e in sent}
        assert lines == {"cluster.exe /priv"}  # the whole listing, no property named


# ---- chaos: many races ---------------------------------------------------------------------


@pytest.mark.chaos
def test_races_chaos(request: pytest.FixtureRequest, tmp_path: Path,
                    record_property: Callable[[str, object], None]) -> None:
    """At least 200 races: threads in-process (both dialects, run and resume, 2/4/8), threads
    over WinRM, and processes over both transports; then 5 frozen-and-woken runs."""
    skip_unless_chaos(request)
    TALLY.clear()
    i = 0
    while TALLY["attempts"] < 200:
        dialect = DIALECTS[i % 2]
        kind = ("run", "resume")[(i // 2) % 2]
        n = (2, 4, 8)[(i // 4) % 3]
        d = tmp_path / str(i)
        d.mkdir()
        if i % 12 == 11:
            _process_race(d, ("rpc", "winrm")[(i // 12) % 2], dialect, kind, min(n, 4))
        elif i % 6 == 5:
            _thread_race(d, "winrm", dialect, kind, min(n, 4))
        else:
            _thread_race(d, "inprocess", dialect, kind, n)
        i += 1
    for _ in range(5):
        d = tmp_path / f"stop{_}"
        d.mkdir()
        _frozen_and_woken(d, "powershell")
    for key, value in TALLY.items():
        record_property(key, value)
    print(f"\nlock race figures: {dict(TALLY)}")
    assert TALLY["double runs"] == 0
