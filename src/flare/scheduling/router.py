"""The path of one synchronous invocation below the edge: place it, run it, release.

``async with router.invoke(version, invocation) as result:`` yields the result; the caller
answers its client inside the block, and the environment is released (frozen, parked) only on
exit, so the freeze stays off the response's critical path.

INIT failures answer the invocation that started them. An INIT that outlives the init limit is
retried once inside the invocation, with the function's timeout as its limit (Lambda's
"suppressed init"); if that one times out too, the invocation times out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from flare.control.model import FunctionVersion
from flare.errors import ResourceNotReady
from flare.sandbox.environment import Environment
from flare.sandbox.invocation import Invocation, InvocationResult
from flare.sandbox.zygote import ZygoteDied
from flare.scheduling.pool import Pool


class Router:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def invoke(
        self, version: FunctionVersion, invocation: Invocation
    ) -> AsyncIterator[InvocationResult]:
        env = await self._place(version)
        try:
            if env.init_failure is not None:
                yield env.fail_invocation(invocation)
            else:
                yield await env.invoke(invocation)
        finally:
            self.pool.release(env)

    async def _place(self, version: FunctionVersion) -> Environment:
        try:
            env = await self.pool.reserve(version)
            if env.init_timed_out:
                self.pool.release(env)
                env = await self.pool.reserve(version, init_limit_s=version.timeout_s)
        except (ZygoteDied, OSError) as error:
            raise ResourceNotReady(f"Flare could not start an execution environment: {error}") from None
        return env
