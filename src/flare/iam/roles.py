"""The policies attached to execution roles: managed through ``/flare/v1/roles`` (``flare roles``),
kept in a ``RolePolicyStorage`` (``store/backend.py``), compiled once per role for ``authorize``.

A role is named by its ARN (``arn:aws:iam::123456789012:role/service-role/my-role``, the ``Role``
of CreateFunction) and belongs to the account that ARN names: a caller manages only its own
account's roles (another's is ``AccessDenied``). A role holds named policies, like IAM's inline
policies: ``put`` adds or replaces one (checked as IAM checks it, ``iam/policy.py``; their
compact JSON together at most 10,240 characters, IAM's limit, else ``LimitExceeded``), ``get``
answers one, ``documents`` all, ``delete`` one or every one. A role with no policy gets the
default one (``iam/defaults.py``). Deleting a function leaves its role's policies alone.

The cache::

    _compiled   role ARN => its policies compiled, in name order (dropped at every change)

Contract: called from one thread (the event loop's).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flare.errors import AccessDenied, InvalidParameterValue, LimitExceeded, NoSuchEntity
from flare.iam import policy
from flare.store.storage import RolePolicyStorage

MAX_ROLE_POLICY_CHARS = 10240
ROLE_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:iam::(?P<account>\d{12}):role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})"
)
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")


def role_account(role_arn: str) -> str:
    """The account of a well-formed role ARN. Raises InvalidParameterValue for anything else."""
    match = ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise InvalidParameterValue(f"Invalid role ARN: {role_arn}")
    return match["account"]


def role_name(role_arn: str) -> str:
    """The name of the role (the ARN's last part)."""
    return role_arn.rsplit("/", 1)[-1]


def _compact(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))


class RolePolicies:
    """Every role's policies, durable and compiled. See the module docstring."""

    def __init__(self, store: RolePolicyStorage) -> None:
        self._store = store
        self._compiled: dict[str, tuple[policy.Policy, ...]] = {}

    def __repr__(self) -> str:
        return f"<RolePolicies {len(self._compiled)} compiled>"

    def _own(self, caller_account: str, role_arn: str) -> None:
        if role_account(role_arn) != caller_account:
            raise AccessDenied(
                f"User: arn:aws:iam::{caller_account}:root is not authorized to manage the policies of "
                f"{role_arn}: it belongs to another account"
            )

    def put(self, caller_account: str, role_arn: str, name: str, text: str) -> None:
        """Attach (or replace) the policy ``name`` of ``role_arn``. Raises InvalidParameterValue,
        AccessDenied, MalformedPolicyDocument, LimitExceeded."""
        self._own(caller_account, role_arn)
        if not POLICY_NAME.fullmatch(name):
            raise InvalidParameterValue(f"Invalid policy name: {name}")
        document = policy.parse(text)
        others = sum(len(_compact(json.loads(d))) for n, d in self._store.documents(role_arn) if n != name)
        if others + len(_compact(document)) > MAX_ROLE_POLICY_CHARS:
            limit, role = MAX_ROLE_POLICY_CHARS, role_name(role_arn)
            raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for role {role}")
        self._store.put(role_arn, name, _compact(document))
        self._compiled.pop(role_arn, None)

    def get(self, caller_account: str, role_arn: str, name: str) -> dict[str, Any]:
        """The document of ``role_arn``'s policy ``name``. Raises NoSuchEntity, AccessDenied."""
        self._own(caller_account, role_arn)
        for found, text in self._store.documents(role_arn):
            if found == name:
                loaded: dict[str, Any] = json.loads(text)
                return loaded
        raise NoSuchEntity(f"The role policy with name {name} cannot be found.")

    def documents(self, caller_account: str, role_arn: str) -> list[tuple[str, dict[str, Any]]]:
        """``(name, document)`` of every policy of ``role_arn`` (none: the default applies)."""
        self._own(caller_account, role_arn)
        return [(name, json.loads(text)) for name, text in self._store.documents(role_arn)]

    def roles(self, caller_account: str) -> list[tuple[str, list[str]]]:
        """``(role ARN, policy names)`` of the caller's account's roles that have policies."""
        return self._store.roles(caller_account)

    def delete(self, caller_account: str, role_arn: str, name: str | None) -> int:
        """Detach ``role_arn``'s policy ``name`` (None: all of them); how many went. Raises
        NoSuchEntity when a named one is not there, AccessDenied."""
        self._own(caller_account, role_arn)
        if name is None:
            gone = self._store.delete_role(role_arn)
        elif self._store.delete(role_arn, name):
            gone = 1
        else:
            raise NoSuchEntity(f"The role policy with name {name} cannot be found.")
        self._compiled.pop(role_arn, None)
        return gone

    def forget(self, role_arn: str) -> None:
        """Another node changed ``role_arn``'s policies: compile them again when next asked."""
        self._compiled.pop(role_arn, None)

    def forget_all(self) -> None:
        """Compile every role's policies again when next asked (changes may have been missed)."""
        self._compiled.clear()

    def compiled(self, role_arn: str) -> tuple[policy.Policy, ...]:
        """``role_arn``'s policies, compiled (empty: it has none, the default applies)."""
        found = self._compiled.get(role_arn)
        if found is None:
            found = tuple(
                policy.compile_policy(json.loads(text)) for _, text in self._store.documents(role_arn)
            )
            self._compiled[role_arn] = found
        return found
