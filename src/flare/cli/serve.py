"""``flare serve``: run the engine in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

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
@click.option(
    "--region",
    default=DEFAULT_REGION,
    show_default=True,
    help="Region of requests that name none (unsigned ones); a signed request acts in its signature's.",
)
@click.option(
    "--account-concurrency",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    metavar="N",
    help="Concurrent executions each account may run in each region (Lambda's default quota is 1000).",
)
@click.option(
    "--min-unreserved",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    metavar="M",
    help="Concurrency that reservations must leave to functions without one.",
)
@click.option(
    "--scaling-rate",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    metavar="N",
    help="New execution environments each function may start per 10 seconds.",
)
@click.option(
    "--no-sandbox",
    "sandbox",
    flag_value=False,
    default=True,
    help="Run environments without namespaces and cgroups (process-level isolation only).",
)
@click.option(
    "--async-retry-base-delay",
    "async_retry_base_delay_s",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Delay before an async event's first retry after a function error (the second waits twice it).",
)
@click.option(
    "--network",
    type=click.Choice(["default", "isolated"]),
    default="default",
    show_default=True,
    help="default: functions reach the network as on Lambda; isolated: their own loopback and "
    "Flare's endpoint only (a function's flare:network tag overrides it).",
)
@click.option(
    "--sqs-endpoint",
    "sqs_endpoint",
    default=None,
    metavar="URL",
    help="SQS endpoint (e.g. https://sqs.us-east-1.amazonaws.com or a moto server) that event source "
    "mappings read through boto3 when their queue ARN is not one of Flare's own queues.",
)
@click.option(
    "--kinesis-endpoint",
    "kinesis_endpoint",
    default=None,
    metavar="URL",
    help="Kinesis endpoint (e.g. https://kinesis.us-east-1.amazonaws.com or a moto server) that event "
    "source mappings read through boto3 when their stream ARN is not one of Flare's own streams.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web page's origin (https://app.example:3000, or *) allowed to call the APIs from a "
    "browser; every other page's requests are refused. Repeatable.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A Host name this server answers to besides IP addresses and localhost (requests naming "
    "any other are refused: DNS rebinding). Repeatable.",
)
@click.option(
    "--log-retention",
    "log_retention_days",
    type=click.IntRange(min=1),
    default=None,
    metavar="DAYS",
    help="Delete log events older than DAYS in log groups without a retention policy "
    "(PutRetentionPolicy's wins). Default: keep them.",
)
@click.option(
    "--log-group-max-mb",
    "log_group_max_mb",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="What one log group may hold on disk: past it, its streams written to longest ago are "
    "deleted (checked every minute).",
)
@click.option(
    "--auth",
    type=click.Choice(["open", "sigv4"]),
    default="open",
    show_default=True,
    help="open: any well-formed SigV4 signature is accepted and its access key picks the account "
    "(local development, loopback only); sigv4: signatures are verified against the data dir's "
    "keys (`flare keys`). Unsigned requests are refused in both.",
)
@click.option(
    "--hot-reload-root",
    "hot_reload_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, resolve_path=True),
    metavar="DIR",
    help="A host directory under which functions' code may be bound for hot reload (Code "
    "S3Bucket hot-reload, S3Key /abs/path). Repeatable. Default: anywhere under --auth open, "
    "nowhere under --auth sigv4.",
)
@click.option(
    "--test-clock",
    is_flag=True,
    default=False,
    help="For tests: the engine's clock can be moved ahead (POST /flare/v1/clock "
    '{"AdvanceSeconds": N}), so days of waits, backoffs and schedules pass in seconds.',
)
@click.option(
    "--trace",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Record every invocation (arrival, function, configuration, cold/warm, durations, "
    "outcome) to FILE as JSON lines, for `flare trace replay` (docs/trace.md). Off by default.",
)
@click.option(
    "--trace-max-mb",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="The trace file's bound: past it, invocations are no longer recorded (only counted).",
)
@click.option(
    "--cluster",
    "cluster_url",
    default=None,
    metavar="URL",
    help="Join the nodes that share the Redis at URL (redis://host:6379/0, rediss://, unix://) as one "
    "account: functions, concurrency and queues are shared. Default: this node alone, on SQLite.",
)
@click.option(
    "--node-name",
    default=None,
    metavar="NAME",
    help="This node's name in the cluster (default: the host's name). Only with --cluster.",
)
@click.option(
    "--cluster-ttl",
    "cluster_ttl_s",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="With --cluster: how long what a node holds outlives it. A node that stops heartbeating is "
    "dropped after this long, the concurrency its invocations held is freed, and the async events and "
    "stream shards it held are taken over by another node (Redis's clock; renewed three times as often).",
)
@click.option(
    "--advertise-url",
    default=None,
    metavar="URL",
    help="With --cluster: the URL other nodes forward invokes to (default: http://HOST:PORT; set it "
    "when HOST is 0.0.0.0, e.g. to the pod's address on Kubernetes).",
)
@click.option(
    "--cluster-blob-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="A directory every node mounts where code zips are shared (default: in the cluster's Redis). "
    "Only with --cluster.",
)
@click.option(
    "--cluster-poll",
    "cluster_poll_s",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="How often a node looks in Redis for async events it may take (accepted by another node, "
    "or held by one that died). Only with --cluster.",
)
def serve_command(**options: Any) -> None:
    """Serve the Lambda API on HOST:PORT until interrupted."""
    if options["auth"] == "open" and not loopback(options["host"]):
        raise click.UsageError(
            f"--host {options['host']} would let other machines call Flare, and --auth open accepts "
            "any signature: add --auth sigv4 (keys: `flare keys`), or listen on 127.0.0.1"
        )
    options["cors_origins"] = tuple(options["cors_origins"])
    options["allowed_hosts"] = tuple(options["allowed_hosts"])
    options["hot_reload_roots"] = tuple(options["hot_reload_roots"])
    minimum, account = options["min_unreserved"], options["account_concurrency"]
    if minimum > account:
        raise click.BadParameter(
            f"{minimum} is more than --account-concurrency {account}",
            param_hint="--min-unreserved",
        )
    if options["trace"] is not None:
        check_trace_path(options["trace"])
    advertised = options["advertise_url"]
    if advertised is not None and not re.match(r"^https?://[^/\s]+$", advertised):
        raise click.BadParameter(f"{advertised!r} is not http://host:port", param_hint="--advertise-url")
    if options["cluster_url"] is not None:
        options["node_name"] = check_cluster(options["cluster_url"], options["node_name"])
    elif options["node_name"] is not None:
        raise click.UsageError("--node-name names this node in a cluster: give --cluster too")
    elif options["advertise_url"] is not None:
        raise click.UsageError("--advertise-url is where other nodes of a cluster call: give --cluster too")
    elif options["cluster_blob_dir"] is not None:
        raise click.UsageError("--cluster-blob-dir is where a cluster's nodes share code: give --cluster too")
    config = ServerConfig(**options)
    from flare.sandbox.open_files import raise_for_engine
    from flare.server import serve

    raise_for_engine()  # a few descriptors per live environment (sandbox/open_files.py)
    serve(config)


def check_cluster(url: str, node_name: str | None) -> str:
    """This node's name, once ``url`` is a Redis URL that answers and the name is valid; a usage
    error otherwise (before the engine starts anything)."""
    from flare.cluster.address import check_node_name, parse_url, reach

    try:
        parse_url(url)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from None
    try:
        name = check_node_name(node_name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--node-name") from None
    refused = reach(url)
    if refused is not None:
        raise click.UsageError(refused)
    return name


def check_trace_path(path: Path) -> None:
    """Raise a usage error unless a trace can be written at ``path`` (the engine opens it once
    it starts, too late to answer with one)."""
    directory = path.parent
    if not directory.is_dir() or not os.access(directory, os.W_OK):
        raise click.BadParameter(
            f"cannot write {path}: {directory} is not a writable directory", param_hint="--trace"
        )


def loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
