"""``flare serve``: run the engine in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

from pathlib import Path

import click

from flare.config import DEFAULT_REGION, ServerConfig


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9000, show_default=True, help="Port to listen on."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".flare"),
    show_default=True,
    help="Where functions, code and logs are kept.",
)
@click.option(
    "--idle-timeout",
    "idle_timeout_s",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop an execution environment after this long without an invocation.",
)
@click.option(
    "--init-timeout",
    "init_timeout_s",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="INIT limit for on-demand environments (Lambda's is 10 s; lower it to demo suppressed init).",
)
@click.option("--region", default=DEFAULT_REGION, show_default=True, help="Region used in ARNs.")
def serve_command(
    host: str, port: int, data_dir: Path, idle_timeout_s: float, init_timeout_s: float, region: str
) -> None:
    """Serve the Lambda API on HOST:PORT until interrupted."""
    config = ServerConfig(
        host=host,
        port=port,
        data_dir=data_dir,
        idle_timeout_s=idle_timeout_s,
        init_timeout_s=init_timeout_s,
        region=region,
    )
    from flare.server import serve

    serve(config)
