"""How to say each operation to a cluster: the PowerShell and cluster.exe dialects, and choosing one."""

from __future__ import annotations

from clusterlib.dialects.base import Capabilities, Command, Dialect
from clusterlib.errors import NotSupported
from clusterlib.transports.base import Transport

DIALECTS = ("auto", "powershell", "clusterexe")


def choose(transport: Transport, dialect: str = "auto", cluster: str | None = None) -> Dialect:
    """Pick the dialect for a connected transport.

    "auto" asks the endpoint whether the FailoverClusters module exists and whether
    Suspend-ClusterNode has -Drain: PowerShell with drain, PowerShell without drain (2008 R2:
    clusterlib pauses and moves the groups itself), or cluster.exe when there is no module
    and ``cluster.exe /ver`` answers; NotSupported when neither is there. "clusterexe" skips
    the PowerShell probe (a Windows Server 2008 R2 endpoint offers both) but still checks that
    cluster.exe answers.
    """
    from clusterlib.dialects.powershell_dialect import PowerShellDialect, detect_powershell

    wanted = (dialect or "auto").lower().replace(".exe", "exe").replace("-", "")
    if wanted not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
    if wanted in ("auto", "powershell"):
        caps = detect_powershell(transport, cluster)
        if caps is not None:
            return PowerShellDialect(transport, caps, cluster)
        if wanted == "powershell":
            # The probe needs ConvertTo-Json, which arrived with Windows PowerShell 3.0: a stock
            # Windows Server 2008 R2 (2.0) has the module but cannot answer in JSON.
            raise NotSupported(f"{transport.endpoint} has no FailoverClusters PowerShell module"
                               " usable by clusterlib (none, or Windows PowerShell 2.0 without"
                               " ConvertTo-Json: a stock Windows Server 2008 R2; WMF 3.0 or later"
                               " adds it); use dialect='clusterexe' for this cluster")
    return _clusterexe(transport, cluster)


def _clusterexe(transport: Transport, cluster: str | None) -> Dialect:
    """The cluster.exe dialect, after ``cluster.exe /ver`` answered (one round trip): an endpoint
    without cluster.exe gets a NotSupported that says so, not a failure on the first read."""
    from clusterlib.dialects.clusterexe_dialect import ClusterExeDialect, detect_clusterexe

    try:
        detect_clusterexe(transport, cluster)
    except NotSupported as exc:
        raise NotSupported(f"{transport.endpoint} offers neither the FailoverClusters PowerShell"
                           f" module nor cluster.exe: {exc.message}", command=exc.command) from exc
    return ClusterExeDialect(transport, cluster)


__all__ = ["DIALECTS", "Capabilities", "Command", "Dialect", "choose"]
