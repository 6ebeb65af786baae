"""Who a request comes from, once ``auth`` has authenticated it.

An ``Identity`` is the one answer to "who is calling": the access key id the request was signed
with and the scope (account and region) it acts in; for an execution environment's temporary
credentials also the function whose they are (``FunctionPrincipal``), whatever account or
region the request itself claims. ``api/scoping.py`` routes by ``Identity.scope``; IAM
authorization (issue 13, point 2) will decide from the principal. Immutable and cheap to share:
the authenticator keeps one per credential it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.scope import Scope


@dataclass(frozen=True, slots=True)
class FunctionPrincipal:
    """The function an execution environment runs, as its credentials name it: the role it
    assumes, in its account and region."""

    account: str
    region: str
    function_name: str
    version: str
    role_arn: str

    @property
    def role_name(self) -> str:
        """The role's name: the last part of its ARN's resource (``arn:aws:iam::1:role/a/b`` → ``b``)."""
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        """The assumed-role session ARN AWS shows for a function's calls
        (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``)."""
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.function_name}"


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller: its access key id, the scope it acts in, and, for an
    environment's credentials, the function it is."""

    access_key_id: str
    scope: Scope
    function: FunctionPrincipal | None = None

    @property
    def account(self) -> str:
        return self.scope.account

    @property
    def region(self) -> str:
        return self.scope.region
