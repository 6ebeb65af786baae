"""Every operation of botocore's Lambda model and how Flare answers it: the README's table.

An operation is *answered* when a route of the app serves its method and URI, and *missing* when
only the catch-all (404 ``UnknownOperationException``) would. Some answered operations refuse,
on purpose, what Flare does not run; ``REFUSALS`` says which and why, and the table shows it.
``python -m flare.api.coverage`` prints the table; ``--write README.md`` replaces the README's
copy (between ``BEGIN`` and ``END``), which a test keeps equal to the model.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from flare.specs.models import rest_operations

BEGIN = "<!-- lambda-operations:begin (python -m flare.api.coverage --write README.md) -->"
END = "<!-- lambda-operations:end -->"
MANAGED_INSTANCES = "refuses: Lambda Managed Instances (capacity providers) are not run by Flare"
ONLY_THE_INVOCATION = "answers the running invocation of a durable execution only (its checkpoint token)"
NO_CALLBACKS = "answers the callbacks durable executions wait for; any other callback id is not found"
REFUSALS = {
    "CreateCapacityProvider": MANAGED_INSTANCES,
    "GetCapacityProvider": MANAGED_INSTANCES,
    "UpdateCapacityProvider": MANAGED_INSTANCES,
    "DeleteCapacityProvider": MANAGED_INSTANCES,
    "ListCapacityProviders": "lists none: Lambda Managed Instances are not run by Flare",
    "ListFunctionVersionsByCapacityProvider": MANAGED_INSTANCES,
    "GetFunctionScalingConfig": MANAGED_INSTANCES,
    "PutFunctionScalingConfig": MANAGED_INSTANCES,
    "CheckpointDurableExecution": ONLY_THE_INVOCATION,
    "GetDurableExecutionState": ONLY_THE_INVOCATION,
    "SendDurableExecutionCallbackFailure": NO_CALLBACKS,
    "SendDurableExecutionCallbackHeartbeat": NO_CALLBACKS,
    "SendDurableExecutionCallbackSuccess": NO_CALLBACKS,
}
_LABEL = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")


@dataclass(frozen=True)
class Row:
    operation: str
    method: str
    uri: str
    answered: bool

    @property
    def state(self) -> str:
        if not self.answered:
            return "**missing**"
        return REFUSALS.get(self.operation, "yes")


async def rows(app: web.Application) -> list[Row]:
    """One row per operation of the model, in name order, for ``app`` (frozen or not)."""
    found = []
    operations = rest_operations("lambda")
    for name in operations.names():
        http = operations[name].model.http
        uri = http["requestUri"]
        request = make_mocked_request(http["method"], _LABEL.sub("x", uri), app=app)
        match = await app.router.resolve(request)
        route = match.route if isinstance(match, web.UrlMappingMatchInfo) else None
        answered = (
            route is not None and route.resource is not None and "{tail" not in route.resource.canonical
        )
        found.append(Row(name, http["method"], uri, answered))
    return found


def markdown(table: list[Row]) -> str:
    """The table as the README shows it, between ``BEGIN`` and ``END``."""
    answered = sum(row.answered for row in table)
    lines = [
        BEGIN,
        f"{answered} of the {len(table)} operations of botocore's `lambda` model are answered.",
        "",
        "| operation | request | Flare |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{row.operation}` | `{row.method} {row.uri}` | {row.state} |" for row in table]
    return "\n".join([*lines, END])


def replaced(readme: str, table: str) -> str:
    """``readme`` with its table between the markers replaced by ``table``."""
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + table + readme[end:]


async def table() -> str:
    """The README's table for this build of Flare (an engine of its own on a temporary directory)."""
    from flare.api.app import build_app
    from flare.config import ServerConfig
    from flare.engine import Engine

    with tempfile.TemporaryDirectory() as data:
        engine = Engine(ServerConfig(data_dir=Path(data), sandbox=False))
        try:
            return markdown(await rows(build_app(engine)))
        finally:
            await engine.stop()


def main(argv: list[str]) -> int:
    text = asyncio.run(table())
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(replaced(path.read_text(), text))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
