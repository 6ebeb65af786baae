"""The README's table of Lambda operations is the one the model and the app give."""

from __future__ import annotations

import asyncio

from flare.api import coverage
from tests.conftest import ROOT


def test_the_readme_lists_every_operation_of_the_model_as_flare_answers_it() -> None:
    table = asyncio.run(coverage.table())
    readme = (ROOT / "README.md").read_text()
    assert coverage.replaced(readme, table) == readme, "run: python -m flare.api.coverage --write README.md"
