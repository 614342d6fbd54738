"""The depth scanner's shortcut (no expat while a document cannot be too deep) gives expat's verdicts."""

from __future__ import annotations

import random

import pytest

from clusterlib.transports.bounded import DepthScanner


def _verdicts(chunks: list[bytes], depth: int, *, shortcut: bool) -> list[str | None]:
    scanner = DepthScanner(depth)
    if not shortcut:
        scanner._held = None  # expat from the first byte
    return [scanner.feed(c, final=i == len(chunks) - 1) for i, c in enumerate(chunks)]


@pytest.mark.parametrize(("chunks", "depth", "refused"), [
    ([b"<a><b><c/></b>", b"</a>"], 3, None),
    ([b"<a><b><c><d>"], 3, "max_depth=3"),
    ([b"<a>", b"<b>", b"<c>", b"<d></d></c></b></a>"], 3, "max_depth=3"),
    ([b'<!DOCTYPE a [<!ENTITY x "y">]><a/>'], 9, "DOCTYPE"),
    ([b"<", b'!DOCTYPE a [<!ENTITY x "y">]><a/>'], 9, "DOCTYPE"),  # split between chunks
    ([b"<S>" + b"x" * 100_000 + b"</S>"], 2, None),
    ([b"<a>" * 50 + b"</a>" * 50], 40, "max_depth=40"),  # over the count: expat decides
    ([b"<a/>" * 200], 3, None),  # many elements, none deep
])
def test_the_shortcut_keeps_expats_verdicts(chunks: list[bytes], depth: int,
                                            refused: str | None) -> None:
    fast = _verdicts(chunks, depth, shortcut=True)
    assert fast == _verdicts(chunks, depth, shortcut=False)
    last = next((v for v in fast if v is not None), None)
    assert (last is None) if refused is None else (refused in (last or ""))


def test_the_shortcut_keeps_expats_verdicts_on_random_documents() -> None:
    rng = random.Random(14)
    pieces = [b"<a>", b"</a>", b"<b/>", b"text", b"<!-- c -->", b"<", b"!", b"&lt;",
              b"<!DOCTYPE x>", b"]]>", b"\xc3\xa9"]
    for _ in range(3000):
        doc = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        cuts = sorted(rng.sample(range(len(doc) + 1), min(len(doc) + 1, rng.randint(1, 4))))
        chunks = [doc[a:b] for a, b in zip([0, *cuts], [*cuts, len(doc)], strict=True)]
        depth = rng.randint(1, 8)
        fast = _verdicts(chunks, depth, shortcut=True)
        slow = _verdicts(chunks, depth, shortcut=False)
        # The same refusal, at the same chunk or (the shortcut holds bytes back) a later one.
        assert next((v for v in fast if v), None) == next((v for v in slow if v), None), doc
