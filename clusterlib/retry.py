"""Every retry and bounded wait clusterlib does, declared once (tenacity, used the way stamina uses it).

Only transient failures are retried: a cluster that is busy with the group (moving, queued,
locked: ``TransientClusterError``) or a group still Pending after its wait (``WaitTimeout``). A
refusal (paused target, not a possible owner) is never retried. Each retry is logged through
``before_sleep``; waits are jittered exponential; attempts and total time are both bounded; the
original error is re-raised.

Durations are in the cluster's seconds. A simulated cluster runs ``time_scale`` times faster than
the wall clock, so sleeps are divided by it; real clusters have a scale of 1.

Whether waits really sleep is one explicit object, a :class:`RetryClock`: ``Policies.clock``
(by default the library-wide ``CLOCK``), passed to every retry and poll. Tests turn waiting off
with ``clusterlib.retry.testing(wait=False)`` (compare ``stamina.set_testing``), which switches
``CLOCK``: retries still happen, they just do not sleep.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import tenacity
from attrs import define, field, frozen

from clusterlib.errors import TransientClusterError, WaitTimeout

log = logging.getLogger("clusterlib.retry")

T = TypeVar("T")

@define
class RetryClock:
    """Whether retry back-offs and poll intervals really sleep (``waiting``). A poll always
    yields the CPU a little, even without waiting, so a simulated clock can move."""

    waiting: bool = True

    def sleep(self, seconds: float) -> None:
        """A back-off: ``seconds`` when waiting, nothing otherwise."""
        if self.waiting and seconds > 0:
            time.sleep(seconds)

    def poll(self, seconds: float) -> None:
        """A poll interval: ``seconds`` when waiting, a token 1 ms at most otherwise."""
        time.sleep(seconds if self.waiting else min(seconds, 0.001))


#: The clock every ``Policies`` carries unless given its own; ``testing()`` switches it.
CLOCK = RetryClock()


@contextlib.contextmanager
def testing(*, wait: bool = False) -> Iterator[None]:
    """Within the block, retry back-offs and poll intervals of ``CLOCK`` do not sleep."""
    old, CLOCK.waiting = CLOCK.waiting, wait
    try:
        yield
    finally:
        CLOCK.waiting = old


def __getattr__(name: str) -> object:
    # The switch's former spelling, a module global, read by code written before RetryClock.
    if name == "_WAITING":
        return CLOCK.waiting
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@frozen
class RetryPolicy:
    """Bounded, jittered exponential retries of a transient failure."""

    attempts: int = 5
    initial: float = 2.0  # seconds before the first retry (before jitter)
    max_wait: float = 30.0
    total: float = 600.0  # give up after this long, whatever the attempt count


@frozen
class WaitPolicy:
    """A bounded poll for a state: ``timeout`` overall, one read every ``interval``."""

    timeout: float
    interval: float


@frozen
class Policies:
    """The defaults a careful administrator would pick; override per Cluster."""

    move_retry: RetryPolicy = RetryPolicy()
    move_wait: WaitPolicy = WaitPolicy(timeout=300.0, interval=2.0)  # Online on the target
    drain_wait: WaitPolicy = WaitPolicy(timeout=1800.0, interval=5.0)
    node_wait: WaitPolicy = WaitPolicy(timeout=1800.0, interval=5.0)  # reboot/rejoin
    #: Whether waits sleep: the library-wide CLOCK unless a caller gives its own.
    clock: RetryClock = field(default=CLOCK, eq=False, repr=False)


DEFAULT_POLICIES = Policies()

TRANSIENT = (TransientClusterError, WaitTimeout)


def _log_retry(what: str) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("retrying %s (attempt %d failed: %s)", what, state.attempt_number, exc)

    return before_sleep


def retry_call(fn: Callable[[], T], policy: RetryPolicy, *, what: str, scale: float = 1.0,
               on_retry: Callable[[int, BaseException], None] | None = None,
               retry_on: tuple[type[BaseException], ...] = TRANSIENT,
               clock: RetryClock = CLOCK) -> T:
    """Call ``fn``; on a transient error wait (by ``clock``) and call again, within ``policy``'s
    bounds."""
    scale = scale if scale > 0 else 1.0
    logger = _log_retry(what)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        logger(state)
        exc = state.outcome.exception() if state.outcome else None
        if on_retry is not None and exc is not None:
            on_retry(state.attempt_number, exc)

    stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(policy.attempts)
    if clock.waiting:
        # In testing mode only the attempt count bounds a retry: without back-off sleeps the
        # elapsed time measures the test machine, not the policy.
        stop = stop | tenacity.stop_after_delay(policy.total / scale)
    retrying = tenacity.Retrying(
        stop=stop,
        wait=tenacity.wait_random_exponential(multiplier=policy.initial / scale,
                                              max=policy.max_wait / scale),
        retry=tenacity.retry_if_exception_type(retry_on),
        before_sleep=before_sleep,
        sleep=clock.sleep,
        reraise=True,
    )
    return retrying(fn)


def wait_for(read: Callable[[], T], done: Callable[[T], bool], policy: WaitPolicy, *,
             what: str, scale: float = 1.0,
             failed: Callable[[T], str | None] | None = None, clock: RetryClock = CLOCK) -> T:
    """Poll ``read`` until ``done(value)``; raise WaitTimeout naming ``what`` after the timeout.

    ``failed(value)`` may return a reason to stop early (e.g. the group went Failed).
    """
    scale = scale if scale > 0 else 1.0
    deadline = time.monotonic() + policy.timeout / scale
    polls = 0
    while True:
        # Only a read begun at or after the deadline may end the wait: an earlier one can show
        # the cluster as it was long ago when this process stalled right after it (a paused VM,
        # a long garbage collection, a loaded machine) while the cluster went on, e.g. a node
        # restarted and came back meanwhile. Such a wait reads once more before it gives up.
        last = time.monotonic() >= deadline
        value = read()
        polls += 1
        if done(value):
            return value
        if failed is not None:
            reason = failed(value)
            if reason:
                raise WaitTimeout(f"{what}: {reason}")
        if last or (not clock.waiting and polls >= _MAX_POLLS_NO_WAIT):
            raise WaitTimeout(f"{what}: not reached within {policy.timeout:g} s"
                              f" (last seen: {value!r})")
        clock.poll(policy.interval / scale)


# With waiting turned off a poll loop would spin; bound it by count instead of time.
_MAX_POLLS_NO_WAIT = 5000


def pause_between_polls(policy: WaitPolicy, scale: float = 1.0, clock: RetryClock = CLOCK) -> None:
    """One of ``policy``'s poll intervals (divided by ``scale``), for a caller that runs its own
    poll loop (several moves confirmed by one read per poll). In testing mode a token sleep."""
    clock.poll(policy.interval / (scale if scale > 0 else 1.0))
