"""A trace replayed under scenarios: the figures the report shows, in order — what was recorded,
the model under the recorded configuration, then each what-if."""

from __future__ import annotations

from flare.errors import TraceRefused
from flare.observe.trace_format import Record, Trace
from flare.whatif import report
from flare.whatif.model import Model
from flare.whatif.report import Summary
from flare.whatif.scenario import AS_RECORDED, EngineConfig, FunctionConfig, Scenario
from flare.whatif.service import GroupKey, ServiceTimes, group_of

RECORDED = "recorded"


def recorded_configs(records: list[Record]) -> dict[GroupKey, FunctionConfig]:
    """Each version group's configuration, as its first record names it (a configuration that
    changed during the trace is not modelled)."""
    configs: dict[GroupKey, FunctionConfig] = {}
    for record in records:
        group = group_of(record)
        if group not in configs:
            configs[group] = FunctionConfig(
                record.memory_mb, record.architecture, record.reserved, record.provisioned, record.snapstart
            )
    return configs


def engine_config(trace: Trace) -> EngineConfig:
    header = trace.header
    return EngineConfig(
        header.idle_timeout_s, header.account_concurrency, header.scaling_rate, header.scaling_window_s
    )


def replay(
    trace: Trace, scenarios: list[Scenario], function: str | None = None, seed: int = 0
) -> list[Summary]:
    """The summaries of ``trace`` (only ``function``'s invocations, if named): recorded, the model
    as recorded, then one per scenario. Raises ``TraceRefused`` when nothing is left to replay."""
    records = [record for record in trace.records if function is None or record.function == function]
    if not records:
        raise TraceRefused(f"the trace has no invocation of {function}" if function else "the trace is empty")
    base = recorded_configs(records)
    summaries = [report.summarise(RECORDED, report.recorded(records), base)]
    service = ServiceTimes(records, seed)
    for scenario in [AS_RECORDED, *scenarios]:
        configs = {group: scenario.apply(config) for group, config in base.items()}
        model = Model(scenario.apply_engine(engine_config(trace)), configs, service, scenario.restore_ms)
        summaries.append(report.summarise(scenario.name, model.run(records), configs))
    return summaries
