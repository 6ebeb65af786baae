"""Which Lambda operations this build of Flare answers, from ``flare.api.coverage``.

An operation only the catch-all route would serve is not answered yet; ``require`` skips a test
that needs one, naming it, so the test starts running by itself once the operation lands.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from pathlib import Path
from typing import Any

import pytest


@functools.cache
def answered_operations() -> frozenset[str]:
    """The operations a route of Flare's own serves (an app built on a scratch engine)."""
    return frozenset(row.operation for row in asyncio.run(_rows()) if row.answered)


async def _rows() -> list[Any]:
    from flare.api import coverage
    from flare.api.app import build_app
    from flare.config import ServerConfig
    from flare.engine import Engine

    with tempfile.TemporaryDirectory() as data:
        engine = Engine(ServerConfig(data_dir=Path(data), sandbox=False))
        try:
            return await coverage.rows(build_app(engine))
        finally:
            await engine.stop()


def require(*operations: str) -> None:
    """Skip the running test unless Flare answers every one of ``operations``."""
    missing = sorted(set(operations) - answered_operations())
    if missing:
        pytest.skip(f"Flare does not answer {', '.join(missing)} yet (flare.api.coverage)")
