"""WS-Management SOAP for the simulator endpoint: parse requests, build responses and faults.

Only what pypsrp (and a Windows WinRM client) send for the shell resources is understood:
Create, Command, Send, Receive, Signal, Delete, plus Get of a shell. Responses copy the namespace
prefixes and element layout of a Windows Server 2016 listener as recorded in pypsrp's own test
suite (``tests/fixtures/wsman_*``) so a client's parser is exercised as against a real host.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

from attrs import frozen

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSMANFAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
PWSH = "http://schemas.microsoft.com/powershell"

# Resource URIs served.
POWERSHELL_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
CMD_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"

# Actions (wsa:Action) in, and the response actions out.
CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
COMMAND = f"{RSP}/Command"
SEND = f"{RSP}/Send"
RECEIVE = f"{RSP}/Receive"
SIGNAL = f"{RSP}/Signal"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

STATE_DONE = f"{RSP}/CommandState/Done"
STATE_RUNNING = f"{RSP}/CommandState/Running"
SIGNAL_TERMINATE = f"{RSP}/signal/Terminate"
SIGNAL_CTRL_C = f"{RSP}/signal/ctrl_c"
SIGNAL_PS_CTRL_C = "powershell/signal/ctrl_c"

# WSMan fault codes (the Code attribute of wsmanfault:WSManFault) that clients act on.
TIMED_OUT = 2150858793  # ERROR_WSMAN_OPERATION_TIMEDOUT: pypsrp silently re-sends the Receive
INVALID_SELECTORS = 2150858843  # ERROR_WSMAN_UNEXPECTED_SELECTORS: unknown ShellId
ACTION_NOT_SUPPORTED = 2150858754  # used for anything outside the emulated subset
ENVELOPE_TOO_LARGE = 2150858817  # request larger than the listener's MaxEnvelopeSize

_ANON = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
# The response envelope a Windows listener writes (prefixes as in the recordings).
_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"'
    ' xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
    ' xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"'
    ' xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)
# Bytes of envelope around the streams of a ReceiveResponse, rounded up generously: the
# streams' base64 must fit in the client's MaxEnvelopeSize minus this.
RECEIVE_OVERHEAD = 2048
STREAM_OVERHEAD = 160  # one <rsp:Stream Name=".." CommandId="..">..</rsp:Stream> wrapper


class WSManError(Exception):
    """A request the endpoint answers with a WSMan fault (HTTP 500, like a real listener).

    ``reason`` is the f:Message of the WSManFault; ``sender`` makes the SOAP code s:Sender (the
    client's request is at fault) instead of s:Receiver; ``detail`` adds a w:FaultDetail URI and
    ``text`` replaces the s:Reason text (Windows words the Reason generically for some faults).
    """

    def __init__(self, code: int, subcode: str, reason: str, *, sender: bool = False,
                 detail: str | None = None, text: str | None = None) -> None:
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.sender = sender
        self.detail = detail
        self.text = text
        super().__init__(reason)


@frozen
class Request:
    """The parts of a WSMan request the endpoint acts on."""

    action: str
    resource_uri: str
    message_id: str
    max_envelope_size: int
    operation_timeout: float  # seconds
    selectors: Mapping[str, str]
    options: Mapping[str, str]
    body: ET.Element | None  # the first child of s:Body, if any

    @property
    def shell_id(self) -> str | None:
        value = self.selectors.get("ShellId")
        return value.upper() if value else None


_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


def parse_duration(text: str | None, default: float) -> float:
    """An xs:duration as WSMan uses it (``PT20S``, ``PT1M30.5S``) in seconds."""
    if not text:
        return default
    match = _DURATION.match(text.strip())
    if not match:
        return default
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_request(data: bytes) -> Request:
    """Parse a SOAP envelope; a malformed one becomes a WSManError (a fault, not a crash)."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - loopback endpoint for tests and benches
    except ET.ParseError as exc:
        raise WSManError(ACTION_NOT_SUPPORTED, "w:SchemaValidationError",
                         f"The SOAP XML in the message does not match the schema: {exc}") from exc
    header = root.find(f"{{{S}}}Header")
    body = root.find(f"{{{S}}}Body")
    if header is None or body is None:
        raise WSManError(ACTION_NOT_SUPPORTED, "w:SchemaValidationError",
                         "The SOAP envelope has no Header or Body.")

    def text(tag: str) -> str:
        el = header.find(tag) if header is not None else None
        return (el.text or "").strip() if el is not None else ""

    selectors = {el.attrib.get("Name", ""): (el.text or "")
                 for el in header.iter(f"{{{WSMAN}}}Selector")}
    options = {el.attrib.get("Name", ""): (el.text or "")
               for el in header.iter(f"{{{WSMAN}}}Option")}
    max_env = text(f"{{{WSMAN}}}MaxEnvelopeSize")
    children = list(body)
    return Request(
        action=text(f"{{{WSA}}}Action"),
        resource_uri=text(f"{{{WSMAN}}}ResourceURI"),
        message_id=text(f"{{{WSA}}}MessageID"),
        max_envelope_size=int(max_env) if max_env.isdigit() else 153600,
        operation_timeout=parse_duration(text(f"{{{WSMAN}}}OperationTimeout"), 60.0),
        selectors=selectors,
        options=options,
        body=children[0] if children else None,
    )


def _msg_id() -> str:
    return f"uuid:{str(uuid.uuid4()).upper()}"


def envelope(action: str, relates_to: str, body: str) -> bytes:
    """A response envelope; ``RelatesTo`` echoes the request's MessageID (pypsrp checks it)."""
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{action}</a:Action>"
        f"<a:MessageID>{_msg_id()}</a:MessageID><a:To>{_ANON}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(relates_to: str, err: WSManError, machine: str) -> bytes:
    """A WSMan fault as a Windows listener writes it (w:TimedOut and friends)."""
    reason = escape(err.reason)
    text = escape(err.text) if err.text is not None else reason
    role = "s:Sender" if err.sender else "s:Receiver"
    detail = f"<w:FaultDetail>{escape(err.detail)}</w:FaultDetail>" if err.detail else ""
    body = (
        f'<s:Fault><s:Code><s:Value>{role}</s:Value><s:Subcode><s:Value>{err.subcode}'
        f'</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{text}</s:Text>'
        f'</s:Reason><s:Detail>{detail}<f:WSManFault xmlns:f="{WSMANFAULT}" Code="{err.code}"'
        f' Machine={quoteattr(machine)}><f:Message>{reason}</f:Message></f:WSManFault>'
        f"</s:Detail></s:Fault>"
    )
    return envelope(FAULT_ACTION, relates_to, body)


def timed_out() -> WSManError:
    return WSManError(TIMED_OUT, "w:TimedOut", "The WS-Management service cannot complete the"
                      " operation within the time specified in OperationTimeout.  ")


UNEXPECTED_SELECTORS = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors"
_INVALID_SELECTORS_TEXT = ("The WS-Management service cannot process the request because the request"
                           " contained invalid selectors for the resource. ")


def unknown_shell(shell_id: str | None) -> WSManError:
    """A ShellId the listener does not know (never created, deleted, or freed by the idle
    timeout): s:Sender, w:InvalidSelectors, FaultDetail UnexpectedSelectors, as a Windows
    listener answers (fault recorded from a Windows host in public WinRM client test suites)."""
    return WSManError(INVALID_SELECTORS, "w:InvalidSelectors",
                      f"The request for the Windows Remote Shell with ShellId {shell_id} failed"
                      " because the shell was not found on the server. Possible causes are: the"
                      " specified ShellId is incorrect or the shell no longer exists on the"
                      " server. Provide the correct ShellId or create a new shell and retry"
                      " the operation. ", sender=True, detail=UNEXPECTED_SELECTORS,
                      text=_INVALID_SELECTORS_TEXT)


def unknown_command(shell_id: str, command_id: str) -> WSManError:
    """A CommandId the shell does not know: the same w:InvalidSelectors subcode as an unknown
    shell. The f:Message wording for this case is not in a public recording ([P])."""
    return WSManError(INVALID_SELECTORS, "w:InvalidSelectors",
                      f"The command {command_id} was not found in shell {shell_id}.", sender=True,
                      detail=UNEXPECTED_SELECTORS, text=_INVALID_SELECTORS_TEXT)


def create_response(address: str, resource_uri: str, shell_id: str, input_streams: str,
                    output_streams: str, owner: str, client_ip: str,
                    idle_timeout: float = 7200.0) -> str:
    """Body of a CreateResponse: ResourceCreated with the ShellId selector, then rsp:Shell."""
    return (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{resource_uri}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>"
        f'<rsp:Shell xmlns:rsp="{RSP}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
        f"<rsp:ResourceUri>{resource_uri}</rsp:ResourceUri><rsp:Owner>{escape(owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        f"<rsp:IdleTimeOut>PT{idle_timeout:.3f}S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams>"
        f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        f"<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )


def shell_get_response(shell_id: str, resource_uri: str) -> str:
    return (f'<rsp:Shell xmlns:rsp="{RSP}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
            f"<rsp:ResourceUri>{resource_uri}</rsp:ResourceUri><rsp:State>Connected</rsp:State>"
            f"</rsp:Shell>")


def command_response(command_id: str) -> str:
    return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"


@frozen
class Chunk:
    """One rsp:Stream element of a ReceiveResponse."""

    name: str
    data: bytes
    end: bool = False


def receive_response(chunks: Iterable[Chunk], command_id: str | None,
                     state: tuple[str, int | None] | None) -> str:
    """Body of a ReceiveResponse: one rsp:Stream per chunk, then the CommandState if known."""
    cid = f' CommandId="{command_id}"' if command_id else ""
    parts = ["<rsp:ReceiveResponse>"]
    for chunk in chunks:
        end = ' End="true"' if chunk.end else ""
        parts.append(f'<rsp:Stream Name="{chunk.name}"{cid}{end}>'
                     f"{base64.b64encode(chunk.data).decode()}</rsp:Stream>")
    if state is not None:
        uri, exit_code = state
        code = f"<rsp:ExitCode>{exit_code}</rsp:ExitCode>" if exit_code is not None else ""
        parts.append(f'<rsp:CommandState{cid} State="{uri}">{code}</rsp:CommandState>')
    parts.append("</rsp:ReceiveResponse>")
    return "".join(parts)


def payload_budget(max_envelope_size: int) -> int:
    """Raw bytes of stream data that fit a response of ``max_envelope_size`` once base64'd."""
    return max(256, (max_envelope_size - RECEIVE_OVERHEAD) * 3 // 4)
