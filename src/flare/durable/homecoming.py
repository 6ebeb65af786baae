"""What a node does for the durable executions it becomes home to (``homes``): at start, those
stored (after a restart, or a cluster's executions whose node died meanwhile), and in a cluster
those of each node that dies (``_adopt_orphans``), and what another node asks of it
(``heard_wake``). A part of ``DurableExecutions`` (which inherits it), kept apart for size; it
reaches the execution's state through ``ExecutionHooks``. Contract: used from the event loop's
thread.
"""

from __future__ import annotations

import logging

from flare.durable import chained
from flare.durable.hooks import ExecutionHooks
from flare.durable.status import LIVE, Status
from flare.durable.status import ended as is_ended
from flare.store.durable import ExecutionRow

log = logging.getLogger("flare.durable")


class Homecoming(ExecutionHooks):
    """Starting, adopting and hearing other nodes (see the module docstring)."""

    def start(self) -> None:
        """Arm the timers of every execution not ended, await again their chained invokes'
        targets, invoke again the RUNNING ones with no timer (their last invocation was cut
        short) but those whose first invocation waits in the async queue; a PAUSING one whose
        invocation the stop cut short is PAUSED, owing an invocation. Call once, inside the event
        loop, after ``Registry.load``. In a cluster: those at home here and those whose home is
        dead; and from then on, those of each node that dies (``_adopt_orphans``)."""
        rows = self._store.with_status(*LIVE)
        mine = set(self._homes.adopt([row.arn for row in rows], mine_too=True))
        for row in rows:
            if row.arn in mine:
                self._adopt(row)
        self._homes.on_members_changed(self._adopt_orphans)
        self._sweep()

    def _adopt(self, row: ExecutionRow) -> None:
        """Act for ``row`` (not ended) as its new home: see ``start``."""
        if row.status == Status.PAUSING:
            row = self._now_paused(row, owed=True)
        self._arm_deadline(row)
        for _, operation in self._store.operations(row.arn):
            if chained.pending(operation):
                self._spawn_chained(row.arn, operation["Id"])
        if not self._arm_wake(row.arn) and row.status == Status.RUNNING and row.queued is None:
            self._spawn(row.arn)

    def _adopt_orphans(self) -> None:
        """The cluster's live nodes changed: adopt the executions of those that died."""
        try:
            rows = {row.arn: row for row in self._store.with_status(*LIVE)}
            for arn in self._homes.adopt(list(rows), mine_too=False):
                log.info("durable execution %s: its home is gone, adopted here", arn)
                self._adopt(rows[arn])
        except Exception:  # Redis away: the next change of members tries again
            log.exception("could not adopt the durable executions of a node gone")

    def heard_wake(self, arn: str, ended: bool = False) -> None:
        """Another node asked ``arn``'s home to invoke it (``ExecutionHomes.call_home``), or
        ``ended`` it (``announce_end``: an invoke waiting here for its end is answered)."""
        if ended:
            row = self._store.get(arn) if arn in self._waiters else None
            if row is not None and is_ended(row.status):
                self._answer_waiters(row)
        elif self._homes.here(arn):
            self._spawn(arn)

    def _answer_waiters(self, row: ExecutionRow) -> None:
        for future in self._waiters.pop(row.arn, []):
            if not future.done():
                future.set_result(row)
