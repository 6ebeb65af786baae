"""Who a request comes from: the one place that says it (access key, account, region).

``flare serve --auth`` picks one of two modes:

* ``open`` (the default on loopback): local development as with LocalStack. A request must be
  signed (a well-formed SigV4 ``Authorization`` header or presigned query), but its signature is
  not checked: its access key picks the account (``scope.account_of``) and its credential the
  region. This costs a parse.
* ``sigv4``: AWS's checks, in AWS's order: the date (15 minutes of skew), the credential scope
  (service, terminator, date), the key (one of ``store/access_keys.py``'s), then the signature
  itself, recomputed by botocore's signer (``canonical.py``).

In both modes an unsigned request is refused (``MissingAuthenticationToken``), and a request
signed with an execution environment's credentials (``environment_credentials.py``) is checked
like ``sigv4``'s and acts as that environment's function, in its account, whatever else it
claims. An ended environment's credentials are ``ExpiredToken``. A request whose connection a
sandboxed environment's process opened (its ``origin``: the uid the kernel names,
``auth/connection_origin.py``) acts as that environment's function whatever key it is signed
with, as on Lambda, where a handler's every call comes from its role: with another key, open
mode checks the signature's form (as for anyone) and sigv4 mode the key and signature too.

Checking a signature needs the body, which a transport may not have read yet: ``identify``
answers an ``Identity`` at once when no signature needs checking, else an ``Unverified`` for
``verify`` to finish once the body is there. What repeats is cached: the identity per
credential, a key's row for a second (so ``flare keys delete`` takes effect within a second),
the epoch of each date, and (``canonical.py``) the signing key per key and date. Used from the
event loop's thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from flare.auth import sigv4
from flare.auth.canonical import Canonicalizer, bounded, signatures_match
from flare.auth.environment_credentials import EnvironmentCredentials, Session
from flare.auth.identity import Identity
from flare.clock import Clock
from flare.errors import ExpiredToken, InvalidSignature, UnrecognizedClient
from flare.scope import REGION, Scope, account_of
from flare.store.access_keys import AccessKey

KEY_TTL_S = 1.0
"""How long a key's row (or its absence) is trusted before the database is asked again."""
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)

KeyLookup = Callable[[str], "AccessKey | None"]
"""The stored key of an access key id, or None (``AccessKeyStore.find``)."""


class AuthMode(StrEnum):
    OPEN = "open"
    SIGV4 = "sigv4"


@dataclass(frozen=True, slots=True)
class Unverified:
    """A caller whose signature must still be checked (``Authenticator.verify``) against
    ``secret`` before it is ``identity``."""

    identity: Identity
    secret: str
    claim: sigv4.SignatureClaim


