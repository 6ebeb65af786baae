"""Server settings: what ``flare serve`` was started with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    data_dir: Path = Path(".flare")
    idle_timeout_s: float = 600.0
    init_timeout_s: float = 10.0
    shutdown_grace_s: float = 2.0
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    account_concurrency: int = 1000
    min_unreserved: int = 100
    scaling_rate: int = 1000
    sandbox: bool = True
    network: str = "default"
    async_retry_base_delay_s: float = 60.0
    cors_origins: tuple[str, ...] = ()  # web pages' origins allowed to call the APIs
    allowed_hosts: tuple[str, ...] = ()  # Host names besides IP addresses and localhost
    sqs_endpoint: str | None = None
    kinesis_endpoint: str | None = None
    log_retention_days: int | None = None  # groups without a retention policy (None: kept)
    log_group_max_mb: int = 1024  # what one log group may hold; its oldest streams go first
    auth: str = "open"  # "open" or "sigv4" (flare.auth.authenticator.AuthMode)
    hot_reload_roots: tuple[str, ...] = ()  # where hot reload may bind (control/hot_reload.py)
    test_clock: bool = False  # a clock tests move ahead: POST /flare/v1/clock (api/clock_control.py)
    trace: Path | None = None  # where every invocation is recorded (observe/trace_record.py)
    trace_max_mb: int = 256  # the trace file's bound: past it, invocations are only counted
    cluster_url: str | None = None  # Redis that nodes of one cluster share (flare/cluster/); None: one node
    node_name: str | None = None  # this node's name in the cluster (default: the host's name)
    advertise_url: str | None = None  # where the other nodes call this one (None: endpoint_url)
    cluster_ttl_s: float = 10.0  # a node's heartbeat, leases, events and shards outlive it by this
    cluster_blob_dir: Path | None = None  # where the cluster's code zips are shared; None: in Redis
    cluster_poll_s: float = 1.0  # how often a node looks in Redis for events it may take (injected clock)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"
