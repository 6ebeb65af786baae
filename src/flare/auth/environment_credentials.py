"""Temporary credentials for execution environments, as Lambda gives each its role's.

On Lambda, an environment's ``AWS_ACCESS_KEY_ID`` (``ASIA…``), ``AWS_SECRET_ACCESS_KEY`` and
``AWS_SESSION_TOKEN`` are a session of the function's execution role: whatever the handler
signs with them acts as that function, in its account. Flare mints such a set for every
environment it starts (and one per SnapStart snapshot, shared by its restores, which inherit
the snapshot's variables), keeps it in memory only, and revokes it when the environment (or
snapshot) ends: credentials live as long as their environment and die with the engine, as an
environment started by an earlier engine is gone too.

``find`` recognises live credentials (the authenticator verifies their signatures in every
``--auth`` mode), ``revoked`` the recently ended ones (their use is AWS's
``ExpiredTokenException``). Each set also names the host uids its environment's processes run
as (a sandboxed environment's own uid; a SnapStart template's whole block, its restores'
included): ``of_uid`` answers whose a connection from such a uid is, whatever key it signs with
(``auth/connection_origin.py``). Used from the event loop's thread only.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from flare.auth.identity import FunctionPrincipal
from flare.control.model import FunctionVersion
from flare.sandbox.launcher import SessionCredentials

KEY_PREFIX = "ASIA"
REVOKED_KEPT = 4096
"""Ended credentials remembered (to answer ExpiredToken rather than an unknown key)."""


@dataclass(frozen=True, slots=True)
class Session:
    """Live credentials and the function they act as."""

    credentials: SessionCredentials
    principal: FunctionPrincipal


def new_credentials() -> SessionCredentials:
    """Random credentials shaped as AWS's temporary ones: a 20-character ``ASIA`` key id, a
    40-character secret, a session token."""
    key_id = KEY_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()
    secret = base64.b64encode(secrets.token_bytes(30)).decode()
    token = base64.b64encode(secrets.token_bytes(96)).decode()
    return SessionCredentials(key_id, secret, token)


def principal_of(version: FunctionVersion) -> FunctionPrincipal:
    """Whom an environment of ``version`` acts as: its function's role, account and region."""
    return FunctionPrincipal(version.account_id, version.region, version.name, version.version, version.role)


class EnvironmentCredentials:
    """The credentials of every live environment (a ``sandbox.launcher.CredentialIssuer``)."""

    def __init__(self) -> None:
        self._live: dict[str, Session] = {}
        self._uids: dict[str, tuple[int, ...]] = {}  # access key id => the uids it holds
        self._by_uid: dict[int, Session] = {}
        self._revoked: dict[str, None] = {}  # insertion-ordered: the oldest are forgotten first

    def issue(self, version: FunctionVersion, uids: Iterable[int] = ()) -> SessionCredentials:
        """New credentials acting as ``version``'s function, valid until ``revoke``, for an
        environment whose processes run as ``uids`` (none: the engine's own uid)."""
        credentials = new_credentials()
        session = Session(credentials, principal_of(version))
        self._live[credentials.access_key_id] = session
        held = self._uids[credentials.access_key_id] = tuple(uids)
        for uid in held:
            self._by_uid[uid] = session
        return credentials

    def revoke(self, access_key_id: str) -> None:
        """End credentials (their environment has stopped); unknown ids are ignored."""
        session = self._live.pop(access_key_id, None)
        if session is not None:
            for uid in self._uids.pop(access_key_id, ()):
                if self._by_uid.get(uid) is session:  # not a later environment's, given the uid since
                    del self._by_uid[uid]
            self._revoked[access_key_id] = None
            while len(self._revoked) > REVOKED_KEPT:
                del self._revoked[next(iter(self._revoked))]

    def find(self, access_key_id: str) -> Session | None:
        """The live session of ``access_key_id``, or None."""
        return self._live.get(access_key_id)

    def of_uid(self, uid: int) -> Session | None:
        """The live session of the environment whose processes run as ``uid``, or None."""
        return self._by_uid.get(uid)

    def revoked(self, access_key_id: str) -> bool:
        """Whether ``access_key_id`` named credentials that have ended (recently enough to be
        remembered)."""
        return access_key_id in self._revoked
