"""Which account and region a request acts in, and so which resources it sees.

Lambda's resources live in one account and one region: two accounts' functions of the same name
never meet, and a function in ``us-east-1`` is not reachable through ``eu-west-1``. Flare keeps
that: every function, version, alias, layer, queue, stream, log group, setting and limit belongs
to one ``Scope``.

A request's scope is its authenticated identity's (``flare.auth``): the account of its access
key, as LocalStack does for local work (an access key id of 12 digits is that account, any other
key the default account, ``000000000000`` unless configured; an execution environment's
credentials are their function's account), and the region of its SigV4 credential scope (when it
looks like a region, else the default region). All pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
