"""The admin key of a new data dir, made at the first ``flare serve --auth sigv4``.

A data dir without keys gets one, of the default account, so that someone can call the server
at all: it is written as the ``flare`` profile of the user's shared credentials file
(``profile.py``), where boto3, the AWS CLI and the ``flare`` CLI find it. When that profile
already exists (another data dir wrote it), its key becomes this data dir's admin key instead,
so the profile keeps working and is never changed. ``flare keys`` manages keys afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

from flare.auth.profile import PROFILE, credentials_file, has_profile, read_profile, write_profile
from flare.config import ServerConfig
from flare.scope import account_of
from flare.store.access_keys import AccessKey
from flare.store.storage import AccessKeyStorage


def usage(endpoint_url: str) -> list[str]:
    """How to sign with the ``flare`` profile, for the start-up banner."""
    return [
        f"  boto3: boto3.Session(profile_name={PROFILE!r}).client('lambda', endpoint_url={endpoint_url!r})",
        f"  AWS CLI: aws --profile {PROFILE} --endpoint-url {endpoint_url} lambda list-functions",
        f"  flare CLI: uses the {PROFILE!r} profile by itself; more keys: `flare keys create`",
    ]


def ensure_admin_key(
    keys: AccessKeyStorage, credentials: Path, default_account: str, now: float, endpoint_url: str
) -> list[str]:
    """Make (or adopt) the admin key when ``keys`` holds none (see the module docstring);
    the banner lines saying what was done and how to use it."""
    stored = keys.count()
    if stored:
        return [f"{stored} access key{'s' if stored > 1 else ''} in the data dir (`flare keys list`)"]
    found = read_profile(credentials)
    if found is not None:
        key_id, secret = found
        keys.add(AccessKey(key_id, secret, account_of(key_id, default_account), now, admin=True))
        return [
            f"new data dir: the {PROFILE!r} profile's key {key_id} (in {credentials}) is its admin key",
            *usage(endpoint_url),
        ]
    key = keys.create(default_account, default_account, now, admin=True)
    if has_profile(credentials):  # a [flare] section that holds no key: left as it is
        return [
            f"new data dir: admin key {key.access_key_id}, secret {key.secret}",
            f"  (the {PROFILE!r} profile in {credentials} holds no key and was left alone)",
        ]
    write_profile(credentials, key.access_key_id, key.secret)
    return [
        f"new data dir: admin key {key.access_key_id} written to {credentials} as profile {PROFILE!r}",
        *usage(endpoint_url),
    ]


def auth_banner(config: ServerConfig, keys: AccessKeyStorage, now: float) -> list[str]:
    """The start-up banner's lines on authentication: the mode, and in ``sigv4`` mode the admin
    key made (or adopted) for a new data dir (``ensure_admin_key``)."""
    if config.auth != "sigv4":
        return [
            "auth: open (any well-formed SigV4 signature is accepted, its access key picks the account; "
            "`--auth sigv4` verifies them)"
        ]
    lines = ensure_admin_key(keys, credentials_file(os.environ), config.account_id, now, config.endpoint_url)
    return ["auth: sigv4 (signatures verified against the data dir's access keys)", *lines]
