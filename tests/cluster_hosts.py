"""Hosts for the tests of a cluster: Redis and N ``flare serve`` nodes, each in a network
namespace of its own, on a bridge that exists only inside the test's namespaces.

Layout (every name below is made by ``ClusterHosts.start`` and deleted by ``close``)::

    <p>-br      a namespace holding the bridge br0 and one end of every veth pair
    <p>-redis   redis-server on 10.77.<net>.1:6379
    <p>-n0..    node i: ``flare serve --host 10.77.<net>.(10+i) --port 9000 --auth sigv4``
    <p>-cli     the tests' own host, 10.77.<net>.250: boto3 clients and Redis clients run here

Nothing is added to the host's namespace: the veth pairs are made inside ``<p>-br`` with their
other end moved straight into the host namespace they belong to, and the addresses exist only
there. A node is started with ``nsenter --net=`` (only its network namespace changes: ``ip
netns exec`` would also remount /sys, hiding the cgroup hierarchies the sandbox needs).

A test talks to a node from ``<p>-cli``: ``hosts.client(i)`` is a boto3 client whose every call
runs on a thread that entered that namespace (``setns(CLONE_NEWNET)`` through ctypes: Python
3.11 has no ``os.setns``), so every socket it opens lives there. ``hosts.run(fn)`` runs any
callable there (a Redis client, a raw HTTP request); ``hosts.run_many`` runs several at once.

The nodes listen on non-loopback addresses, so they run ``--auth sigv4``: the harness writes one
access key into every node's data dir (``AccessKeyStore.add``) before it starts, so a client's
signature is good on any node. Every process is ended by pid (its descendants too: a SIGKILLed
node leaves its zygote and environments behind), and every namespace deleted, also when a test
fails (the ``cluster`` fixture's ``finally``).

Requires root and ``ip`` (iproute2) and ``nsenter`` (util-linux): ``available()`` says why not.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from tests.conftest import FLARE, children_of
from tests.redis_server import REDIS_SERVER, RedisServer
from tests.signing import signed_headers

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NODE_PORT = 9000
REDIS_PORT = 6379
CLIENT_HOST = 250
KEY_ID = "AKIACLUSTERHOSTSTEST0"
SECRET = "cluster-hosts-test-secret-0000000000000"
_LIBC = ctypes.CDLL(None, use_errno=True)
_NETS = itertools.count(1)


def available() -> str | None:
    """None when this machine can run the hosts; else why not (for ``pytest.skip``)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2 / util-linux)"
    if not Path(REDIS_SERVER).exists():
        return "redis-server is not installed (make install, as root)"
    return None


def ip(*args: str) -> None:
    """Run ``ip args``; raise with its message when it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def enter_netns(name: str) -> None:
    """Move the calling thread (only it) into the network namespace ``/run/netns/<name>``."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _LIBC.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {name}: {os.strerror(errno)}")
    finally:
        os.close(fd)


class NetnsThreads:
    """A thread pool whose threads live in one network namespace."""

    def __init__(self, netns: str, workers: int = 32) -> None:
        self.netns = netns
        self._pool = concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix=f"netns-{netns}", initializer=enter_netns, initargs=(netns,)
        )

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._pool.submit(fn, *args, **kwargs).result()

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class InNetns:
    """A client object whose every method call runs on ``threads`` (so in their namespace)."""

    def __init__(self, target: Any, threads: NetnsThreads) -> None:
        self._target = target
        self._threads = threads

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._threads.run(attribute, *args, **kwargs)

        return call


