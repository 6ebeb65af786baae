"""What-ifs: the changed configuration a scenario replays under.

A scenario is written ``key=value[,key=value...]`` (``'provisioned=5,memory=512'``); each key
changes every replayed function, or the engine:

=============  ==============================================================================
provisioned=N  N provisioned environments per function version (ready from the start)
memory=MB      MemorySize 128..10240 (duration scaled by CPU share, see ``service``)
snapstart=on   cold starts restore a snapshot instead of running INIT (``off``: they run INIT)
reserved=N     reserved concurrency N (``none``: no reservation)
arch=A         architecture ``x86_64`` or ``arm64`` (the price; durations are not changed)
restore=MS     the restore time a SnapStart cold start takes (default: recorded, or measured)
idle=S         seconds an idle environment is kept before SHUTDOWN (``flare serve --idle-timeout``)
concurrency=N  the account's concurrency limit
scaling=N      new environments a function may start per 10 s
=============  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flare.errors import TraceRefused

ARCHITECTURES = ("x86_64", "arm64")


@dataclass(frozen=True)
class FunctionConfig:
    """What the model reads of one function version's configuration."""

    memory_mb: int
    architecture: str
    reserved: int | None
    provisioned: int
    snapstart: bool


@dataclass(frozen=True)
class EngineConfig:
    """What the model reads of the engine's configuration."""

    idle_timeout_s: float
    account_concurrency: int
    scaling_rate: int
    scaling_window_s: float


@dataclass(frozen=True)
class Scenario:
    """A named set of changes; ``function`` and ``engine`` hold the keys given, by field name."""

    name: str
    function: tuple[tuple[str, Any], ...] = ()
    engine: tuple[tuple[str, Any], ...] = ()
    restore_ms: float | None = None

    def apply(self, config: FunctionConfig) -> FunctionConfig:
        return replace(config, **dict(self.function))

    def apply_engine(self, config: EngineConfig) -> EngineConfig:
        return replace(config, **dict(self.engine))


AS_RECORDED = Scenario("as recorded")


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError
    return number


def _memory(value: str) -> int:
    number = int(value)
    if not 128 <= number <= 10240:
        raise ValueError
    return number


def _switch(value: str) -> bool:
    if value not in ("on", "off"):
        raise ValueError
    return value == "on"


def _reserved(value: str) -> int | None:
    return None if value == "none" else _count(value)


def _architecture(value: str) -> str:
    if value not in ARCHITECTURES:
        raise ValueError
    return value


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError
    return number


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError
    return number


# key => (where it applies, the field it sets, its parser, what a value must be)
KEYS: dict[str, tuple[str, str, Callable[[str], Any], str]] = {
    "provisioned": ("function", "provisioned", _count, "a count, 0 or more"),
    "memory": ("function", "memory_mb", _memory, "megabytes, 128 to 10240"),
    "snapstart": ("function", "snapstart", _switch, "on or off"),
    "reserved": ("function", "reserved", _reserved, "a count, 0 or more, or none"),
    "arch": ("function", "architecture", _architecture, "x86_64 or arm64"),
    "restore": ("restore", "restore_ms", _positive, "milliseconds, more than 0"),
    "idle": ("engine", "idle_timeout_s", _positive, "seconds, more than 0"),
    "concurrency": ("engine", "account_concurrency", _at_least_one, "a count, 1 or more"),
    "scaling": ("engine", "scaling_rate", _at_least_one, "a count, 1 or more"),
}


def parse(spec: str) -> Scenario:
    """The scenario ``spec`` writes. Raises ``TraceRefused`` naming an unknown key, a value
    that does not parse, or a key given twice."""
    parts: dict[str, dict[str, Any]] = {"function": {}, "engine": {}, "restore": {}}
    seen: set[str] = set()
    for item in spec.split(","):
        key, equals, value = item.strip().partition("=")
        if key not in KEYS:
            known = ", ".join(KEYS)
            raise TraceRefused(f"what-if {spec!r}: unknown key {key!r} (known: {known})")
        if not equals or key in seen:
            raise TraceRefused(f"what-if {spec!r}: {key} must be given once, as {key}=VALUE")
        seen.add(key)
        where, field, parser, expected = KEYS[key]
        try:
            parts[where][field] = parser(value.strip())
        except ValueError:
            raise TraceRefused(f"what-if {spec!r}: {key} must be {expected}, not {value!r}") from None
    return Scenario(
        spec,
        tuple(sorted(parts["function"].items())),
        tuple(sorted(parts["engine"].items())),
        parts["restore"].get("restore_ms"),
    )
