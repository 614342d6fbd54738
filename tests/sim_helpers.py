"""Helpers for the simulator endpoint's tests (tests/sim): a raw WS-Management request."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests

from clusterlib.sim.endpoint import Endpoint

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"


def cmd_receive_fault(ep: Endpoint, shell_id: str, command_id: str,
                      message_id: str) -> tuple[bytes, ET.Element]:
    """POST a cmd-shell Receive as raw XML (no client library in between); the endpoint must
    answer HTTP 500 with a SOAP fault. Returns the body and its parsed root."""
    envelope = (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:wsa="{WSA}"'
        ' xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
        ' xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
        '<wsa:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</wsa:Action>'
        f"<wsa:MessageID>{message_id}</wsa:MessageID>"
        "<wsman:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
        "</wsman:ResourceURI><wsman:OperationTimeout>PT1S</wsman:OperationTimeout>"
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector>'
        "</wsman:SelectorSet></s:Header><s:Body><rsp:Receive>"
        f'<rsp:DesiredStream CommandId="{command_id}">stdout stderr</rsp:DesiredStream>'
        "</rsp:Receive></s:Body></s:Envelope>")
    resp = requests.post(ep.url, data=envelope.encode(), auth=(ep.username, ep.password),
                         timeout=5)
    assert resp.status_code == 500
    root = ET.fromstring(resp.content)  # noqa: S314 - our own endpoint's output
    assert root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault") is not None
    return resp.content, root
