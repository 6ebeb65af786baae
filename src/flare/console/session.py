"""Who may open the console: one-time login tokens and the sessions they start.

``flare console`` asks the engine (a signed request, as every CLI command makes) for a login
URL; ``issue`` makes its token, good for ``TOKEN_TTL_S`` and for one use. Opening the URL
``redeem``s the token for a session id, which the browser keeps as an HttpOnly, SameSite=Strict
cookie; ``find`` answers the scope (account and region) a live session acts in, until
``SESSION_TTL_S`` after it began. Tokens and sessions live in memory only: a restart logs every
browser out. Both tables are bounded (the oldest goes first), so nobody can fill memory by
asking for tokens. Every time is read from the injected clock. Used from the event loop's
thread only.
"""

from __future__ import annotations

import collections
import secrets
from dataclasses import dataclass

from flare.clock import Clock
from flare.scope import Scope

LOGIN_URL_PATH = "/flare/v1/console/login"
"""Where ``flare console`` asks for a login URL (a signed POST; ``api/console.py``)."""
TOKEN_TTL_S = 300.0
SESSION_TTL_S = 12 * 3600.0
MAX_ENTRIES = 1000


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token or session stands for, and until when (the clock's ``now``)."""

    scope: Scope
    expires: float


class ConsoleSessions:
    """See the module docstring."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: collections.OrderedDict[str, Grant] = collections.OrderedDict()
        self._sessions: collections.OrderedDict[str, Grant] = collections.OrderedDict()

    def issue(self, scope: Scope) -> str:
        """A new one-time login token for ``scope``."""
        token = secrets.token_urlsafe(32)
        _put(self._tokens, token, Grant(scope, self._clock.now() + TOKEN_TTL_S))
        return token

    def redeem(self, token: str) -> str | None:
        """A new session id for ``token``, which is spent; None when it was never issued, is
        spent already, or expired."""
        grant = self._tokens.pop(token, None)
        now = self._clock.now()
        if grant is None or grant.expires <= now:
            return None
        session = secrets.token_urlsafe(32)
        _put(self._sessions, session, Grant(grant.scope, now + SESSION_TTL_S))
        return session

    def find(self, session: str | None) -> Scope | None:
        """The scope of live session ``session``, else None (unknown or expired: forgotten)."""
        if not session:
            return None
        grant = self._sessions.get(session)
        if grant is None:
            return None
        if grant.expires <= self._clock.now():
            del self._sessions[session]
            return None
        return grant.scope

    def end(self, session: str) -> None:
        self._sessions.pop(session, None)


def _put(table: collections.OrderedDict[str, Grant], key: str, grant: Grant) -> None:
    table[key] = grant
    while len(table) > MAX_ENTRIES:
        table.popitem(last=False)
