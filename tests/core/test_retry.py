"""clusterlib.retry: one explicit clock decides whether waits sleep; Policies carry it."""

from __future__ import annotations

import time

import pytest

from clusterlib import retry
from clusterlib.errors import TransientClusterError, WaitTimeout
from clusterlib.retry import CLOCK, Policies, RetryClock, RetryPolicy, WaitPolicy


def test_testing_switches_the_shared_clock_and_restores_it() -> None:
    # The autouse fixture (tests/conftest.py) already turned waiting off.
    assert CLOCK.waiting is False and Policies().clock is CLOCK
    with retry.testing(wait=True):
        assert CLOCK.waiting is True and Policies().clock.waiting is True
    assert CLOCK.waiting is False
    assert retry._WAITING is False  # the former module switch still reads the clock


def test_a_policies_own_clock_is_used_not_the_shared_one() -> None:
    slept: list[float] = []

    class Recording(RetryClock):
        def sleep(self, seconds: float) -> None:
            slept.append(seconds)

    clock = Recording(waiting=True)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientClusterError("busy", win32_code=5908)
        return "done"

    policy = RetryPolicy(attempts=5, initial=1.0, max_wait=2.0, total=100.0)
    assert retry.retry_call(flaky, policy, what="test", clock=clock) == "done"
    assert len(slept) == 2 and all(0 <= s <= 2.0 for s in slept)
    # The shared clock is off, the policy's own is on: with the shared one nothing would sleep.
    assert CLOCK.waiting is False
    assert Policies(clock=clock).clock is clock and Policies(clock=clock) == Policies()


def test_polls_without_waiting_are_bounded_by_count_and_never_sleep_long() -> None:
    clock = RetryClock(waiting=False)
    reads: list[int] = []
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="never: not reached within 3600 s"):
        retry.wait_for(lambda: reads.append(0) or 0, lambda v: v == 1,
                       WaitPolicy(timeout=3600.0, interval=1e-6), what="never", clock=clock)
    assert len(reads) == retry._MAX_POLLS_NO_WAIT  # bounded by count, not by the hour
    assert time.monotonic() - started < 20


def test_read_retry_is_gone() -> None:
    assert not hasattr(Policies(), "read_retry")


def test_a_wait_never_times_out_on_a_read_begun_before_its_deadline() -> None:
    """The process stalls right after a read (a paused VM, a long garbage collection, a loaded
    machine) until past the deadline, while the awaited state arrives: the wait reads once more
    and returns it instead of timing out on what it saw before the stall."""
    reads: list[int] = []

    def read() -> int:
        reads.append(len(reads))
        if len(reads) == 1:
            time.sleep(0.05)  # stalled past the 10 ms deadline right after the first read
        return len(reads)

    policy = WaitPolicy(timeout=0.01, interval=0.001)
    assert retry.wait_for(read, lambda v: v == 2, policy, what="stalled") == 2
    assert len(reads) == 2
    # A read begun at or after the deadline does end it: one read, then the timeout.
    reads.clear()
    with pytest.raises(WaitTimeout, match="never: not reached within 0 s"):
        retry.wait_for(read, lambda v: v == 99, WaitPolicy(timeout=0.0, interval=0.001),
                       what="never")
    assert len(reads) == 1
