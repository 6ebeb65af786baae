"""Asking the other live nodes their part of a CloudWatch Logs call, node to node over HTTP.

``LogPeers.ask`` posts one part (``cluster/log_parts.py``) to every other node this node sees
live (``Membership.live``, as of its last beat), all at once, over one keep-alive session:
``POST <node url>/flare/v1/cluster/logs`` with ``{"Account", "Region", "Part", "Args"}`` and the
cluster's token in ``x-flare-cluster-token`` (``api/node_logs.py`` refuses a call without it).
The call is not signed as the client: the asking node has authenticated and authorized its
client already, and the token is what one node shows another (whoever holds it can read every
account's logs, as whoever can reach the cluster's Redis can).

A node that does not answer within ``ANSWER_TIMEOUT_S`` (refused, reset, gone, or answering an
error) is skipped and logged: its logs are missing from the answer, never an error to the
client. So every cluster-wide read costs one request per other live node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from flare.cluster.forwarding import TOKEN_HEADER
from flare.cluster.log_parts import PATH
from flare.cluster.membership import Membership, NodeInfo
from flare.scope import Scope

log = logging.getLogger("flare.cluster.log_peers")

CONNECT_TIMEOUT_S = 2.0
ANSWER_TIMEOUT_S = 30.0
CONNECTIONS_PER_NODE = 8

Body = dict[str, Any]
ArgsFor = Callable[[str], Body]
"""The arguments of a part for one node, by its name (a paged filter asks each node from its
own position)."""


class LogPeers:
    """The other live nodes of ``membership``, asked over one session made on first use."""

    def __init__(self, node_name: str, membership: Membership) -> None:
        self.node_name = node_name
        self._membership = membership
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<LogPeers of {self.node_name}>"

    def others(self) -> list[NodeInfo]:
        live = self._membership.live
        return [node.info for node in live if node.info.name != self.node_name and node.info.url]

    async def ask(self, scope: Scope, part: str, args_for: ArgsFor) -> list[tuple[str, Body]]:
        """Each other live node's answer to ``part`` (its name, its answer); the nodes that did
        not answer are left out (and logged)."""
        others = self.others()
        if not others:
            return []
        asked = [asyncio.ensure_future(self._post(node, scope, part, args_for(node.name))) for node in others]
        results = await asyncio.gather(*asked, return_exceptions=True)
        answers = []
        for node, result in zip(others, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("node %s did not answer %s of %s's logs: %s", node.name, part, scope.key, result)
            else:
                answers.append((node.name, result))
        return answers

    async def _post(self, node: NodeInfo, scope: Scope, part: str, args: Body) -> Body:
        body = {"Account": scope.account, "Region": scope.region, "Part": part, "Args": args}
        headers = {TOKEN_HEADER: self._membership.token}
        async with self._open().post(node.url + PATH, json=body, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:200]}")
            answer: Body = await response.json()
            return answer

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit_per_host=CONNECTIONS_PER_NODE, keepalive_timeout=60)
            timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
