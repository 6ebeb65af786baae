"""Lambda's async retry policy as a table of pure decisions."""

from __future__ import annotations

import pytest

from flare.events.retry import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    Done,
    Outcome,
    Policy,
    Retry,
    Tries,
    decide,
    throttle_delay,
    too_old,
)

T0 = 1_000_000.0
POLICY = Policy(max_retry_attempts=2, max_event_age_s=21_600, base_delay_s=60)


@pytest.mark.parametrize(
    ("tries", "outcome", "now", "expected"),
    [
        (Tries(T0), Outcome.SUCCESS, T0, Done(SUCCESS)),
        (Tries(T0, 2, 5), Outcome.SUCCESS, T0 + 900, Done(SUCCESS)),
        # function errors: ~1 minute, then ~2 minutes, then give up
        (Tries(T0), Outcome.FUNCTION_ERROR, T0, Retry(60)),
        (Tries(T0, 1), Outcome.FUNCTION_ERROR, T0 + 60, Retry(120)),
        (Tries(T0, 2), Outcome.FUNCTION_ERROR, T0 + 180, Done(RETRIES_EXHAUSTED)),
        # throttles and system errors back off 1 s, 2 s, 4 s ... 300 s and never use up retries
        (Tries(T0), Outcome.THROTTLED, T0, Retry(1)),
        (Tries(T0, 0, 1), Outcome.THROTTLED, T0 + 1, Retry(2)),
        (Tries(T0, 0, 2), Outcome.SYSTEM_ERROR, T0 + 3, Retry(4)),
        (Tries(T0, 2, 20), Outcome.THROTTLED, T0 + 3000, Retry(300)),
        # ... until the event would be too old for its next try
        (Tries(T0, 0, 20), Outcome.THROTTLED, T0 + 21_500, Done(EVENT_AGE_EXCEEDED)),
        (Tries(T0, 0, 20), Outcome.THROTTLED, T0 + 21_300, Retry(300)),
        (Tries(T0, 1), Outcome.FUNCTION_ERROR, T0 + 21_500, Done(EVENT_AGE_EXCEEDED)),
    ],
)
def test_decide_follows_lambdas_policy(tries: Tries, outcome: Outcome, now: float, expected: object) -> None:
    assert decide(tries, outcome, POLICY, now) == expected


@pytest.mark.parametrize(("retries", "errors_allowed"), [(0, 0), (1, 1), (2, 2)])
def test_maximum_retry_attempts_bounds_function_error_retries(retries: int, errors_allowed: int) -> None:
    policy = Policy(max_retry_attempts=retries, base_delay_s=1)
    tries, decisions = Tries(T0), []
    while True:
        decision = decide(tries, Outcome.FUNCTION_ERROR, policy, T0)
        decisions.append(decision)
        if isinstance(decision, Done):
            break
        tries = tries.after(Outcome.FUNCTION_ERROR)
    assert decisions == [Retry(float(n)) for n in range(1, errors_allowed + 1)] + [Done(RETRIES_EXHAUSTED)]


def test_short_event_age_gives_up_on_a_retry_past_it() -> None:
    policy = Policy(max_retry_attempts=2, max_event_age_s=60, base_delay_s=60)
    assert decide(Tries(T0), Outcome.FUNCTION_ERROR, policy, T0) == Retry(60)
    assert decide(Tries(T0), Outcome.FUNCTION_ERROR, policy, T0 + 1) == Done(EVENT_AGE_EXCEEDED)


def test_throttle_backoff_doubles_from_one_second_to_five_minutes() -> None:
    assert [throttle_delay(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_too_old_is_strictly_past_the_maximum_age() -> None:
    policy = Policy(max_event_age_s=60)
    assert not too_old(Tries(T0), policy, T0 + 60)
    assert too_old(Tries(T0), policy, T0 + 60.001)


def test_done_knows_failure() -> None:
    assert not Done(SUCCESS).failed
    assert Done(RETRIES_EXHAUSTED).failed
