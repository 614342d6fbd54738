"""The HTML report renders in a real headless browser (Debian's chromium) for a 2-node run and a
64-node, 24-hour run: no console errors, nothing drawn outside the timeline (no clipped label),
every label inside the drawing by the font-metric bound, ticks that do not collide, bars drawn.

Skips locally when /usr/bin/chromium is missing; CI (.ci/run) installs it."""

from __future__ import annotations

import datetime
import itertools
import os
import re
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import classic_ps, connect, installer

from clusterlib.upgrade import Report, RollingUpgrade
from clusterlib.upgrade import report_html as chtml

CHROMIUM = "/usr/bin/chromium"
SVG = "{http://www.w3.org/2000/svg}"
PAD = 40  # the test page's margin around the chart: ink there means something overflowed

# CI installs chromium and sets CLUSTERLIB_REQUIRE_BROWSER: there a missing browser fails.
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CLUSTERLIB_REQUIRE_BROWSER"),
    reason="Debian's chromium is not installed (CI installs it)")


# ---- the browser, and a PNG reader (no imaging library in the test dependencies) --------------

def _chromium(tmp: Path, page: Path, *extra: str, size: tuple[int, int] = (1000, 800)) \
        -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--hide-scrollbars", "--force-device-scale-factor=1",
         f"--window-size={size[0]},{size[1]}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line]


