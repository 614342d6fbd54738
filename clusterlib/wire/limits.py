"""Size limits both ends of the wire agree on (the WinRM client and the simulator's listener)."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_ENVELOPE_SIZE"]

#: Windows Server's default ``winrm/config MaxEnvelopeSizekb`` (500 KiB): the largest response a
#: listener sends unless an administrator raised it, and the size a client asks for by default
#: ("Installation and configuration for Windows Remote Management", learn.microsoft.com;
#: MS-WSMV 3.1.4.1.7 MaxEnvelopeSize). See docs/connecting.md, "Large clusters".
DEFAULT_MAX_ENVELOPE_SIZE = 500 * 1024