class Authenticator:
    """See the module docstring. ``default`` is the scope of an open-mode key that names no
    account (and the region of a credential that names no region)."""

    def __init__(
        self,
        mode: AuthMode,
        keys: KeyLookup,
        sessions: EnvironmentCredentials,
        clock: Clock,
        default: Scope,
        signers_wall: Callable[[], float] | None = None,
    ) -> None:
        """``signers_wall``: the time signatures are checked against (15 minutes of skew), when
        it is not ``clock.wall`` (a test clock moved ahead of the signers' real time)."""
        self.mode = mode
        self._find_key = keys
        self._sessions = sessions
        self._clock = clock
        self._signers_wall = signers_wall or clock.wall
        self.default_scope = default
        self._canonical = Canonicalizer()
        self._identities: dict[str, Identity] = {}  # credential => identity, keys and open mode
        # (session's key id, credential signed with) => identity, for environments' requests
        self._session_identities: dict[tuple[str, str], Identity] = {}
        self._keys: dict[str, tuple[float, AccessKey | None]] = {}  # key id => (read at, row)
        self._epochs: dict[str, float] = {}

    def identify(
        self, headers: Mapping[str, str], query: Mapping[str, str], service: str, origin: int | None = None
    ) -> Identity | Unverified:
        """Who the request says it is. ``headers`` answer lower-case names; ``service`` is the
        SigV4 service the route belongs to (``lambda``, ``sqs``…); ``origin`` the sandbox uid
        whose process opened the connection (None: from outside every environment). Raises
        AuthenticationFailed (MissingAuthenticationToken, IncompleteSignature,
        InvalidSignature, UnrecognizedClient, ExpiredToken) for what is already wrong."""
        if origin is not None:
            return self._from_environment(origin, headers, query, service)
        if self.mode is AuthMode.OPEN:
            authorization = headers.get("authorization")
            if authorization is not None:
                usual = sigv4.USUAL_HEADER.fullmatch(authorization)  # a credential seen before
                if usual is not None:
                    known = self._identities.get(usual.group(1))
                    date = headers.get("x-amz-date")
                    if known is not None and date is not None and sigv4.BASIC_FORMAT.fullmatch(date):
                        return known
        claim = sigv4.claim_of(headers, query)
        session = self._sessions.find(claim.access_key_id)
        if session is not None:
            return self._session_caller(claim, session, service)
        if self._sessions.revoked(claim.access_key_id):
            raise ExpiredToken()
        if self.mode is AuthMode.OPEN:
            return self._identity(claim, account_of(claim.access_key_id, self.default_scope.account))
        self._check(claim, service)
        key = self._key(claim.access_key_id)
        if key is None or claim.token is not None:  # a long-term key carries no session token
            raise UnrecognizedClient()
        return Unverified(self._identity(claim, key.account), key.secret, claim)

    def verify(
        self, caller: Unverified, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Identity:
        """``caller.identity`` once the request's signature is the one its secret gives it:
        ``method``, ``path`` and ``query`` as sent (raw; ``query`` without ``?``), ``headers``
        answering lower-case names (repeated ones joined with ``,``), the whole ``body``.
        Raises InvalidSignature."""
        expected = self._canonical.signature(caller.secret, caller.claim, method, path, query, headers, body)
        if not signatures_match(expected, caller.claim.signature):
            raise InvalidSignature(MISMATCH)
        return caller.identity

    def _session_caller(self, claim: sigv4.SignatureClaim, session: Session, service: str) -> Unverified:
        """An environment's credentials: checked as in sigv4 mode, acting as its function."""
        self._check(claim, service)
        token = session.credentials.session_token
        if claim.token is None or not signatures_match(token, claim.token):
            raise UnrecognizedClient()
        return Unverified(self._acting_as(session, claim), session.credentials.secret_access_key, claim)

    def _from_environment(
        self, uid: int, headers: Mapping[str, str], query: Mapping[str, str], service: str
    ) -> Identity | Unverified:
        """A request from a process of the environment running as ``uid``: its function's,
        whatever the key (see the module docstring). A sandbox uid no live environment holds
        (one that has ended) is UnrecognizedClient."""
        environment = self._sessions.of_uid(uid)
        if environment is None:
            raise UnrecognizedClient()
        claim = sigv4.claim_of(headers, query)
        if claim.access_key_id == environment.credentials.access_key_id:
            return self._session_caller(claim, environment, service)
        if self.mode is AuthMode.OPEN:
            return self._acting_as(environment, claim)
        self._check(claim, service)
        key = self._key(claim.access_key_id)  # another environment's credentials are no key here
        if key is None or claim.token is not None:
            raise UnrecognizedClient()
        return Unverified(self._acting_as(environment, claim), key.secret, claim)

    def _acting_as(self, session: Session, claim: sigv4.SignatureClaim) -> Identity:
        """The identity of ``session``'s function for a request signed with ``claim``'s
        credential (cached per session and credential)."""
        cache_key = (session.credentials.access_key_id, claim.credential)
        identity = self._session_identities.get(cache_key)
        if identity is None:
            principal = session.principal
            region = claim.region if REGION.fullmatch(claim.region) else principal.region
            identity = Identity(claim.access_key_id, Scope(principal.account, region), principal)
            bounded(self._session_identities)[cache_key] = identity
        return identity

    def _identity(self, claim: sigv4.SignatureClaim, account: str) -> Identity:
        """The identity of a key's credential (cached per credential)."""
        identity = self._identities.get(claim.credential)
        if identity is None or identity.account != account:
            region = claim.region if REGION.fullmatch(claim.region) else self.default_scope.region
            identity = Identity(claim.access_key_id, Scope(account, region))
            bounded(self._identities)[claim.credential] = identity
        return identity

    def _check(self, claim: sigv4.SignatureClaim, service: str) -> None:
        """AWS's checks before the key: the date, then the credential scope."""
        signed_at = self._epochs.get(claim.timestamp)
        if signed_at is None:
            signed_at = bounded(self._epochs)[claim.timestamp] = sigv4.epoch_of(claim.timestamp)
        sigv4.check_time(claim, signed_at, self._signers_wall())
        sigv4.check_scope(claim, service)

    def _key(self, access_key_id: str) -> AccessKey | None:
        """The stored key (re-read at most every ``KEY_TTL_S``)."""
        now = self._clock.now()
        cached = self._keys.get(access_key_id)
        if cached is not None and now - cached[0] < KEY_TTL_S:
            return cached[1]
        key = self._find_key(access_key_id)
        bounded(self._keys)[access_key_id] = (now, key)
        return key