def _png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    ones = int.from_bytes(b"\x7f" * stride, "big")
    highs = int.from_bytes(b"\x80" * stride, "big")
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if ftype == 2:  # Up: bytewise sum without carries between bytes (SWAR on one big int)
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            line = (((a & ones) + (b & ones)) ^ ((a ^ b) & highs)).to_bytes(stride, "big")
        elif ftype:
            out = bytearray(line)
            for i in range(stride):
                left = out[i - channels] if i >= channels else 0
                up = prev[i]
                corner = prev[i - channels] if i >= channels else 0
                if ftype == 1:
                    out[i] = (out[i] + left) & 255
                elif ftype == 3:
                    out[i] = (out[i] + (left + up) // 2) & 255
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    out[i] = (out[i] + (left if pa <= pb and pa <= pc
                                        else up if pb <= pc else corner)) & 255
            line = bytes(out)
        rows.append(line if channels == 3 else
                    bytes(v for i, v in enumerate(line) if i % 4 < 3))
        prev = line
    return width, height, rows


_DARK = bytes(1 if v < 235 else 0 for v in range(256))


def _ink(rows: list[bytes], x0: int, y0: int, x1: int, y1: int) -> int:
    """Pixels in [x0, x1) x [y0, y1) that are not (near) white."""
    count = 0
    for y in range(max(0, y0), min(len(rows), y1)):
        part = rows[y][3 * max(0, x0):3 * x1].translate(_DARK)  # 1 where a channel is dark
        r, g, b = part[0::3], part[1::3], part[2::3]
        count += (int.from_bytes(r, "big") | int.from_bytes(g, "big")
                  | int.from_bytes(b, "big")).bit_count()
    return count


# ---- the two reports ----------------------------------------------------------------------------

def _two_node(tmp_path: Path) -> Report:
    path = tmp_path / "j.json"
    with connect(classic_ps()) as cluster:
        RollingUpgrade(cluster, action=installer(), journal=path).run()
    return Report.from_journal(path)


def _stamp(t0: datetime.datetime, seconds: float) -> str:
    return (t0 + datetime.timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


LONG_NODE = "NODE-WITH-A-VERY-LONG-NAME-FOR-THE-LABEL-COLUMN-0001"


def _day_body() -> dict[str, Any]:
    """A synthetic journal body: 64 nodes one after the other over 24 hours (22.5 min each), two
    groups per node moved at its drain, three groups with a downtime episode, one node failed."""
    t0 = datetime.datetime(2026, 3, 1, 22, 17, 5, tzinfo=datetime.timezone.utc)
    nodes = [f"NODE{i:02d}" for i in range(1, 64)] + [LONG_NODE]
    phases = (("drain", 120), ("action", 900), ("reboot", 240), ("verify", 10), ("resume", 5),
              ("failback", 75))
    steps, moves, placement, states = [], [], {}, {}
    t = 0.0
    for k, node in enumerate(nodes):
        for kind, secs in phases:
            failed = node == "NODE17" and kind == "verify"
            steps.append({"id": f"{node}:{kind}", "kind": kind, "node": node,
                          "status": "failed" if failed else "done", "attempts": 1,
                          "started": _stamp(t0, t), "finished": _stamp(t0, t + secs),
                          "seconds": float(secs), "message": "", "result": None})
            if kind == "drain":
                for j in range(2):
                    group = f"SQL Group {2 * k + j + 1}"
                    placement[group], states[group] = node, "Online"
                    moves.append({"group": group, "source": node, "target": nodes[k - 1],
                                  "state": "Online", "attempts": 1, "seconds": 30.0,
                                  "purpose": "drain", "node": node, "phase": "drain",
                                  "at": _stamp(t0, t + 30 * (j + 1))})
            t += secs
    availability = {f"SQL Group {g}": {"excess": 2400.0, "by_phase": {"NODE09 reboot": 2400.0},
                                      "episodes": [{"from": _stamp(t0, 3600.0 * h),
                                                    "to": _stamp(t0, 3600.0 * h + 2400),
                                                    "seconds": 2400.0, "phase": "NODE09 reboot",
                                                    "state": "Failed", "on": "NODE09"}]}
                    for g, h in ((3, 3), (40, 11), (101, 20))}
    before = {"highest": "8.9600", "lowest": "8.9600", "os": "10.0.9600"}
    after = {"highest": "9.3", "lowest": "8.9600", "os": "10.0.14393"}
    return {"run_id": "day", "cluster": "BIGCLUSTER", "created": _stamp(t0, -2),
            "updated": _stamp(t0, t + 3), "owner": "admin@jumphost", "clusterlib_version": "0.1.0",
            "options": {"retries_per_node": 1, "max_failed_nodes": 1},
            "action": {"kind": "command", "line": "D:\\setup.exe /unattend"},
            "nodes_before": {n: before for n in nodes},
            "nodes_after": {n: after for n in nodes}, "failed_nodes": ["NODE17"],
            "outcome": "incomplete", "message": "63 of 64 nodes upgraded", "steps": steps,
            "moves": moves, "retries": [], "warnings": [], "original_placement": placement,
            "final_placement": placement, "stopped_at": None, "functional_level": {},
            "audit": [], "original_states": states, "availability": availability,
            "validation_in_flight": None, "plan": {"order": nodes, "steps": []}}


# ---- the checks ---------------------------------------------------------------------------------

def _svg_of(document: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", document, re.S)
    assert found, "the report has a timeline"
    return ET.fromstring(found.group(0))  # noqa: S314 - our own output


def _text_boxes(svg: ET.Element) -> list[tuple[float, float, float, float, str]]:
    """Every label's box by the font-metric bound: (left, top, right, bottom, text)."""
    default = float(svg.get("font-size") or 11)
    boxes = []
    for node in svg.iter(f"{SVG}text"):
        # the label's own text (a <title> child is a tooltip, not drawn)
        text = (node.text or "") + "".join(c.tail or "" for c in node)
        size = float(node.get("font-size") or default)
        assert node.get("text-anchor") in (None, "start")
        x, y = float(node.get("x") or 0), float(node.get("y") or 0)
        boxes.append((x, y - size, x + chtml.label_width(text, size), y + 0.3 * size, text))
    return boxes


def _check_layout(svg: ET.Element, node_names: list[str]) -> None:
    _x, _y, width, height = (float(v) for v in (svg.get("viewBox") or "").split())
    boxes = _text_boxes(svg)
    for left, top, right, bottom, text in boxes:
        assert left >= 0 and top >= 0 and right <= width and bottom <= height, (text, width)
    # the label column ends before the plot starts: no label runs under a bar
    plot_left = min(float(r.get("x") or 0) for r in svg.iter(f"{SVG}rect")
                    if r.find(f"{SVG}title") is not None)
    shown = {b[4]: b for b in boxes}
    for name in node_names:
        label = name if name in shown else name[:31] + "\u2026"
        assert label in shown, name
        assert shown[label][2] <= plot_left + 0.5, name
    # tick labels (the top line) do not collide
    ticks = sorted(b for b in boxes if b[1] < 30 and b[4] not in ("UTC", "elapsed"))
    assert len(ticks) >= 3
    for a, b in itertools.pairwise(ticks):
        assert a[2] <= b[0], (a[4], b[4])
    # legend entries do not collide either
    legend_y = max(b[1] for b in boxes)
    line = sorted(b for b in boxes if b[1] == legend_y)
    for a, b in itertools.pairwise(line):
        assert a[2] <= b[0], (a[4], b[4])


def _render(tmp_path: Path, document: str, svg: ET.Element) -> None:
    """Load the report (console clean), then the timeline alone on a page where it may overflow:
    ink outside its box would be a clipped label in the report; bars and labels are drawn."""
    assert "<script" not in document.lower() and not re.search(r"\b(src|href)=|url\(", document)
    page = tmp_path / "report.html"
    page.write_text(document, encoding="utf-8")
    full = _chromium(tmp_path, page, "--dump-dom")
    assert full.returncode == 0, full.stderr[-2000:]
    assert "<svg" in full.stdout and "Time per phase" in full.stdout
    assert not _console(full.stderr), _console(full.stderr)

    _x, _y, width, height = (int(float(v)) for v in (svg.get("viewBox") or "").split())
    chart = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{{margin:0;'
             f'background:#fff}}svg{{overflow:visible;display:block;margin:{PAD}px}}</style>'
             f'</head><body>{ET.tostring(svg, encoding="unicode")}</body></html>')
    (tmp_path / "chart.html").write_text(chart.replace("ns0:", "").replace(":ns0", ""),
                                         encoding="utf-8")
    shot = tmp_path / "chart.png"
    run = _chromium(tmp_path, tmp_path / "chart.html", f"--screenshot={shot}",
                    size=(width + 2 * PAD, height + 2 * PAD))
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    w, h, rows = _png(shot)
    assert (w, h) == (width + 2 * PAD, height + 2 * PAD)
    inside = _ink(rows, PAD, PAD, PAD + width, PAD + height)
    outside = _ink(rows, 0, 0, w, h) - inside
    assert outside == 0, f"{outside} pixels drawn outside the timeline"
    assert inside > 0.02 * width * height, "the chart is (nearly) blank"
    # every node row has ink in the plot area (its bars) and in the label column (its name)
    plot_left = int(min(float(r.get("x") or 0) for r in svg.iter(f"{SVG}rect")
                        if r.find(f"{SVG}title") is not None))
    for node in svg.iter(f"{SVG}text"):
        if node.get("x") == "4" and float(node.get("y") or 0) > 30:
            y = int(float(node.get("y") or 0)) + PAD
            assert _ink(rows, PAD, y - 10, PAD + plot_left - 2, y + 3) > 10, node.text
            break


@needs_chromium
def test_console_errors_are_seen(tmp_path: Path) -> None:
    """The console check can fail: a page that logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom')</script></body></html>")
    run = _chromium(tmp_path, page, "--dump-dom")
    assert any("boom" in line for line in _console(run.stderr))


def test_two_node_report_layout(tmp_path: Path) -> None:
    report = _two_node(tmp_path)
    svg = _svg_of(chtml.report_document(report))
    _check_layout(svg, list(report.nodes))


def test_day_report_layout_and_ticks() -> None:
    report = Report.from_body(_day_body(), None)
    document = chtml.report_document(report)
    svg = _svg_of(document)
    _check_layout(svg, list(report.nodes))
    texts = [b[4] for b in _text_boxes(svg)]
    # wall-clock ticks across midnight name the day; the 3 groups' downtime rows are drawn
    assert any(re.fullmatch(r"\d\d [A-Z][a-z]{2} \d\d:\d\d", t) for t in texts), texts[:12]
    assert {"SQL Group 3", "SQL Group 40", "SQL Group 101"} <= set(texts)
    assert "groups not Online" in texts
    assert any(t.startswith("action 16 h") for t in texts), "per-phase total in the legend"
    assert report.node_result("NODE17") == "failed"
    assert "Time per phase" in document and "Started" in document


@needs_chromium
def test_two_node_report_renders_in_chromium(tmp_path: Path) -> None:
    report = _two_node(tmp_path)
    document = chtml.report_document(report)
    _render(tmp_path, document, _svg_of(document))


@needs_chromium
def test_day_report_renders_in_chromium(tmp_path: Path) -> None:
    document = chtml.report_document(Report.from_body(_day_body(), None))
    _render(tmp_path, document, _svg_of(document))
