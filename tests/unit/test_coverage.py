"""The README's table of Lambda operations is the one the model and the app give."""

from __future__ import annotations

import asyncio
import re

from flare.api import coverage
from tests.conftest import ROOT


def test_the_readme_lists_every_operation_of_the_model_as_flare_answers_it() -> None:
    table = asyncio.run(coverage.table())
    readme = (ROOT / "README.md").read_text()
    assert coverage.replaced(readme, table) == readme, "run: python -m flare.api.coverage --write README.md"


def test_no_operation_of_the_model_is_left_to_the_catch_all() -> None:
    table = asyncio.run(coverage.table())
    counts = re.search(r"(\d+) of the (\d+) operations", table)
    assert counts is not None
    answered, total = counts.groups()
    assert "**missing**" not in table
    assert answered == total
