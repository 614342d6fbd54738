"""clusterlib: drive Microsoft failover clusters (status, drains, moves, rolling upgrades) over WinRM."""

# html gives the records and handles their notebook reprs (standard library only).
from clusterlib import html as _html  # noqa: F401
from clusterlib.cluster import Cluster, Group, Node, connect
from clusterlib.dialects.base import Capabilities
from clusterlib.errors import (
    AuthenticationError,
    ClusterError,
    ClusterRefused,
    ConnectionFailed,
    GroupNotFound,
    InsecureConnection,
    NodeNotFound,
    NotFound,
    NotSimulated,
    NotSupported,
    ParseError,
    PreconditionFailed,
    ResponseTooLarge,
    TransientClusterError,
    TransportTimeout,
    UnsafeName,
    WaitTimeout,
)
from clusterlib.model import (
    ClusterSnapshot,
    DrainStatus,
    GroupInfo,
    GroupState,
    GroupType,
    Health,
    NodeInfo,
    NodeState,
    OSVersion,
    ResourceInfo,
    ResourceState,
    ServiceVersion,
)
from clusterlib.retry import Policies, RetryPolicy, WaitPolicy

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Capabilities",
    "Cluster",
    "ClusterError",
    "ClusterRefused",
    "ClusterSnapshot",
    "ConnectionFailed",
    "DrainStatus",
    "Group",
    "GroupInfo",
    "GroupNotFound",
    "GroupState",
    "GroupType",
    "Health",
    "InsecureConnection",
    "Node",
    "NodeInfo",
    "NodeNotFound",
    "NodeState",
    "NotFound",
    "NotSimulated",
    "NotSupported",
    "OSVersion",
    "ParseError",
    "Policies",
    "PreconditionFailed",
    "ResourceInfo",
    "ResourceState",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServiceVersion",
    "TransientClusterError",
    "TransportTimeout",
    "UnsafeName",
    "WaitPolicy",
    "WaitTimeout",
    "__version__",
    "connect",
]
