"""Counters of one event source (a mapping, or one function's async queue), since start-up.

``received``      events or records taken in
``succeeded``     of those, handled by a successful invocation
``failed``        invocations that ended in a function error, throttle or system error
``retried``       retries scheduled (an async event's next try; a batch tried again)
``dead_lettered`` events or batches given up on and sent to failure handling (DLQ, OnFailure)
``filtered``      records the mapping's FilterCriteria left out (SQS: deleted; Kinesis: skipped)
``oldest_age_s``  age of the oldest event or record still waiting (set by whoever reads it)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Counters:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    filtered: int = 0
    oldest_age_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
