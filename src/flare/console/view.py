"""What the console's server-rendered panels show, gathered from one account and region: its
functions (versions, aliases, concurrency, event sources) and its event sources' counters.
Plain data, read through the same methods the Lambda API answers from; nothing here changes
anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flare.control.model import LATEST

if TYPE_CHECKING:
    from flare.account_region import AccountRegion

SOURCE_COUNTERS = ("received", "succeeded", "failed", "retried", "dead_lettered")


@dataclass(frozen=True)
class ConsoleFunction:
    name: str
    runtime: str
    memory_mb: int
    timeout_s: int
    versions: tuple[str, ...]  # published versions, ascending
    aliases: tuple[tuple[str, str], ...]  # (alias, version it points to)
    reserved: int | None  # ReservedConcurrentExecutions
    provisioned: tuple[tuple[str, int, str], ...]  # (qualifier, requested, status)
    snap_start: bool
    sources: tuple[str, ...]  # its event source mappings: "kind name (State)"
    cost_usd: float  # since the engine started, at Lambda's prices (observe/bill.py)


@dataclass(frozen=True)
class ConsoleSource:
    kind: str  # sqs, kinesis, … or async
    source: str  # the queue or stream, or "async"
    function: str
    state: str
    counters: tuple[int, ...]  # SOURCE_COUNTERS, in order
    waiting: int | None  # async queues: events waiting
    oldest_age_s: float


@dataclass(frozen=True)
class ConsoleView:
    account: str
    region: str
    functions: tuple[ConsoleFunction, ...]
    sources: tuple[ConsoleSource, ...]
    account_limit: int
    unreserved: int
    cost_usd: float  # every function's, with provisioned concurrency up to now


def gather(region: AccountRegion) -> ConsoleView:
    """The panels' data for ``region`` now."""
    settings = region.concurrency.account_settings()["AccountLimit"]
    sources = _source_rows(region)
    costs = _costs(region)
    return ConsoleView(
        region.scope.account,
        region.scope.region,
        tuple(_function_row(region, config, sources, costs) for config in _latest_configs(region)),
        tuple(sources),
        int(settings["ConcurrentExecutions"]),
        int(settings["UnreservedConcurrentExecutions"]),
        sum(costs.values()),
    )


def _costs(region: AccountRegion) -> dict[str, float]:
    """Function name => what its work so far would cost on Lambda, in ``region``."""
    costs: dict[str, float] = {}
    for (account, where, function, _), usd in region.machine.bill.totals().items():
        if (account, where) == (region.scope.account, region.scope.region):
            costs[function] = costs.get(function, 0.0) + usd
    return costs


def _latest_configs(region: AccountRegion) -> list[dict[str, Any]]:
    configs: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = region.registry.list_functions(marker, None, None)
        configs += page["Functions"]
        marker = page.get("NextMarker")
        if marker is None:
            return configs


def _function_row(
    region: AccountRegion, config: dict[str, Any], sources: list[ConsoleSource], costs: dict[str, float]
) -> ConsoleFunction:
    name = config["FunctionName"]
    versions = region.registry.list_versions(name, None, None)["Versions"]
    aliases = region.registry.list_aliases(name, None, None, None)["Aliases"]
    provisioned = region.provisioned.list(name, None, None)["ProvisionedConcurrencyConfigs"]
    return ConsoleFunction(
        name,
        str(config.get("Runtime") or config.get("PackageType", "")),
        int(config.get("MemorySize", 128)),
        int(config.get("Timeout", 3)),
        tuple(v["Version"] for v in versions if v["Version"] != LATEST),
        tuple((a["Name"], a["FunctionVersion"]) for a in aliases),
        region.concurrency.reserved(name),
        tuple(_provisioned(item) for item in provisioned),
        config.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions",
        tuple(
            f"{row.kind} {row.source} ({row.state})"
            for row in sources
            if row.kind != "async" and row.function.split(":", 1)[0] == name
        ),
        costs.get(name, 0.0),
    )


def _provisioned(config: dict[str, Any]) -> tuple[str, int, str]:
    """(qualifier, requested, status) of a ProvisionedConcurrencyConfig."""
    qualifier = config["FunctionArn"].rsplit(":", 1)[-1]
    return qualifier, int(config["RequestedProvisionedConcurrentExecutions"]), config["Status"]


def _tail(arn: str) -> str:
    """``my-queue`` of an SQS ARN, ``my-stream`` of a Kinesis one, the name of a function's."""
    if ":function:" in arn:
        return arn.split(":function:", 1)[1]
    tail = arn.rsplit(":", 1)[-1]
    return tail.split("/", 1)[1] if tail.startswith("stream/") else tail


def _source_rows(region: AccountRegion) -> list[ConsoleSource]:
    rows = [
        ConsoleSource(
            stats["EventSourceArn"].split(":")[2],
            _tail(stats["EventSourceArn"]),
            _tail(stats["FunctionArn"]),
            stats["State"],
            tuple(int(stats.get(counter, 0)) for counter in SOURCE_COUNTERS),
            None,
            float(stats.get("oldest_age_s", 0.0)),
        )
        for stats in region.mappings.stats()
    ]
    rows += [
        ConsoleSource(
            "async",
            "async",
            name,
            "Enabled",
            tuple(int(stats.get(counter, 0)) for counter in SOURCE_COUNTERS),
            int(stats.get("waiting", 0)),
            float(stats.get("oldest_age_s", 0.0)),
        )
        for name, stats in region.async_queue.stats().items()
    ]
    return rows
