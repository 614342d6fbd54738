"""The fleet's own error: the fleet cannot run as asked (the message says why and what to do)."""

from __future__ import annotations

from clusterlib.errors import ClusterError


class FleetError(ClusterError):
    """The fleet cannot run as asked (the message says why and what to do)."""
