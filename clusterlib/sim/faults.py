"""The simulated cluster's refusals and the faults a test can inject into it."""

from __future__ import annotations

from attrs import frozen

from clusterlib import win32


class SimError(Exception):
    """A refusal by the simulated cluster, with the Win32 code a real one would give."""

    def __init__(self, code: int, detail: str | None = None, *, category: str = "NotSpecified",
                 error_id: str = "") -> None:
        self.code = code
        self.detail = detail or win32.message(code) or f"Win32 error {code}"
        self.category = category
        self.error_id = error_id
        super().__init__(self.detail)


class SimAnswerLost(Exception):
    """The simulated host did what it was asked (or started to), but the answer never reaches the
    caller: the connection dropped after the request arrived. The in-process transport turns this
    into ``ConnectionFailed``; the WinRM endpoint drops the connection without answering."""

    def __init__(self, node: str, detail: str) -> None:
        self.node = node
        self.detail = detail
        super().__init__(detail)


class SimHostDown(SimAnswerLost):
    """The host cannot be reached at all (it is Down): nothing was done. A subclass of
    SimAnswerLost so a front end that drops the connection for one does so for both."""


# --- faults --------------------------------------------------------------------------------------


@frozen
class GroupFailsOnline:
    """The group cannot come online on ``node``: a move there leaves it Failed (Win32 5018)."""

    group: str
    node: str


@frozen
class GroupSlow:
    """Moving the group takes ``extra`` more simulated seconds than its move time."""

    group: str
    extra: float


@frozen
class GroupLocked:
    """The next ``times`` moves of the group are refused with 5960 (resource locked status)
    unless -IgnoreLocked is given."""

    group: str
    times: int = 1


@frozen
class NodeNeverReturns:
    """After its next reboot the node stays Down."""

    node: str


@frozen
class NodeReturnsIncompatible:
    """After its next upgrade the node comes back running ``release`` instead of the target."""

    node: str
    release: str


@frozen
class NodeCrashesDuringDrain:
    """The node goes Down after ``after_moves`` groups have left it in a drain, then restarts."""

    node: str
    after_moves: int = 1


@frozen
class InstallerFails:
    """The installer run on ``node`` exits with ``exit_code`` (1603, ERROR_INSTALL_FAILURE, by
    default) without changing anything; every later run fails too, until the fault is cleared."""

    node: str
    exit_code: int = 1603


@frozen
class InstallerHangs:
    """The installer on ``node`` starts and never finishes: the node stays Up on its old release
    and never restarts. The call that started it gets no answer: it blocks ``answer_after``
    simulated seconds (the caller's read timeout, as a WinRM client polling a process that never
    exits would see it), then the answer is lost (:class:`SimAnswerLost`)."""

    node: str
    answer_after: float = 300.0


@frozen
class InstallerAnswerLost:
    """The next installer call on ``node`` starts the installer (which then runs its course:
    window, restarts, new release), but its answer is lost (:class:`SimAnswerLost`). Fires once."""

    node: str


Fault = (GroupFailsOnline | GroupSlow | GroupLocked | NodeNeverReturns | NodeReturnsIncompatible
         | NodeCrashesDuringDrain | InstallerFails | InstallerHangs | InstallerAnswerLost)



def fault_subject(fault: Fault) -> str:
    """The group or node a fault is about (what ``SimCluster.clear_faults`` matches)."""
    if isinstance(fault, (GroupFailsOnline, GroupSlow, GroupLocked)):
        return fault.group
    return fault.node
