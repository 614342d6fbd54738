"""The CLI tests' shared fixture: the library logger back to the CLI's quiet default after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _quiet_library_logging() -> Iterator[None]:
    """Each invocation keeps its own output state (render.RenderContext); only the "clusterlib"
    logger, which --debug opens up, is process-wide, so a --debug test leaves it as it found it."""
    yield
    from clusterlib_cli.render import RenderContext

    RenderContext().set_debug(False)
