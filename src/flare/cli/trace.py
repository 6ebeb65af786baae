"""``flare trace replay FILE``: a recorded trace (``flare serve --trace FILE``) replayed against
a model of the engine, under its own configuration and under what-ifs, side by side.

The engine and the model are imported inside the command, matplotlib only for ``--plot``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("trace")
def trace_command() -> None:
    """Replay recorded traffic (record it with `flare serve --trace FILE`)."""


@trace_command.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("more_what_ifs", nargs=-1, metavar="[KEY=VALUE[,...]]...")
@click.option(
    "--what-if",
    "what_ifs",
    multiple=True,
    metavar="KEY=VALUE[,KEY=VALUE...]",
    help="A scenario to replay besides the recorded configuration (repeatable): provisioned=N, "
    "memory=MB, snapstart=on|off, reserved=N|none, arch=x86_64|arm64, restore=MS, idle=S, "
    "concurrency=N, scaling=N.",
)
@click.option(
    "--function", "function", default=None, metavar="NAME", help="Replay this function's invocations only."
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="PNG",
    help="Write a chart of the scenarios (needs matplotlib: pip install 'flare[charts]').",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the model's draws of service times."
)
def replay_command(
    file: Path,
    more_what_ifs: tuple[str, ...],
    what_ifs: tuple[str, ...],
    function: str | None,
    as_json: bool,
    plot: Path | None,
    seed: int,
) -> None:
    """Replay FILE's arrivals under its own configuration and each what-if (given with --what-if,
    or after FILE: `replay FILE --what-if provisioned=5 memory=512` is two scenarios); print
    invocations, cold starts, p50/p99 latency, throttles and cost per scenario (docs/trace.md)."""
    from flare.errors import TraceRefused
    from flare.observe import trace_format
    from flare.whatif import report, scenario
    from flare.whatif.replay import replay

    try:
        scenarios = [scenario.parse(spec) for spec in (*what_ifs, *more_what_ifs)]
        with file.open("rb") as lines:
            trace = trace_format.read(lines)
        summaries = replay(trace, scenarios, function, seed)
    except TraceRefused as error:
        raise click.UsageError(str(error)) from None
    if plot is not None:
        try:
            report.plot(summaries, plot)
        except ImportError:
            raise click.UsageError("--plot needs matplotlib: pip install 'flare[charts]'") from None
    if as_json:
        figures = {"records": len(trace.records), "dropped": trace.dropped, "complete": trace.complete}
        scenarios_json = [summary.to_json() for summary in summaries]
        click.echo(json.dumps({"trace": figures, "scenarios": scenarios_json}, indent=2))
        return
    click.echo(report.table(summaries))
    if trace.dropped:
        click.echo(f"note: {trace.dropped} invocations past the trace's bound were not recorded")
    elif not trace.complete:
        click.echo("note: the trace has no end line (its server did not stop cleanly)")
