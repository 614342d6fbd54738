"""``--notify``: webhook posts arrive as JSON with a ``text`` field, and a dead webhook never blocks."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import clusterlib_cli.notify as notify

Received = list[dict[str, Any]]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: Received

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """A webhook on 127.0.0.1 that records every JSON body it is sent."""
    handler = type("Handler", (_Receiver,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler.received
    finally:
        server.shutdown()
        server.server_close()


class _Event:
    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_events_and_summary_are_posted(receiver: tuple[str, Received]) -> None:
    url, received = receiver
    with notify.Notifier(url) as n:
        n.on_upgrade_event(_Event(type="PhaseStarted", node="NODE1", phase="drain",
                                  text="[NODE1 drain] draining"))
        n.send("upgrade completed", {"outcome": "completed"})
    assert [r["text"] for r in received] == ["[NODE1 drain] draining", "upgrade completed"]
    assert received[0]["clusterlib"]["node"] == "NODE1"
    assert n.summary() is None


def test_dead_webhook_never_blocks_and_is_reported() -> None:
    n = notify.Notifier(f"http://127.0.0.1:{dead_port()}/hook", timeout=0.5, flush_timeout=2)
    started = time.monotonic()
    for i in range(50):
        n.send(f"event {i}")
    assert time.monotonic() - started < 0.1  # send() only queues
    n.close()
    assert time.monotonic() - started < 3
    summary = n.summary()
    assert summary is not None and "failed" in summary


def test_a_full_queue_drops_instead_of_blocking() -> None:
    # A port that accepts but never answers: each post hangs until its timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        n = notify.Notifier(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.3,
                            max_queue=3, flush_timeout=0.5)
        started = time.monotonic()
        for i in range(20):
            n.send(f"event {i}")
        assert time.monotonic() - started < 0.1
        assert n.dropped >= 15
        n.close()
        assert time.monotonic() - started < 2
    finally:
        silent.close()


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        notify.Notifier("file:///etc/passwd")


def test_notify_on_filters_events(receiver: tuple[str, Received]) -> None:
    url, received = receiver
    with notify.Notifier(url, categories=notify.parse_categories("start,warn")) as n:
        n.on_upgrade_event(_Event(type="RunStarted", text="starting"))
        n.on_upgrade_event(_Event(type="PhaseStarted", node="NODE1", phase="drain",
                                  text="[NODE1 drain] draining"))
        n.on_upgrade_event(_Event(type="Warning", text="careful"))
        n.on_upgrade_event(_Event(type="RunFinished", text="done"))  # the summary says more
    assert [r["text"] for r in received] == ["starting", "careful"]
    assert not n.wants_summary(completed=True) and not n.wants_summary(completed=False)
    assert notify.parse_categories("stop").isdisjoint({"finish"})
    with pytest.raises(ValueError, match=r"'nodez'.*valid: start"):
        notify.parse_categories("start,nodez")


def test_a_run_posts_a_final_summary_with_placement_downtime_and_report(
        receiver: tuple[str, Received], tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from clusterlib_cli.main import app

    url, received = receiver
    html = tmp_path / "r.html"
    result = CliRunner().invoke(app, [
        "upgrade", "run", "--sim", "classic-2012r2", "--yes", "--journal", str(tmp_path / "j.json"),
        "--html", str(html), "--notify", url, "--notify-on", "start,finish"],
        env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": ""})
    assert result.exit_code == 0, result.output
    kinds = [r["clusterlib"].get("type") for r in received]
    assert kinds[0] == "RunStarted" and "PhaseStarted" not in kinds
    final = received[-1]
    assert final["text"].startswith("SIMULATED; clusterlib: upgrade of CLUSTER1: COMPLETED")
    fields = final["clusterlib"]
    assert fields["outcome"] == "completed" and fields["simulated"] is True
    assert fields["report_html"] == str(html.absolute()) and fields["misplaced"] == {}
    assert set(fields["downtime_seconds"]) >= {"Cluster Group", "SQL Group 1"}
    bad = CliRunner().invoke(app, ["upgrade", "run", "--sim", "classic-2012r2", "--yes",
                                   "--notify", url, "--notify-on", "everything"],
                             env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": ""})
    assert bad.exit_code == 2 and "'everything'" in bad.output


def test_a_throttled_or_failing_post_is_tried_again_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """429 and 5xx are tried again (chat services throttle); a 4xx is final; nothing blocks."""
    monkeypatch.setattr(notify, "RETRY_PAUSE", 0.01)
    answers = [503, 429, 200, 404]
    received: Received = []

    class Flaky(_Receiver):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = answers.pop(0)
            if code == 200:
                received.append(json.loads(body))
            self.send_response(code)
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        with notify.Notifier(url, timeout=2) as n:
            n.send("first")    # 503, 429, then delivered on the third try
            n.send("second")   # 404: final, not tried again
        assert [m["text"] for m in received] == ["first"]
        assert (n.sent, n.failed) == (1, 1) and answers == []
        assert "404" in (n.summary() or "")
    finally:
        server.shutdown()
        server.server_close()
