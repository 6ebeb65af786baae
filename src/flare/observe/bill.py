"""What the engine's work would have cost on Lambda, since start-up: per account and function,
by component (``pricing.COMPONENTS``), for ``/metrics`` and anything that shows cost.

``# (account, region, function, component) => USD``

Invocations are charged when their REPORT line is written (``charge``, from the environment,
after the caller has its answer), with ``pricing.invocation_charges`` of the same figures. On
the invoke path ``charge`` only adds the invocation's billed milliseconds (``billed_parts``,
integers) to its function's running sums; the sums become dollars (``summed_charges``, the same
arithmetic, linear in them) when the totals are read.
Provisioned concurrency is charged for the time it is configured: ``provisioned(version,
count)`` says a version's configured concurrency changed, and the time it had the previous
count is charged then, at the injected clock's time; ``totals()`` charges what is configured up
to now before it answers.

Contract: used from the event loop's thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.observe import pricing

CostKey = tuple[str, str, str, str]
"""(account, region, function name, component)"""
PriceKey = tuple[str, str, str, str, int, int, bool]
"""(account, region, function name, architecture, memory MB, ephemeral MB, provisioned)"""


@dataclass
class _Configured:
    version: FunctionVersion
    count: int
    since: float


class Bill:
    """Running totals in USD (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._usd: defaultdict[CostKey, float] = defaultdict(float)
        # invocations not yet in ``_usd``: price key => [count, invoke ms, init ms]
        self._unpriced: dict[PriceKey, list[int]] = {}
        # (account, region, function name, version) => its provisioned concurrency configured now
        self._configured: dict[tuple[str, str, str, str], _Configured] = {}

    def __repr__(self) -> str:
        self._price_invocations()
        return f"<Bill ${sum(self._usd.values()):.6f} provisioned={len(self._configured)}>"

    def charge(
        self, version: FunctionVersion, duration_ms: float, init_ms: float | None, provisioned: bool
    ) -> None:
        """One invocation of ``version``, billed as its REPORT line says."""
        invoke_ms, init_billed_ms = pricing.billed_parts(duration_ms, init_ms)
        key = (
            version.account_id,
            version.region,
            version.name,
            version.architecture,
            version.memory_mb,
            version.ephemeral_mb,
            provisioned,
        )
        sums = self._unpriced.get(key)
        if sums is None:
            self._unpriced[key] = [1, invoke_ms, init_billed_ms]
        else:
            sums[0] += 1
            sums[1] += invoke_ms
            sums[2] += init_billed_ms

    def _price_invocations(self) -> None:
        """Move the invocations' sums into ``_usd``, by component (none that is zero)."""
        unpriced, self._unpriced = self._unpriced, {}
        for key, (count, invoke_ms, init_ms) in unpriced.items():
            account, region, name, architecture, memory_mb, ephemeral_mb, provisioned = key
            charges = pricing.summed_charges(
                architecture, memory_mb, count, invoke_ms, init_ms, ephemeral_mb, provisioned
            )
            for component, usd in charges.by_component().items():
                if usd:
                    self._usd[(account, region, name, component)] += usd

    def provisioned(self, version: FunctionVersion, count: int) -> None:
        """From now on ``version`` has ``count`` provisioned environments configured (0: none);
        the time it had the previous count is charged."""
        key = (version.account_id, version.region, version.name, version.version)
        now = self._clock.now()
        self._accrue(key, now)
        if count > 0:
            self._configured[key] = _Configured(version, count, now)
        else:
            self._configured.pop(key, None)

    def _accrue(self, key: tuple[str, str, str, str], now: float) -> None:
        configured = self._configured.get(key)
        if configured is None:
            return
        version = configured.version
        usd = pricing.provisioned_usd(
            version.architecture, version.memory_mb, configured.count, now - configured.since
        )
        self._usd[(version.account_id, version.region, version.name, "provisioned")] += usd
        configured.since = now

    def totals(self) -> dict[CostKey, float]:
        """``(account, region, function, component) => USD`` so far, provisioned time up to now."""
        self._price_invocations()
        now = self._clock.now()
        for key in list(self._configured):
            self._accrue(key, now)
        return dict(self._usd)

    def by_account(self) -> dict[tuple[str, str], float]:
        """``(account, component) => USD`` so far."""
        accounts: defaultdict[tuple[str, str], float] = defaultdict(float)
        for (account, _, _, component), usd in self.totals().items():
            accounts[(account, component)] += usd
        return dict(accounts)