@dataclass
class Node:
    """One ``flare serve`` in namespace ``netns`` on ``address``:``NODE_PORT``."""

    name: str
    netns: str
    address: str
    data_dir: Path
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    descendants: set[int] = field(default_factory=set, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{NODE_PORT}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def note_descendants(self) -> None:
        """Remember the node's zygotes and environments, to end them if the node is killed."""
        if self.alive():
            self.descendants.update(children_of(self.pid))


@dataclass
class ClusterHosts:
    """Redis and ``nodes`` in network namespaces; see the module docstring."""

    prefix: str
    net: int
    root: Path
    redis: RedisServer
    nodes: list[Node]
    threads: NetnsThreads
    _namespaces: list[str]

    @property
    def subnet(self) -> str:
        return f"10.77.{self.net}"

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @classmethod
    @contextmanager
    def start(
        cls,
        root: Path,
        nodes: int = 3,
        node_args: Sequence[str] = (),
        appendonly: bool = False,
    ) -> Iterator[ClusterHosts]:
        """The hosts, up (every node answering), for the block's duration; torn down after it,
        whatever happened in it (and if they fail to come up). ``appendonly``: Redis keeps an
        AOF (``appendfsync always``), so a restart loses nothing it acknowledged."""
        net = (os.getpid() + next(_NETS)) % 250 + 1
        prefix = f"flt{os.getpid() % 100000}x{net}"
        namespaces: list[str] = []
        threads: NetnsThreads | None = None
        hosts: ClusterHosts | None = None
        try:
            bridge = f"{prefix}-br"
            cls._add_netns(namespaces, bridge)
            ip("-n", bridge, "link", "add", "br0", "type", "bridge")
            ip("-n", bridge, "link", "set", "br0", "up")
            subnet = f"10.77.{net}"
            redis_ns = f"{prefix}-redis"
            cls._add_host(namespaces, bridge, redis_ns, "vredis", f"{subnet}.1")
            client_ns = f"{prefix}-cli"
            cls._add_host(namespaces, bridge, client_ns, "vcli", f"{subnet}.{CLIENT_HOST}")
            threads = NetnsThreads(client_ns)
            redis = RedisServer(root / "redis", REDIS_PORT, f"{subnet}.1", appendonly)
            redis.directory.mkdir(parents=True, exist_ok=True)
            hosts = cls(prefix, net, root, redis, [], threads, namespaces)
            redis.run(prefix=["nsenter", f"--net=/run/netns/{redis_ns}"], probe=threads.run)
            for _ in range(nodes):
                hosts.add_node(node_args)
            for node in hosts.nodes:
                hosts.wait_ready(node)
            hosts.wait_converged()
            yield hosts
        finally:
            if hosts is not None:
                hosts.close()
            elif threads is not None:
                threads.close()
            for name in reversed(namespaces):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)

    @staticmethod
    def _add_netns(namespaces: list[str], name: str) -> None:
        ip("netns", "add", name)
        namespaces.append(name)

    @classmethod
    def _add_host(cls, namespaces: list[str], bridge: str, netns: str, port: str, address: str) -> None:
        """Namespace ``netns`` with ``eth0`` at ``address``/24, its peer ``port`` on the bridge."""
        cls._add_netns(namespaces, netns)
        ip("-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns)
        ip("-n", bridge, "link", "set", port, "master", "br0", "up")
        ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")
        ip("-n", netns, "link", "set", "lo", "up")

    def add_node(self, node_args: Sequence[str] = ()) -> Node:
        """Start one more node (not waited for: ``wait_ready``)."""
        index = len(self.nodes)
        name = f"node-{index}"
        netns = f"{self.prefix}-n{index}"
        address = f"{self.subnet}.{10 + index}"
        self._add_host(self._namespaces, f"{self.prefix}-br", netns, f"vn{index}", address)
        data_dir = self.root / name
        write_key(data_dir)
        args = [
            "nsenter",
            f"--net=/run/netns/{netns}",
            str(FLARE),
            "serve",
            "--host",
            address,
            "--port",
            str(NODE_PORT),
            "--auth",
            "sigv4",
            "--data-dir",
            str(data_dir),
            "--cluster",
            self.redis_url,
            "--node-name",
            name,
            *node_args,
        ]
        node = Node(name, netns, address, data_dir, args, self.root / f"{name}.log")
        self.nodes.append(node)
        self.launch(node)
        return node

    def launch(self, node: Node) -> None:
        """(Re)start ``node``'s process (``nsenter`` execs flare: the pid is flare's)."""
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(args=node.args, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, node: Node, timeout: float = 20) -> None:
        """Until ``node`` answers HTTP from the clients' namespace."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.alive():
                raise RuntimeError(f"{node.name} exited:\n{node.output()}")
            if self.run(answers, node.address, NODE_PORT):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{node.name} did not answer within {timeout} s:\n{node.output()}")

    def status(self, node: int | Node) -> dict[str, Any]:
        """``GET /flare/v1/cluster`` of ``node`` (what ``flare cluster status`` shows)."""
        target = self.nodes[node] if isinstance(node, int) else node
        answer: dict[str, Any] = json.loads(self.run(signed_get, target.url + "/flare/v1/cluster"))
        return answer

    def wait_converged(self, timeout: float = 20) -> None:
        """Until every live node routes among every live node (each learns the others at its
        next beat, a third of ``--cluster-ttl`` at most)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [node for node in self.nodes if node.alive()]
            names = sorted(node.name for node in live)
            if all(sorted(self.status(node)["Sees"]) == names for node in live):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the nodes did not see each other within {timeout} s")

    def client(self, node: int | Node, service: str = "lambda", read_timeout: int = 60) -> Any:
        """A boto3 client of ``service`` talking to ``node``, from the clients' namespace."""
        target = self.nodes[node] if isinstance(node, int) else node
        made = self.run(
            boto3.client,
            service,
            endpoint_url=target.url,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(
                retries={"total_max_attempts": 1}, read_timeout=read_timeout, max_pool_connections=32
            ),
        )
        return InNetns(made, self.threads)

    def redis_client(self) -> Any:
        """A redis-py client of the cluster's Redis, from the clients' namespace."""
        import redis

        return InNetns(redis.Redis.from_url(self.redis_url), self.threads)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on a thread in the clients' namespace."""
        return self.threads.run(fn, *args, **kwargs)

    def run_many(self, calls: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        """Every call at once, on threads in the clients' namespace: its result or its error."""
        futures = [self.threads.submit(call) for call in calls]
        results: list[T | BaseException] = []
        for future in futures:
            error = future.exception()
            results.append(error if error is not None else future.result())
        return results

    def kill(self, node: Node) -> None:
        """SIGKILL ``node`` (as a host dying would), then end what it leaves behind."""
        node.note_descendants()
        if node.alive():
            assert node.process is not None
            node.process.kill()
            node.process.wait(10)
        self._end_descendants(node)

    def stop(self, node: Node, timeout: float = 15) -> None:
        """SIGTERM ``node`` (it stops its environments), SIGKILL if it does not exit in time."""
        node.note_descendants()
        if node.alive():
            assert node.process is not None
            node.process.send_signal(signal.SIGTERM)
            try:
                node.process.wait(timeout)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(10)
        self._end_descendants(node)

    @staticmethod
    def _end_descendants(node: Node) -> None:
        for pid in node.descendants:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node.descendants.clear()

    def close(self) -> None:
        """End every node and Redis (by pid) and the clients' threads."""
        for node in self.nodes:
            self.stop(node)
        self.redis.stop()
        self.threads.close()


def write_key(data_dir: Path) -> None:
    """Put the harness's access key into ``data_dir``'s key store (made when missing)."""
    from flare.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
    from flare.scope import Scope
    from flare.store.access_keys import AccessKey, AccessKeyStore
    from flare.store.database import Database

    data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(data_dir / "flare.db", Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION))
    try:
        store = AccessKeyStore(database)
        if store.find(KEY_ID) is None:
            store.add(AccessKey(KEY_ID, SECRET, DEFAULT_ACCOUNT_ID, time.time(), admin=True))
    finally:
        database.close()


def signed_get(url: str) -> bytes:
    """A GET of ``url`` signed with the harness's key; the body (raises on a status >= 400)."""
    request = urllib.request.Request(url)
    for name, value in signed_headers("GET", url, key=KEY_ID, secret=SECRET).items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the bridge only
    with opener.open(request, timeout=10) as response:
        return bytes(response.read())


def answers(host: str, port: int) -> bool:
    """Whether a Flare answers HTTP on host:port (its unsigned-request refusal carries
    ``x-amzn-RequestId``; some networks' gateways answer any address with a bare 404)."""
    connection = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        connection.request("GET", "/2015-03-31/functions/")
        response = connection.getresponse()
        response.read()
        return response.getheader("x-amzn-RequestId") is not None
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
