"""Lambda's retry policy for asynchronous invocations, as pure decisions.

An async event is tried, and after each try ``decide`` says what happens next::

    Outcome.SUCCESS         -> Done("Success")
    Outcome.FUNCTION_ERROR  -> Retry(base * n) for the n-th error while n <= MaximumRetryAttempts
                               (Lambda waits ~1 min, then ~2 min), else Done("RetriesExhausted")
    Outcome.THROTTLED       -> Retry(backoff) with backoff 1 s, 2 s, 4 s ... capped at 5 min;
    Outcome.SYSTEM_ERROR       these never use up MaximumRetryAttempts
    any retry that would start after the event's MaximumEventAgeInSeconds -> Done("EventAgeExceeded")

``Done`` with any condition but ``Success`` means failure handling: the OnFailure destination
and/or the dead-letter queue. Nothing here reads a clock: ``now`` and the event's ``enqueued``
time (both wall-clock epoch seconds) are arguments.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 21_600
THROTTLE_FIRST_DELAY_S = 1.0
THROTTLE_MAX_DELAY_S = 300.0

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"


class Outcome(enum.Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"
    THROTTLED = "throttled"
    SYSTEM_ERROR = "system-error"


@dataclass(frozen=True)
class Policy:
    """The event-invoke config's retry settings, and the base delay of function-error retries
    (``flare serve --async-retry-base-delay``; Lambda's is about a minute)."""

    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS
    max_event_age_s: float = DEFAULT_MAX_EVENT_AGE_S
    base_delay_s: float = 60.0


@dataclass(frozen=True)
class Tries:
    """What an event has been through: function errors so far, throttles and system errors so
    far, and when it was queued (epoch seconds)."""

    enqueued: float
    function_errors: int = 0
    other_failures: int = 0

    def after(self, outcome: Outcome) -> Tries:
        """These tries plus one that ended with ``outcome``."""
        if outcome is Outcome.FUNCTION_ERROR:
            return Tries(self.enqueued, self.function_errors + 1, self.other_failures)
        if outcome in (Outcome.THROTTLED, Outcome.SYSTEM_ERROR):
            return Tries(self.enqueued, self.function_errors, self.other_failures + 1)
        return self


@dataclass(frozen=True)
class Retry:
    delay_s: float


@dataclass(frozen=True)
class Done:
    """No more tries. ``condition`` is the record's: Success, RetriesExhausted, EventAgeExceeded."""

    condition: str

    @property
    def failed(self) -> bool:
        return self.condition != SUCCESS


Decision = Retry | Done


def throttle_delay(failures: int) -> float:
    """Backoff before the retry that follows the ``failures``-th throttle or system error."""
    return min(THROTTLE_FIRST_DELAY_S * float(2 ** max(0, failures - 1)), THROTTLE_MAX_DELAY_S)


def too_old(tries: Tries, policy: Policy, at: float) -> bool:
    """Whether an event would be past its maximum age at time ``at``."""
    return at - tries.enqueued > policy.max_event_age_s


def decide(tries: Tries, outcome: Outcome, policy: Policy, now: float) -> Decision:
    """What follows a try that ended at ``now`` with ``outcome``; ``tries`` excludes that try."""
    if outcome is Outcome.SUCCESS:
        return Done(SUCCESS)
    after = tries.after(outcome)
    if outcome is Outcome.FUNCTION_ERROR:
        if after.function_errors > policy.max_retry_attempts:
            return Done(RETRIES_EXHAUSTED)
        delay = policy.base_delay_s * after.function_errors
    else:
        delay = throttle_delay(after.other_failures)
    if too_old(after, policy, now + delay):
        return Done(EVENT_AGE_EXCEEDED)
    return Retry(delay)
