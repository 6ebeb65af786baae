"""An invoke that belongs on another node goes there, node to node over HTTP keep-alive.

``ForwardingInvokeRoute`` is the engine's ``InvokeRoute`` with ``--cluster``. For a synchronous
invoke (``RequestResponse``) by a caller with a key of its own, it runs here when this node has
an idle environment of the version (on demand or provisioned: provisioned ones are spread over
the nodes, ``cluster/provisioned_spread.py``), else asks ``cluster/routing.py`` which node
should run it; when that is another node, it sends the invoke there
(``Forwarder``) and relays the answer (status, the invoke's ``X-Amz-*`` headers, payload, or
the other node's error, a 429 included) as it came. Everything else runs here as on one node:
asynchronous (``Event``) invokes and ``DryRun`` (their queue is the cluster's, not a node's),
a function's own calls with its environment's temporary credentials (another node does not
know them), and every invoke another node forwarded (never forwarded twice).

The forwarded request is the Lambda API's own Invoke, signed again by this node as the caller
(the caller's secret is in the key store every node shares; under ``--auth open`` any
signature passes), so the other node authenticates, authorizes, resolves and throttles it
exactly as if the client had called it: the lease is taken where the environment runs, which
also decides whether it is a cold start, and it dies with that node. It also carries this
node's name and the cluster's token (``x-flare-forwarded-by``, ``x-flare-cluster-token``): a
forwarded invoke without the right token is refused (AccessDenied).

A node that does not answer (refused, reset, timed out connecting) is suspect for
``routing.SUSPECT_S`` and the invoke runs here instead, so a dead node costs one failed
connection, not an error. Any other failure once connected (the connection reset or closed
mid-answer) is not run again, as it may have run: ServiceException.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable, Mapping
from urllib.parse import quote

import aiohttp
import yarl
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from flare.account_region import AccountRegion
from flare.api.invoke import MAX_SYNC_PAYLOAD, FindRegion, InvokeRoute, ReadPayload, Respond, buffered_payload
from flare.auth.identity import Identity
from flare.clock import Clock
from flare.cluster import routing
from flare.cluster.membership import Membership, NodeInfo
from flare.control.arns import parse_function_name
from flare.errors import AccessDenied, FlareError, ServiceException
from flare.sandbox.lifecycle import EnvState

log = logging.getLogger("flare.cluster.forwarding")

FORWARDED_BY = "x-flare-forwarded-by"
TOKEN_HEADER = "x-flare-cluster-token"
PASSED_ON = ("x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context", "x-amz-tenant-id")
RELAYED = (
    "content-type",
    "x-amz-executed-version",
    "x-amz-function-error",
    "x-amz-log-result",
    "x-amzn-requestid",
    "x-amzn-errortype",
    "retry-after",
)
CONNECT_TIMEOUT_S = 2.0
ANSWER_TIMEOUT_S = 910.0  # longer than Lambda's longest function timeout
CONNECTIONS_PER_NODE = 64
OPEN_SECRET = "flare-open"
"""The secret a forwarded request is signed with when the caller's key is not stored
(``--auth open`` accepts any well-formed signature)."""


class NodeUnreachable(Exception):
    """The node did not take the request: nothing ran there."""


class Forwarder:
    """Invokes to other nodes over one keep-alive session (made on first use, on the loop)."""

    def __init__(
        self, node_name: str, token: Callable[[], str], secret_of: Callable[[str], str | None]
    ) -> None:
        self.node_name = node_name
        self._token = token
        self._secret_of = secret_of
        self._secrets: dict[str, str | None] = {}  # the other node checks the key again
        self._session: aiohttp.ClientSession | None = None
        self.forwarded = 0

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit_per_host=CONNECTIONS_PER_NODE, keepalive_timeout=60)
            timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
        return self._session

    def request_for(
        self,
        url: str,
        caller: Identity,
        name: str,
        qualifier: str | None,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[str, dict[str, str]]:
        """The URL and the signed headers of the invoke of ``name`` at the node at ``url``."""
        target = f"{url}/2015-03-31/functions/{quote(name, safe='')}/invocations"
        if qualifier is not None:
            target += f"?Qualifier={quote(qualifier, safe='')}"
        sent = {header: headers[header] for header in PASSED_ON if header in headers}
        sent["content-type"] = "application/json"
        request = AWSRequest("POST", target, data=body, headers=sent)
        key = caller.access_key_id
        if key not in self._secrets:
            self._secrets[key] = self._secret_of(key)
        secret = self._secrets[key] or OPEN_SECRET
        SigV4Auth(Credentials(caller.access_key_id, secret), "lambda", caller.region).add_auth(request)
        signed = dict(request.headers.items())
        signed[FORWARDED_BY] = self.node_name
        signed[TOKEN_HEADER] = self._token()
        return target, signed

    async def forward(
        self,
        node: NodeInfo,
        caller: Identity,
        name: str,
        qualifier: str | None,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        """The other node's answer: status, the headers worth relaying, body. Raises
        NodeUnreachable when it took nothing, ServiceException when it was lost mid-answer."""
        target, signed = self.request_for(node.url, caller, name, qualifier, headers, body)
        if asyncio.current_task() is None:  # the front door starts a request's coroutine by hand
            return await asyncio.get_running_loop().create_task(self._post(node, target, signed, body))
        return await self._post(node, target, signed, body)

    async def _post(
        self, node: NodeInfo, target: str, signed: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """(aiohttp's timeouts need a task.)"""
        session = self._open()
        try:
            async with session.post(yarl.URL(target, encoded=True), data=body, headers=signed) as response:
                answer = await response.read()
                relayed = {key: value for key, value in response.headers.items() if key.lower() in RELAYED}
                self.forwarded += 1
                return response.status, relayed, answer
        except aiohttp.ClientConnectorError as error:  # no connection: nothing was sent
            raise NodeUnreachable(f"{node.name}: {error}") from None
        except aiohttp.ClientError as error:
            raise ServiceException(f"node {node.name} lost the invoke: {error}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def warm_here(region: AccountRegion, name: str, qualifier: str | None) -> bool:
    """Whether this node has an idle environment (provisioned or on demand) of the version
    the invoke resolves to. Raises FlareError when it resolves to none."""
    version, _ = region.registry.resolve_invocation(name, qualifier)
    if region.pool.has_idle(version):
        return True
    return any(env.state is EnvState.IDLE for env in region.pool.provisioned(version.key))


class ForwardingInvokeRoute(InvokeRoute):
    """``InvokeRoute`` that runs an invoke on the node routing chooses (module docstring)."""

    def __init__(
        self,
        find_region: FindRegion,
        clock: Clock,
        authorize: Callable[[Identity, str, str | None], None] | None,
        membership: Membership,
        forwarder: Forwarder,
    ) -> None:
        super().__init__(find_region, clock, authorize)
        self._membership = membership
        self._forwarder = forwarder
        self._node_name = forwarder.node_name
        self._suspects: dict[str, float] = {}  # node => until when (clock seconds)
        self._clock_now = clock.now

    async def __call__(
        self,
        caller: Identity,
        name: str,
        qualifier: str | None,
        headers: Mapping[str, str],
        read: ReadPayload,
        respond: Respond,
    ) -> None:
        if FORWARDED_BY in headers:
            self._check_token(headers.get(TOKEN_HEADER, ""))
            return await super().__call__(caller, name, qualifier, headers, read, respond)
        node = self._destination(caller, name, qualifier, headers)
        if node is None:
            return await super().__call__(caller, name, qualifier, headers, read, respond)
        payload = await read(MAX_SYNC_PAYLOAD)
        try:
            status, answer_headers, body = await self._forwarder.forward(
                node, caller, name, qualifier, headers, payload
            )
        except NodeUnreachable as error:
            log.warning("forwarding to %s failed, running here: %s", node.name, error)
            self._suspects[node.name] = self._clock_now() + routing.SUSPECT_S
            return await super().__call__(
                caller, name, qualifier, headers, buffered_payload(payload), respond
            )
        await respond(status, answer_headers, body)

    def _destination(
        self, caller: Identity, name: str, qualifier: str | None, headers: Mapping[str, str]
    ) -> NodeInfo | None:
        """The other node that should run this invoke, or None to run it here."""
        if caller.function is not None:
            return None
        if headers.get("x-amz-invocation-type", "RequestResponse") != "RequestResponse":
            return None
        live = self._membership.live
        if len(live) < 2:
            return None
        try:
            function, parsed = parse_function_name(name, qualifier)
            if warm_here(self._find_region(caller, name, qualifier), name, qualifier):
                return None
        except FlareError:  # answered here, in the words of the invoke path
            return None
        key = routing.route_key(caller.account, caller.region, function, parsed)
        chosen = routing.choose(key, [node.info for node in live], self._node_name, self._suspected())
        if chosen == self._node_name:
            return None
        return next(node.info for node in live if node.info.name == chosen)

    def _suspected(self) -> set[str]:
        now = self._clock_now()
        for node in [node for node, until in self._suspects.items() if until <= now]:
            del self._suspects[node]
        return set(self._suspects)

    def _check_token(self, token: str) -> None:
        if not hmac.compare_digest(token.encode(), self._membership.token.encode()):
            raise AccessDenied("The request was forwarded by a node without this cluster's token.")
