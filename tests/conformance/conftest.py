"""Fixtures of the conformance suite: the checked boto3 client every test calls Flare with.

Every ``lam`` call in this suite is checked against botocore's model as it arrives
(``checked_client``); operations Flare does not answer yet are skipped (``answered``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.checked_client import Recorder, attach
from tests.conftest import FlareServer


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def lam(flare: FlareServer, recorder: Recorder) -> Any:
    """The Lambda client of this suite: every answer it gets is checked against the model."""
    return attach(flare.client(), recorder)
