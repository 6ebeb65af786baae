"""The pollers this node runs for its event source mappings, one per enabled mapping, each with
the counters it keeps since start-up (``events/mappings.py`` decides what runs).

A mapping's poller is started and stopped under that mapping's lock (``lock``), so a stop and a
start of one mapping never interleave. Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Protocol

from flare.events.counters import Counters
from flare.events.esm import Mapping

log = logging.getLogger("flare.events")


class Poller(Protocol):
    counters: Counters
    last_result: str

    def start(self) -> None: ...

    async def stop(self) -> None: ...


PollerFactory = Callable[[Mapping, Counters], Poller]


class MappingPollers:
    """Running pollers by mapping UUID, made by ``make_poller``."""

    def __init__(self, make_poller: PollerFactory) -> None:
        self._make_poller = make_poller
        # uuid => running poller, and the mapping it was made for
        self._pollers: dict[str, Poller] = {}
        self._polled: dict[str, Mapping] = {}
        self._counters: dict[str, Counters] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"<MappingPollers {len(self._pollers)}>"

    def __len__(self) -> int:
        return len(self._pollers)

    def lock(self, mapping_id: str) -> asyncio.Lock:
        """Held while ``mapping_id``'s poller is being stopped or started."""
        return self._locks.setdefault(mapping_id, asyncio.Lock())

    def counters(self, mapping_id: str) -> Counters:
        return self._counters.setdefault(mapping_id, Counters())

    def last_result(self, mapping_id: str) -> str:
        poller = self._pollers.get(mapping_id)
        return poller.last_result if poller is not None else "No records processed"

    def start(self, mapping: Mapping) -> None:
        """Start ``mapping``'s poller (none may run). Raises what making it raises (its source
        is gone), after logging it."""
        try:
            started = self._make_poller(mapping, self.counters(mapping.uuid))
            started.start()
        except Exception as error:
            log.warning("mapping %s cannot poll %s: %s", mapping.uuid, mapping.source_arn, error)
            raise
        self._pollers[mapping.uuid] = started
        self._polled[mapping.uuid] = mapping

    async def stop(self, mapping_id: str) -> None:
        """Stop ``mapping_id``'s poller, if one runs."""
        self._polled.pop(mapping_id, None)
        poller = self._pollers.pop(mapping_id, None)
        if poller is not None:
            await poller.stop()

    async def match(self, mapping_id: str, wanted: Mapping | None) -> None:
        """Under the mapping's lock: run a poller for ``wanted`` (restarted if it runs for an
        older configuration), or none (None). A poller that cannot start is logged, not raised."""
        async with self.lock(mapping_id):
            if wanted is not None and self._polled.get(mapping_id) == wanted:
                return
            await self.stop(mapping_id)
            if wanted is not None:
                with suppress(Exception):  # logged: its source is gone; the next change tries again
                    self.start(wanted)

    def forget(self, mapping_id: str) -> None:
        """Drop what is kept of a deleted mapping (after ``stop``)."""
        self._counters.pop(mapping_id, None)
        self._locks.pop(mapping_id, None)

    async def stop_all(self) -> None:
        pollers = list(self._pollers.values())
        self._pollers.clear()
        self._polled.clear()
        await asyncio.gather(*(poller.stop() for poller in pollers), return_exceptions=True)
