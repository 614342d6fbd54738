"""Win32 error codes that failover clusters report, and how to find one in an error's text."""

from __future__ import annotations

import re

# Messages are verbatim from Microsoft's system error code list (reference section 1.13).
WIN32_ERRORS: dict[int, tuple[str, str]] = {
    5: ("ERROR_ACCESS_DENIED", "Access is denied."),
    13: ("ERROR_INVALID_DATA", "The data is invalid."),
    70: ("ERROR_SHARING_PAUSED", "The remote server has been paused or is in the process of being started."),
    87: ("ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
    114: ("ERROR_INVALID_TARGET_HANDLE", "The target internal file identifier is incorrect."),
    997: ("ERROR_IO_PENDING", "Overlapped I/O operation is in progress."),
    1223: ("ERROR_CANCELLED", "The operation was canceled by the user."),
    1722: ("RPC_S_SERVER_UNAVAILABLE", "The RPC server is unavailable."),
    1753: ("EPT_S_NOT_REGISTERED", "There are no more endpoints available from the endpoint mapper."),
    1825: ("RPC_S_SEC_PKG_ERROR", "A security package specific error occurred."),
    5005: ("ERROR_HOST_NODE_NOT_AVAILABLE", "A cluster node is not available for this operation."),
    5007: ("ERROR_RESOURCE_NOT_FOUND", "The cluster resource could not be found."),
    5009: (
        "ERROR_CANT_EVICT_ACTIVE_NODE",
        "A cluster node cannot be evicted from the cluster unless the node is down or it is the last node.",
    ),
    5013: ("ERROR_GROUP_NOT_FOUND", "The cluster group could not be found."),
    5016: (
        "ERROR_HOST_NODE_NOT_GROUP_OWNER",
        "The operation failed because either the specified cluster node is not the owner of the group,"
        " or the node is not a possible owner of the group.",
    ),
    5018: (
        "ERROR_RESMON_ONLINE_FAILED",
        "The cluster resource could not be brought online by the resource monitor.",
    ),
    5023: (
        "ERROR_INVALID_STATE",
        "The group or resource is not in the correct state to perform the requested operation.",
    ),
    5037: ("ERROR_ALL_NODES_NOT_AVAILABLE", "All cluster nodes must be running to perform this operation."),
    5038: ("ERROR_RESOURCE_FAILED", "A cluster resource failed."),
    5042: ("ERROR_CLUSTER_NODE_NOT_FOUND", "The cluster node was not found."),
    5043: ("ERROR_CLUSTER_LOCAL_NODE_NOT_FOUND", "The cluster local node information was not found."),
    5050: ("ERROR_CLUSTER_NODE_DOWN", "The cluster node is down."),
    5051: ("ERROR_CLUSTER_NODE_UNREACHABLE", "The cluster node is not reachable."),
    5052: ("ERROR_CLUSTER_NODE_NOT_MEMBER", "The cluster node is not a member of the cluster."),
    5056: ("ERROR_CLUSTER_NODE_UP", "The cluster node is up."),
    5058: ("ERROR_CLUSTER_NODE_NOT_PAUSED", "The cluster node is not paused."),
    5061: ("ERROR_CLUSTER_NODE_ALREADY_UP", "The cluster node is already up."),
    5062: ("ERROR_CLUSTER_NODE_ALREADY_DOWN", "The cluster node is already down."),
    5065: ("ERROR_CLUSTER_NODE_ALREADY_MEMBER", "The cluster node is already a member of the cluster."),
    5070: ("ERROR_CLUSTER_NODE_PAUSED", "The cluster node is paused."),
    5075: (
        "ERROR_CLUSTER_INCOMPATIBLE_VERSIONS",
        "The cluster join operation failed due to incompatible software versions between the joining"
        " node and its sponsor.",
    ),
    5082: (
        "ERROR_CLUSTER_OWNER_NOT_IN_PREFLIST",
        "You cannot bring the group online because the owner of the group is not in the preferred list"
        " for the group. To change the owner node for the group, move the group.",
    ),
    5899: (
        "ERROR_CLUSTER_WRONG_OS_VERSION",
        "This computer cannot be made a member of a cluster because it does not have the correct version"
        " of Windows installed.",
    ),
    5904: (
        "ERROR_CLUSTER_OLD_VERSION",
        "One or more nodes in the cluster are running a version of Windows that does not support this"
        " operation.",
    ),
    5908: (
        "ERROR_CLUSTER_GROUP_MOVING",
        "The group is unable to accept the request since it is moving to another node.",
    ),
    5925: ("ERROR_CLUSTER_NO_QUORUM", "A quorum of cluster nodes was not present to form a cluster."),
    5944: (
        "ERROR_CLUSTER_GROUP_BUSY",
        "The current operation cannot be performed on this group at this time.",
    ),
    5953: (
        "ERROR_CLUSTER_RESOURCE_VETOED_MOVE_INCOMPATIBLE_NODES",
        "A resource vetoed a move between two nodes because they are incompatible.",
    ),
    5959: (
        "ERROR_CLUSTER_GROUP_QUEUED",
        "The requested operation can not be completed because the group is queued for an operation.",
    ),
    5960: (
        "ERROR_CLUSTER_RESOURCE_LOCKED_STATUS",
        "The requested operation can not be completed because a resource has locked status.",
    ),
    5962: ("ERROR_CLUSTER_NODE_DRAIN_IN_PROGRESS", "A node drain is already in progress."),
    5971: (
        "ERROR_CLUSTER_AFFINITY_CONFLICT",
        "The operation cannot be completed because of cluster affinity conflicts.",
    ),
}

# Codes that mean "try again shortly": the group or node is busy, not refusing for good.
TRANSIENT_CODES: frozenset[int] = frozenset({70, 5908, 5944, 5959, 5960, 5962, 1722, 1753})

_HEX = re.compile(r"0x(?:8007)?([0-9a-fA-F]{4,8})\b")
_DEC = re.compile(r"(?:System error|error code|error status of|Win32 error)\s*:?\s*(\d{1,5})\b", re.I)


def symbol(code: int) -> str | None:
    """The ERROR_* name of a code, if the table knows it."""
    entry = WIN32_ERRORS.get(code)
    return entry[0] if entry else None


def message(code: int) -> str | None:
    """Microsoft's message text for a code, if the table knows it."""
    entry = WIN32_ERRORS.get(code)
    return entry[1] if entry else None


def code_from_text(text: str) -> int | None:
    """Find a Win32 code in an error's text.

    Real FailoverClusters ErrorRecords often carry only the message text (see the
    reference sample ps_move_clustergroup_error_record_ws2016.txt), so after looking
    for an explicit decimal or hex code we fall back to matching the known message
    texts, ignoring punctuation and line breaks.
    """
    for match in _DEC.finditer(text):
        return int(match.group(1))
    for match in _HEX.finditer(text):
        value = int(match.group(1), 16)
        if value in WIN32_ERRORS or 5000 <= value <= 5999:
            return value
    flat = _flatten(text)
    best: tuple[int, int] | None = None
    for code, (_sym, msg) in WIN32_ERRORS.items():
        key = _flatten(msg)
        if len(key) > 12 and key in flat and (best is None or len(key) > best[1]):
            best = (code, len(key))
    return best[0] if best else None


def _flatten(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())
