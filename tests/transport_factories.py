"""Transport factories for the parametrized simulator fixtures: the WinRM transport over the
loopback endpoint, so every simulator test can also run through real pypsrp."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from clusterlib.sim import SimCluster
from clusterlib.transports.base import Transport


@contextlib.contextmanager
def winrm_factory(sim: SimCluster, *, transport_options: dict[str, Any] | None = None,
                  **serve_options: Any) -> Iterator[Transport]:
    """Serve ``sim`` on a loopback endpoint and yield a WinRMTransport connected to it
    (``transport_options``: more WinRMTransport keyword arguments).

    ``time_scale`` is not a transport concern for the Cluster handle, but the transport exposes
    it as an attribute (the endpoint's ``sim.speed``) so ``clusterlib.connect(transport)`` scales
    its polling as for the in-process transport. Receives wait at most 50 ms before the
    operation-timeout fault, so long cmdlets exercise pypsrp's retry path without slowing tests.
    """
    from clusterlib.transports.winrm import WinRMTransport

    serve_options.setdefault("receive_timeout", 0.05)
    with sim.serve(**serve_options) as endpoint:
        options = endpoint.connect_options()
        time_scale = options.pop("time_scale")
        host = options.pop("target")
        transport = WinRMTransport(host, time_scale=time_scale, **options,
                                   **(transport_options or {}))
        try:
            yield transport
        finally:
            transport.close()
