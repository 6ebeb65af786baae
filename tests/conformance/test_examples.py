"""AWS's documented Lambda examples, run against Flare and compared field by field.

Each example of botocore's ``examples-1.json`` is run as ``example_table.CASES`` says: its
setup in an emptied account, its input with the table's substitutions, and Flare's answer
compared with the documented output (``example_compare``): the same members, values of the
same types, equal values except where AWS generates them or the table decides otherwise. Every
call, setup included, is also checked against the model by the suite's client.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore import xform_name
from botocore.loaders import Loader
from botocore.response import StreamingBody

from flare.specs.models import service_model
from tests.conformance.account import Account
from tests.conformance.answered import answered_operations, require
from tests.conformance.example_compare import differences
from tests.conformance.example_table import ADDED_SINCE, CASES, EVERY_EXAMPLE, markdown
from tests.conformance.substitution import apply
from tests.conftest import FlareServer

EXAMPLES: dict[str, list[dict[str, Any]]] = Loader().load_service_model("lambda", "examples-1")["examples"]
KEYS = [
    f"{operation}[{index}]" for operation in sorted(EXAMPLES) for index in range(len(EXAMPLES[operation]))
]


def marks(key: str) -> list[pytest.MarkDecorator]:
    bug = CASES[key].bug if key in CASES else None
    return [pytest.mark.xfail(strict=True, reason=bug)] if bug else []


def test_the_table_has_a_row_for_every_example_botocore_ships() -> None:
    assert sorted(set(KEYS) - set(CASES)) == [], "examples without a row in example_table.CASES"
    assert sorted(set(CASES) - set(KEYS)) == [], "rows of example_table.CASES without an example"


def test_the_table_reads_as_markdown_with_a_row_per_example() -> None:
    rows = markdown().splitlines()
    assert len(rows) == 3 + len(KEYS)
    assert all(row.startswith("| ") and row.endswith(" |") for row in rows)


@pytest.fixture(scope="module")
def account(flare: FlareServer, lam: Any) -> Account:
    return Account(lam, flare.client("sqs"), answered_operations())


@pytest.mark.parametrize("key", [pytest.param(key, marks=marks(key), id=key) for key in KEYS])
def test_flare_answers_the_example_as_aws_documents_it(key: str, account: Account, lam: Any) -> None:
    operation, index = key.rstrip("]").split("[")
    case = CASES[key]
    require(operation, *case.needs)
    account.clear()
    made = case.setup(account)
    example = apply((*EVERY_EXAMPLE, *case.substitutions), EXAMPLES[operation][int(index)], made)
    answer = getattr(lam, xform_name(operation))(**example["input"])
    answer.pop("ResponseMetadata")
    for name, value in answer.items():
        if isinstance(value, StreamingBody):
            answer[name] = value.read()
    shape = service_model("lambda").operation_model(operation).output_shape
    found, used = differences(shape, example["output"] or {}, answer, case.allowed, ADDED_SINCE)
    assert found == [], f"{key}: Flare's answer differs from AWS's example:\n  " + "\n  ".join(found)
    stale = [f"{entry.path} ({entry.kind})" for entry in case.allowed if entry not in used]
    assert stale == [], f"{key}: allowed differences that no longer occur: {stale}"
