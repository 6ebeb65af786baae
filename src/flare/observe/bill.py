"""What the engine's work would have cost on Lambda, since start-up: per account and function,
by component (``pricing.COMPONENTS``), for ``/metrics`` and anything that shows cost.

``# (account, region, function, component) => USD``

Invocations are charged when their REPORT line is written (``charge``, from the environment,
after the caller has its answer), with ``pricing.invocation_charges`` of the same figures.
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
        # (account, region, function name, version) => its provisioned concurrency configured now
        self._configured: dict[tuple[str, str, str, str], _Configured] = {}

    def __repr__(self) -> str:
        return f"<Bill ${sum(self._usd.values()):.6f} provisioned={len(self._configured)}>"

    def charge(
        self, version: FunctionVersion, duration_ms: float, init_ms: float | None, provisioned: bool
    ) -> None:
        """One invocation of ``version``, billed as its REPORT line says."""
        charges = pricing.invocation_charges(
            version.architecture, version.memory_mb, duration_ms, init_ms, version.ephemeral_mb, provisioned
        )
        for component, usd in charges.by_component().items():
            if usd:
                self._usd[(version.account_id, version.region, version.name, component)] += usd

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
