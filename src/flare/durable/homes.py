"""Which node runs each durable execution: its *home*, the one node that invokes it and keeps
its timers (waits, retries, its timeout). Single-node, every execution's home is this node
(``LocalHomes``); a cluster node keeps homes on Redis (``cluster/durable_homes.py``), so that
any node may answer a callback or a stop while one node invokes, and a live node takes over the
executions of a node that died.

The actor (``durable/executions.py``) asks ``claim`` before each invocation: HERE (its home is
this node), TAKEN (it had none, or its home is dead: this node is its home now and arms its
timeout) or ELSEWHERE (another live node is: ``call_home`` asks it to invoke). A timer that
fires for an execution whose home has moved does nothing (``here``). An execution ended on a
node other than the one where an invoke waits for it is announced (``announce_end``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol


class Claim(enum.Enum):
    HERE = "here"
    TAKEN = "taken"
    ELSEWHERE = "elsewhere"


class ExecutionHomes(Protocol):
    """Where one scope's durable executions run (see the module docstring)."""

    def claim(self, arn: str) -> Claim: ...

    def seize(self, arn: str) -> None:
        """This node is ``arn``'s home from now (it starts it, or the async queue gave it its
        first invocation), whoever was."""
        ...

    def here(self, arn: str) -> bool:
        """Whether this node is ``arn``'s home."""
        ...

    def release(self, arn: str) -> None:
        """``arn`` ended or went: it has no home."""
        ...

    def adopt(self, arns: list[str], mine_too: bool) -> list[str]:
        """Of ``arns``, those this node takes (no home, or a dead one), and with ``mine_too``
        those already at home here (a restart)."""
        ...

    def call_home(self, arn: str) -> None:
        """Ask ``arn``'s home to invoke it (another node's ``heard_wake``)."""
        ...

    def announce_end(self, arn: str) -> None:
        """``arn`` ended on this node: another node's invoke waiting for it answers
        (``heard_wake``)."""
        ...

    def on_members_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when the cluster's live nodes change (never, single-node)."""
        ...


class LocalHomes:
    """One node: every execution's home is here."""

    def __repr__(self) -> str:
        return "<LocalHomes>"

    def claim(self, arn: str) -> Claim:
        return Claim.HERE

    def seize(self, arn: str) -> None:
        pass

    def here(self, arn: str) -> bool:
        return True

    def release(self, arn: str) -> None:
        pass

    def adopt(self, arns: list[str], mine_too: bool) -> list[str]:
        return list(arns)

    def call_home(self, arn: str) -> None:
        raise AssertionError("single-node executions are always at home")

    def announce_end(self, arn: str) -> None:
        pass

    def on_members_changed(self, listener: Callable[[], None]) -> None:
        pass
