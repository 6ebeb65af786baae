"""Console sessions: a login token works once and briefly; a session lasts its TTL."""

from __future__ import annotations

from flare.clock import ManualClock
from flare.console.session import MAX_ENTRIES, SESSION_TTL_S, TOKEN_TTL_S, ConsoleSessions
from flare.scope import Scope

SCOPE = Scope("123456789012", "eu-west-1")


def test_a_token_is_redeemed_once_for_a_session_of_its_scope() -> None:
    sessions = ConsoleSessions(ManualClock())
    token = sessions.issue(SCOPE)
    session = sessions.redeem(token)
    assert session is not None and session != token
    assert sessions.find(session) == SCOPE
    assert sessions.redeem(token) is None


def test_an_unknown_token_or_session_finds_nothing() -> None:
    sessions = ConsoleSessions(ManualClock())
    assert sessions.redeem("made-up") is None
    assert sessions.find("made-up") is None
    assert sessions.find(None) is None
    assert sessions.find("") is None


def test_a_token_expires_unused() -> None:
    clock = ManualClock()
    sessions = ConsoleSessions(clock)
    token = sessions.issue(SCOPE)
    clock.advance(TOKEN_TTL_S)
    assert sessions.redeem(token) is None


def test_a_session_expires_after_its_ttl() -> None:
    clock = ManualClock()
    sessions = ConsoleSessions(clock)
    session = sessions.redeem(sessions.issue(SCOPE))
    clock.advance(SESSION_TTL_S - 1)
    assert sessions.find(session) == SCOPE
    clock.advance(1)
    assert sessions.find(session) is None


def test_tokens_asked_for_in_bulk_push_out_the_oldest_not_memory() -> None:
    sessions = ConsoleSessions(ManualClock())
    first = sessions.issue(SCOPE)
    tokens = [sessions.issue(SCOPE) for _ in range(MAX_ENTRIES)]
    assert sessions.redeem(first) is None
    assert sessions.redeem(tokens[-1]) is not None
