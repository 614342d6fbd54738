"""The clock the growth tests time with: this thread's CPU seconds, so a loaded machine does not
skew them.

A growth test compares two timings of the same code on two sizes. Wall time counts every moment
the scheduler gave the CPU to another process, and on a shared 2-core machine one such moment
(several milliseconds) is as long as the small run itself; the thread's CPU time counts only the
work measured. On Windows a thread's CPU time advances only at the clock tick (about 15.6 ms),
too coarse for runs of a few milliseconds, so wall time is kept there."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

#: Seconds of this thread's CPU time (wall time on Windows); compare differences only.
cpu_clock: Callable[[], float] = time.perf_counter if sys.platform == "win32" else time.thread_time
