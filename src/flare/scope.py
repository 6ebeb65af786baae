"""Which account and region a request acts in, and so which resources it sees.

Lambda's resources live in one account and one region: two accounts' functions of the same name
never meet, and a function in ``us-east-1`` is not reachable through ``eu-west-1``. Flare keeps
that: every function, version, alias, layer, queue, stream, log group, setting and limit belongs
to one ``Scope``.

A request's scope comes from its SigV4 credential (``Authorization: AWS4-HMAC-SHA256
Credential=<key id>/<date>/<region>/<service>/aws4_request, ...`` or a presigned URL's
``X-Amz-Credential``), as LocalStack does for local work: an access key id of 12 digits is that
account, any other key the default account (``000000000000`` unless configured); the region is
the credential scope's (when it looks like a region). A request without a credential acts in
the default scope. Whether the signature is right is the trust issue's business (``--auth``),
not this module's. All pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

CREDENTIAL = "Credential="
QUERY_CREDENTIAL = "X-Amz-Credential"
# the region part of Lambda's ARN pattern (botocore's model): a credential scoped to anything
# else ("local", "") acts in the default region, since no ARN could name what it made
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")


@dataclass(frozen=True, slots=True)
class Scope:
    """One account in one region. ``key`` is how stores and files name it."""

    account: str
    region: str

    @property
    def key(self) -> str:
        return f"{self.account}:{self.region}"

    @classmethod
    def from_key(cls, key: str) -> Scope:
        account, _, region = key.partition(":")
        return cls(account, region)


def account_of(access_key_id: str, default_account: str) -> str:
    """The account an access key id acts for: itself when it is 12 digits, else the default."""
    if len(access_key_id) == 12 and access_key_id.isdigit():  # isdigit alone takes '²'
        return access_key_id if access_key_id.isascii() else default_account
    return default_account


def credential_of(authorization: str | None, query_credential: str | None = None) -> tuple[str, str] | None:
    """``(access key id, region)`` of a SigV4 credential (the header's, else the presigned
    query's ``X-Amz-Credential``), or None when there is none or it is malformed."""
    credential = None
    if authorization:
        start = authorization.find(CREDENTIAL)
        if start >= 0:
            start += len(CREDENTIAL)
            end = authorization.find(",", start)
            credential = authorization[start : end if end >= 0 else None].strip()
    if credential is None and query_credential:
        credential = query_credential
    if not credential:
        return None
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0] or not parts[2]:
        return None
    return parts[0], parts[2]


def scope_of(headers: Mapping[str, str], query: Mapping[str, str], default: Scope) -> Scope:
    """The scope a request acts in (see the module docstring). ``headers`` must answer
    ``authorization`` whatever its case (aiohttp's do; the front door's are lower-case)."""
    found = credential_of(headers.get("authorization"), query.get(QUERY_CREDENTIAL))
    if found is None:
        return default
    key_id, region = found
    return Scope(account_of(key_id, default.account), region if REGION.fullmatch(region) else default.region)
