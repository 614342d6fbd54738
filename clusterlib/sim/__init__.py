"""The simulated failover cluster: clusterlib's embedded default and its test bed."""

from clusterlib.sim.model import (
    GroupFailsOnline,
    GroupLocked,
    GroupSlow,
    NodeCrashesDuringDrain,
    NodeNeverReturns,
    NodeReturnsIncompatible,
    SimCluster,
    SimError,
    SimEvent,
)
from clusterlib.sim.releases import RELEASES, Release, release

__all__ = [
    "RELEASES",
    "GroupFailsOnline",
    "GroupLocked",
    "GroupSlow",
    "NodeCrashesDuringDrain",
    "NodeNeverReturns",
    "NodeReturnsIncompatible",
    "Release",
    "SimCluster",
    "SimError",
    "SimEvent",
    "release",
]
