"""Who a request comes from, in both ``--auth`` modes: the account of its key, the region of its
credential, AWS's refusals, a key's deletion taking effect, and an environment's credentials
acting as its function whatever account they claim."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from flare.auth.authenticator import MISMATCH, Authenticator, AuthMode, Unverified
from flare.auth.environment_credentials import EnvironmentCredentials
from flare.auth.identity import Identity
from flare.clock import ManualClock
from flare.errors import (
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)
from flare.scope import Scope
from flare.store.access_keys import AccessKey, AccessKeyStore
from flare.store.database import Database
from tests.unit.test_launcher import version

DEFAULT = Scope("000000000000", "us-east-1")
TARGET = "http://127.0.0.1:9000/2015-03-31/functions/f/invocations?Qualifier=1"


def request(
    key: str, secret: str, region: str = "eu-west-1", token: str | None = None, service: str = "lambda"
) -> tuple[dict[str, str], str, str, bytes]:
    """(headers, path, query, body) of an invoke botocore signed now."""
    signed = AWSRequest("POST", TARGET, data=b'{"x": 1}')
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(signed)
    assert signed.url is not None
    split = urlsplit(signed.url)
    headers = {name.lower(): value for name, value in signed.headers.items()}
    headers["host"] = split.netloc
    return headers, split.path, split.query, b'{"x": 1}'


def who(
    authenticator: Authenticator, sent: tuple[dict[str, str], str, str, bytes], origin: int | None = None
) -> Identity:
    headers, path, query, body = sent
    found = authenticator.identify(headers, dict(parse_qsl(query)), "lambda", origin)
    if isinstance(found, Unverified):
        found = authenticator.verify(found, "POST", path, query, headers, body)
    return found


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall_start=time.time())  # botocore signs with the real time


@pytest.fixture
def keys(tmp_path: Path) -> AccessKeyStore:
    return AccessKeyStore(Database(tmp_path / "flare.db", DEFAULT))


def authenticator(
    mode: AuthMode, keys: AccessKeyStore, clock: ManualClock, sessions: EnvironmentCredentials | None = None
) -> Authenticator:
    return Authenticator(mode, keys.find, sessions or EnvironmentCredentials(), clock, DEFAULT)


@pytest.mark.parametrize(
    ("key", "region", "scope"),
    [
        ("111122223333", "eu-west-1", Scope("111122223333", "eu-west-1")),
        ("test", "ap-south-1", Scope("000000000000", "ap-south-1")),
        ("AKIAIOSFODNN7EXAMPLE", "local", Scope("000000000000", "us-east-1")),  # no region: the default
        ("111122223333", "us-gov-west-1", Scope("111122223333", "us-gov-west-1")),
    ],
)
def test_open_mode_takes_any_signature_and_its_key_picks_the_account(
    keys: AccessKeyStore, clock: ManualClock, key: str, region: str, scope: Scope
) -> None:
    found = who(authenticator(AuthMode.OPEN, keys, clock), request(key, "any secret", region))
    assert found.scope == scope and found.access_key_id == key and found.function is None


def test_open_mode_still_refuses_unsigned_and_malformed_requests(
    keys: AccessKeyStore, clock: ManualClock
) -> None:
    open_mode = authenticator(AuthMode.OPEN, keys, clock)
    with pytest.raises(MissingAuthenticationToken):
        open_mode.identify({}, {}, "lambda")
    with pytest.raises(IncompleteSignature):
        open_mode.identify({"authorization": "AWS4-HMAC-SHA256 Credential=x/y"}, {}, "lambda")


def test_sigv4_mode_accepts_a_stored_key_and_acts_in_its_account(
    keys: AccessKeyStore, clock: ManualClock
) -> None:
    key = keys.create("111122223333", DEFAULT.account, clock.wall())
    found = who(authenticator(AuthMode.SIGV4, keys, clock), request(key.access_key_id, key.secret))
    assert found.scope == Scope("111122223333", "eu-west-1")


def test_sigv4_mode_refuses_an_unknown_key_and_a_wrong_secret(
    keys: AccessKeyStore, clock: ManualClock
) -> None:
    key = keys.create(DEFAULT.account, DEFAULT.account, clock.wall())
    strict = authenticator(AuthMode.SIGV4, keys, clock)
    with pytest.raises(UnrecognizedClient, match=r"The security token included in the request is invalid\."):
        who(strict, request("AKIAUNKNOWN000000000", key.secret))
    with pytest.raises(InvalidSignature) as raised:
        who(strict, request(key.access_key_id, key.secret + "x"))
    assert str(raised.value) == MISMATCH


def test_sigv4_mode_refuses_a_signature_older_than_15_minutes(
    keys: AccessKeyStore, clock: ManualClock
) -> None:
    key = keys.create(DEFAULT.account, DEFAULT.account, clock.wall())
    strict = authenticator(AuthMode.SIGV4, keys, clock)
    sent = request(key.access_key_id, key.secret)
    who(strict, sent)
    clock.advance(16 * 60)
    with pytest.raises(InvalidSignature, match="Signature expired"):
        who(strict, sent)


def test_sigv4_mode_checks_the_service_the_route_belongs_to(keys: AccessKeyStore, clock: ManualClock) -> None:
    key = keys.create(DEFAULT.account, DEFAULT.account, clock.wall())
    headers, _, _, _ = request(key.access_key_id, key.secret, service="sqs")
    with pytest.raises(InvalidSignature, match="scoped to correct service: 'lambda'"):
        authenticator(AuthMode.SIGV4, keys, clock).identify(headers, {}, "lambda")


def test_a_deleted_key_stops_working_within_a_second(keys: AccessKeyStore, clock: ManualClock) -> None:
    key = keys.create(DEFAULT.account, DEFAULT.account, clock.wall())
    strict = authenticator(AuthMode.SIGV4, keys, clock)
    who(strict, request(key.access_key_id, key.secret))
    keys.delete(key.access_key_id)
    clock.advance(1.5)
    with pytest.raises(UnrecognizedClient):
        who(strict, request(key.access_key_id, key.secret))


def test_a_long_term_key_with_a_session_token_is_unrecognized(
    keys: AccessKeyStore, clock: ManualClock
) -> None:
    key = keys.create(DEFAULT.account, DEFAULT.account, clock.wall())
    with pytest.raises(UnrecognizedClient):
        who(authenticator(AuthMode.SIGV4, keys, clock), request(key.access_key_id, key.secret, token="t"))


# the launcher tests' version of ``orders`` (account 123456789012), with an execution role
VERSION = dataclasses.replace(version(), role="arn:aws:iam::123456789012:role/service/orders-role")


@pytest.mark.parametrize("mode", list(AuthMode))
def test_an_environments_credentials_act_as_its_function_whatever_they_claim(
    keys: AccessKeyStore, clock: ManualClock, mode: AuthMode
) -> None:
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION)
    assert issued.access_key_id.startswith("ASIA")
    found = who(
        authenticator(mode, keys, clock, sessions),
        request(issued.access_key_id, issued.secret_access_key, "ap-south-1", issued.session_token),
    )
    assert found.account == "123456789012" and found.region == "ap-south-1"
    assert found.function is not None
    assert found.function.arn == "arn:aws:sts::123456789012:assumed-role/orders-role/orders"


@pytest.mark.parametrize("mode", list(AuthMode))
def test_an_environments_credentials_are_verified_in_every_mode(
    keys: AccessKeyStore, clock: ManualClock, mode: AuthMode
) -> None:
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION)
    checking = authenticator(mode, keys, clock, sessions)
    with pytest.raises(InvalidSignature):
        who(checking, request(issued.access_key_id, "guessed", token=issued.session_token))
    with pytest.raises(UnrecognizedClient):
        who(checking, request(issued.access_key_id, issued.secret_access_key, token="another token"))
    with pytest.raises(UnrecognizedClient):
        who(checking, request(issued.access_key_id, issued.secret_access_key))  # no token


@pytest.mark.parametrize("mode", list(AuthMode))
def test_an_ended_environments_credentials_are_expired(
    keys: AccessKeyStore, clock: ManualClock, mode: AuthMode
) -> None:
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION)
    checking = authenticator(mode, keys, clock, sessions)
    sent = request(issued.access_key_id, issued.secret_access_key, token=issued.session_token)
    who(checking, sent)
    sessions.revoke(issued.access_key_id)
    with pytest.raises(ExpiredToken):
        who(checking, sent)


ENV_UID = 20_005


@pytest.mark.parametrize("key", ["test", "111122223333", "AKIAIOSFODNN7EXAMPLE"])
def test_open_mode_takes_a_request_from_an_environment_as_its_function_whatever_the_key(
    keys: AccessKeyStore, clock: ManualClock, key: str
) -> None:
    sessions = EnvironmentCredentials()
    sessions.issue(VERSION, (ENV_UID,))
    checking = authenticator(AuthMode.OPEN, keys, clock, sessions)
    found = who(checking, request(key, "anything", "ap-south-1"), origin=ENV_UID)
    assert found.function is not None and found.function.function_name == "orders"
    assert found.scope == Scope("123456789012", "ap-south-1")
    # the same key from outside every environment is the key's own account
    assert who(checking, request(key, "anything", "ap-south-1")).function is None


def test_sigv4_mode_checks_the_key_of_a_request_from_an_environment_and_still_acts_as_the_function(
    keys: AccessKeyStore, clock: ManualClock
) -> None:
    sessions = EnvironmentCredentials()
    sessions.issue(VERSION, (ENV_UID,))
    admin = keys.create(DEFAULT.account, DEFAULT.account, 1.0)
    checking = authenticator(AuthMode.SIGV4, keys, clock, sessions)
    found = who(checking, request(admin.access_key_id, admin.secret), origin=ENV_UID)
    assert found.function is not None and found.account == "123456789012"
    with pytest.raises(UnrecognizedClient):
        who(checking, request("test", "test"), origin=ENV_UID)
    with pytest.raises(InvalidSignature):
        who(checking, request(admin.access_key_id, "guessed"), origin=ENV_UID)


@pytest.mark.parametrize("mode", list(AuthMode))
def test_an_environments_own_credentials_from_its_own_uid_are_checked_as_always(
    keys: AccessKeyStore, clock: ManualClock, mode: AuthMode
) -> None:
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION, (ENV_UID,))
    checking = authenticator(mode, keys, clock, sessions)
    own = request(issued.access_key_id, issued.secret_access_key, token=issued.session_token)
    assert who(checking, own, origin=ENV_UID).function is not None
    with pytest.raises(InvalidSignature):
        who(checking, request(issued.access_key_id, "guessed", token=issued.session_token), origin=ENV_UID)


@pytest.mark.parametrize("mode", list(AuthMode))
def test_a_sandbox_uid_that_no_live_environment_holds_is_nobody(
    keys: AccessKeyStore, clock: ManualClock, mode: AuthMode
) -> None:
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION, (ENV_UID,))
    checking = authenticator(mode, keys, clock, sessions)
    with pytest.raises(UnrecognizedClient):
        who(checking, request("test", "test"), origin=ENV_UID + 1)
    sessions.revoke(issued.access_key_id)
    with pytest.raises(UnrecognizedClient):
        who(checking, request("test", "test"), origin=ENV_UID)


def test_a_uid_given_to_a_new_environment_is_not_taken_back_by_the_old_ones_end() -> None:
    sessions = EnvironmentCredentials()
    old = sessions.issue(VERSION, (ENV_UID,))
    new = sessions.issue(dataclasses.replace(VERSION, name="billing"), (ENV_UID,))
    sessions.revoke(old.access_key_id)
    found = sessions.of_uid(ENV_UID)
    assert found is not None and found.credentials == new and found.principal.function_name == "billing"
    sessions.revoke(new.access_key_id)
    assert sessions.of_uid(ENV_UID) is None


def test_a_snapshots_credentials_hold_every_uid_of_its_block() -> None:
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION, range(100_000, 101_000))
    assert all(sessions.of_uid(uid) is not None for uid in (100_000, 100_001, 100_999))
    assert sessions.of_uid(101_000) is None
    sessions.revoke(issued.access_key_id)
    assert sessions.of_uid(100_500) is None


def test_the_access_key_store_keeps_one_key_per_account(keys: AccessKeyStore) -> None:
    first = keys.create("111122223333", DEFAULT.account, 1.0)
    assert first.access_key_id == "111122223333" and keys.find("111122223333") == first
    default = keys.create(DEFAULT.account, DEFAULT.account, 2.0)
    assert default.access_key_id.startswith("AKIA") and len(default.access_key_id) == 20
    assert [key.access_key_id for key in keys.list()] == ["111122223333", default.access_key_id]
    with pytest.raises(Exception, match="111122223333"):
        keys.add(AccessKey("111122223333", "s", "111122223333", 3.0))
    assert keys.delete("111122223333") and not keys.delete("111122223333")


@pytest.mark.parametrize("part", ["region", "token", "header"])
def test_text_no_signer_could_encode_is_a_refusal_not_a_crash(
    keys: AccessKeyStore, clock: ManualClock, part: str
) -> None:
    """Bytes that are not UTF-8 reach the verifier as lone surrogates (aiohttp decodes with
    ``surrogateescape``): no client could have signed them."""
    admin = keys.create(DEFAULT.account, DEFAULT.account, 1.0)
    sessions = EnvironmentCredentials()
    issued = sessions.issue(VERSION)
    headers, path, query, body = request(admin.access_key_id, admin.secret, "us-east-1")
    if part == "region":
        headers["authorization"] = headers["authorization"].replace("/us-east-1/", "/\udcfc/")
    elif part == "header":
        headers["authorization"] = headers["authorization"].replace("SignedHeaders=", "SignedHeaders=x-odd;")
        headers["x-odd"] = "\udc8e"
    else:
        headers, path, query, body = request(
            issued.access_key_id, issued.secret_access_key, token=issued.session_token
        )
        headers["x-amz-security-token"] = "\udc8e"
    with pytest.raises((InvalidSignature, UnrecognizedClient)):
        who(authenticator(AuthMode.SIGV4, keys, clock, sessions), (headers, path, query, body))
