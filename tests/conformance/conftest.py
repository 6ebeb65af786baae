"""Fixtures of the conformance suite: checked boto3 clients and the operations Flare answers.

Every ``lam`` call in this suite is checked against botocore's model as it arrives
(``checked_client``). Operations Flare does not answer yet (``flare.api.coverage``: only the
catch-all route would serve them) are skipped, named, so their tests start running by
themselves once the operations land.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.checked_client import Recorder, attach
from tests.conftest import FlareServer


@functools.cache
def answered_operations() -> frozenset[str]:
    """The Lambda operations this build of Flare answers (a route of its own serves them)."""
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


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def lam(flare: FlareServer, recorder: Recorder) -> Any:
    """The Lambda client of this suite: every answer it gets is checked against the model."""
    return attach(flare.client(), recorder)
