"""The one exception tree every clusterlib failure is translated into.

::

    ClusterError                      anything clusterlib raises on purpose
    ├── ConnectionFailed              could not talk to the cluster (nothing was changed by us)
    │   ├── AuthenticationError       the credentials were rejected
    │   ├── TransportTimeout          no answer within connect/read/call timeout
    │   └── ResponseTooLarge          an answer over a size or depth bound (hostile/broken host)
    ├── ClusterRefused                the cluster said no; carries win32_code, message, command
    │   ├── NotSupported              the cluster lacks the cmdlet/parameter (old OS, no module)
    │   └── TransientClusterError     busy/moving/locked: worth retrying (codes in win32.TRANSIENT_CODES)
    ├── NotFound                      a name the cluster does not have; lists the valid names
    │   ├── NodeNotFound
    │   └── GroupNotFound
    ├── PreconditionFailed            refused by clusterlib before anything was sent
    │   ├── UnsafeName                a name cmd.exe quoting cannot carry safely
    │   └── InsecureConnection        credentials would cross the network in cleartext
    ├── WaitTimeout                   a bounded wait ran out (group not Online on target, node not back)
    ├── ParseError                    output we do not understand; carries the offending text
    └── NotSimulated                  the simulator was asked for a cmdlet/parameter it does not model

Messages name the thing and what would be valid. No exception ever carries a password:
credentials never reach this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from clusterlib import win32


class ClusterError(Exception):
    """Base of everything clusterlib raises on purpose."""


class ConnectionFailed(ClusterError):
    """Could not talk to the cluster: network, TLS, WinRM fault or a dead session.

    ``unsent`` is True when the command is known never to have left this machine (the session
    could not even be opened), so whoever sent it may treat it as not started."""

    unsent: bool = False


class AuthenticationError(ConnectionFailed):
    """The endpoint rejected the credentials (names host and user, never the password)."""


class TransportTimeout(ConnectionFailed):
    """No answer within the connect, read or call timeout (the message names which, the time
    taken and the attempts made)."""


class ResponseTooLarge(ConnectionFailed):
    """The host sent more than a bound allows (bytes per answer or object, XML depth); the
    message names the host and the bound. Never retried: the same host would send it again."""


class ClusterRefused(ClusterError):
    """The cluster (or cluster.exe) refused a command.

    ``win32_code`` is the Win32 error code when the error carried or implied one;
    ``symbol`` its ERROR_* name; ``command`` a short, secret-free description of what was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        win32_code: int | None = None,
        command: str | None = None,
        category: str | None = None,
        error_id: str | None = None,
    ) -> None:
        self.message = message
        self.win32_code = win32_code
        self.command = command
        self.category = category
        self.error_id = error_id
        super().__init__(self._render())

    @property
    def symbol(self) -> str | None:
        return win32.symbol(self.win32_code) if self.win32_code is not None else None

    def _render(self) -> str:
        text = self.message
        if self.win32_code is not None:
            sym = self.symbol
            text += f" (Win32 {self.win32_code}{' ' + sym if sym else ''})"
        if self.command:
            text += f" [command: {self.command}]"
        return text


class NotSupported(ClusterRefused):
    """The cluster does not offer this cmdlet or parameter (e.g. no FailoverClusters module)."""


class TransientClusterError(ClusterRefused):
    """The cluster is busy with the object (moving, queued, locked): retrying may succeed."""


class NotFound(ClusterError):
    """A name the cluster does not have. ``valid`` lists the names it does have."""

    kind = "object"

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        self.name = name
        self.valid = tuple(sorted(valid, key=str.lower))
        shown = ", ".join(repr(v) for v in self.valid) or "(none)"
        super().__init__(f"no {self.kind} named {name!r}; valid {self.kind}s: {shown}")


class NodeNotFound(NotFound):
    kind = "node"


class GroupNotFound(NotFound):
    kind = "group"


class PreconditionFailed(ClusterError):
    """clusterlib refused an action before sending anything, because the cluster would reject it
    or because it would leave the cluster worse off."""


class UnsafeName(PreconditionFailed):
    """A name that cmd.exe quoting cannot carry safely (double quote, %, newline, ...)."""


class InsecureConnection(PreconditionFailed):
    """Refused before connecting: the chosen options would send the password in cleartext
    (Basic authentication over plain HTTP to a host outside the loopback range)."""


class WaitTimeout(ClusterError):
    """A bounded wait ran out before the cluster reached the expected state."""


class ParseError(ClusterError):
    """Output clusterlib does not understand. ``text`` holds the offending output."""

    def __init__(self, reason: str, text: str) -> None:
        self.reason = reason
        self.text = text
        shown = text if len(text) <= 2000 else text[:2000] + "...[truncated]"
        super().__init__(f"{reason}; output was:\n{shown}")


class NotSimulated(ClusterError):
    """The simulator does not model this cmdlet, parameter or command line."""


def refused_from(
    message: str,
    *,
    win32_code: int | None = None,
    command: str | None = None,
    category: str | None = None,
    error_id: str | None = None,
) -> ClusterRefused:
    """Build the right ClusterRefused subclass for an error the cluster reported.

    The code is the one given or else found by :func:`clusterlib.win32.code_of`: from the
    FullyQualifiedErrorId and category, a hexadecimal code in the text, then the text itself in
    English or a localized catalog, so a refusal keeps its code (and a busy group stays a
    TransientClusterError) on a cluster that speaks another language.
    """
    code = win32.code_of(win32_code, error_id or "", category or "", message)
    cls: type[ClusterRefused] = ClusterRefused
    if code is not None and code in win32.TRANSIENT_CODES:
        cls = TransientClusterError
    elif error_id and error_id.split(",")[0] == "CommandNotFoundException":
        cls = NotSupported
    return cls(message, win32_code=code, command=command, category=category, error_id=error_id)


#: Win32 codes that mean "the cluster has no object of that name" (winerror.h).
GROUP_NOT_FOUND = 5013  # ERROR_GROUP_NOT_FOUND
NODE_NOT_FOUND = 5042  # ERROR_CLUSTER_NODE_NOT_FOUND


def not_found(code: int | None, *, group: str | None = None, node: str | None = None,
              listing: Callable[[], Any]) -> NotFound | None:
    """The NotFound a refusal's Win32 ``code`` means for a read that named ``group`` and/or
    ``node`` (None when it means neither), the one place a code becomes a missing name, for
    every dialect. ``listing()`` reads the cluster (anything with ``.groups``/``.nodes`` of
    named records, a snapshot) for the valid names, only once a name is known to be missing."""
    if code == GROUP_NOT_FOUND and group is not None:
        return GroupNotFound(group, [g.name for g in listing().groups])
    if code == NODE_NOT_FOUND and node is not None:
        return NodeNotFound(node, [n.name for n in listing().nodes])
    return None
