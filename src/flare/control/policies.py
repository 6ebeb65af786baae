"""Resource-based policies of functions, versions and aliases: the stateful side.

``FunctionPolicies`` serves AddPermission, RemovePermission and GetPolicy (a function's policy,
or with a ``Qualifier`` a published version's or an alias's: each is a policy of its own) and
PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy, which read and replace the same
documents by ARN. Documents are built and checked by ``flare.control.permissions``.

Each policy has a RevisionId of its own, a new UUID at every change (the function's RevisionId
does not change). A ``RevisionId`` in a request must match it, else PreconditionFailed (also
when there is no policy yet). Policies go with what they belong to: the registry's listeners
drop a deleted function's, version's and alias's policies (``function_changed``,
``alias_deleted``).

Kept durable in a ``PolicyStorage`` (``store/backend.py``) and cached::

    _policies   (function name, qualifier or "") => PolicyRow

A store shared by a cluster's nodes may refuse a write made against a policy another node
changed meanwhile (``StaleRevision``); the change is then made once more against the policy
read back (``_once_more``), so two nodes' AddPermission calls both land, and a RevisionId the
request named is checked against what is really stored.

Contract: called from one thread (the event loop's), like the registry.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flare.control import permissions
from flare.control.arns import function_arn, parse_function_name
from flare.control.model import LATEST
from flare.control.registry import Registry
from flare.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
    StaleRevision,
)
from flare.store.policies import PolicyRow
from flare.store.storage import PolicyStorage

T = TypeVar("T")

LATEST_NOT_SUPPORTED = "We currently do not support adding policies for $LATEST."
NO_SUCH_RESOURCE = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
REVISION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetPolicy API to retrieve the latest Revision Id"
)


def _null(field: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: "
        "Member must not be null"
    )


class FunctionPolicies:
    """Every function's, version's and alias's policy. See the module docstring."""

    def __init__(self, store: PolicyStorage, registry: Registry, region: str, account_id: str) -> None:
        self._store = store
        self._registry = registry
        self._region = region
        self._account_id = account_id
        self._policies: dict[tuple[str, str], PolicyRow] = {}

    def __repr__(self) -> str:
        return f"<FunctionPolicies {len(self._policies)}>"

    def load(self) -> None:
        """Fill the cache from the store. Call at start, and when another node changed it."""
        self._policies = {(row.name, row.qualifier): row for row in self._store.all()}

    def statements(self, name: str, qualifier: str | None) -> list[dict[str, Any]]:
        """A copy of the statements of ``name``'s policy (``qualifier`` None: the function's
        own), empty when it has none: what ``permissions.evaluate`` reads."""
        row = self._policies.get((name, qualifier or ""))
        return copy.deepcopy(permissions.statements_of(row.document)) if row else []

    # -- AddPermission / RemovePermission / GetPolicy ---------------------------------------

    def add_permission(
        self, function_name: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """AddPermission's body: ``{"Statement": <the statement as JSON>}``.

        Raises InvalidParameterValue ($LATEST, principal...), ResourceNotFound (function,
        version or alias), PreconditionFailed, ResourceConflict (the Sid exists),
        PolicyLengthExceeded."""
        return self._once_more(lambda: self._add_permission(function_name, qualifier, body))

    def _add_permission(
        self, function_name: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        if parse_function_name(function_name, qualifier)[1] == LATEST:
            raise InvalidParameterValue(LATEST_NOT_SUPPORTED)
        name, parsed = self._registry.locate(function_name, qualifier)
        current = self._policies.get((name, parsed or ""))
        self._check_revision(current, body.get("RevisionId"))
        sid = body.get("StatementId")
        if not isinstance(sid, str):
            raise _null("statementId")
        if current is not None and sid in permissions.sids(current.document):
            raise ResourceConflict(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
                "or remove the existing statement."
            )
        statement = permissions.statement_from_request(body, self._arn(name, parsed))
        document = permissions.with_statement(current.document if current else None, statement)
        permissions.check_size(document)
        self._put(name, parsed, document)
        return {"Statement": permissions.dump(statement)}

    def remove_permission(
        self, function_name: str, qualifier: str | None, sid: str, revision: str | None
    ) -> None:
        """RemovePermission; the policy goes when its last statement does.

        Raises ResourceNotFound (function, alias, policy or statement), PreconditionFailed."""
        self._once_more(lambda: self._remove_permission(function_name, qualifier, sid, revision))

    def _remove_permission(
        self, function_name: str, qualifier: str | None, sid: str, revision: str | None
    ) -> None:
        name, _ = parse_function_name(function_name, qualifier)
        if not self._registry.has_function(name):
            raise ResourceNotFound(f"No policy found for: {self._arn(name, None)}")
        name, parsed = self._unqualified_latest(*self._registry.locate(function_name, qualifier))
        current = self._policies.get((name, parsed or ""))
        if current is None:
            raise ResourceNotFound(NO_POLICY)
        if sid not in permissions.sids(current.document):
            raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
        self._check_revision(current, revision)
        document = permissions.without_statement(current.document, sid)
        if permissions.statements_of(document):
            self._put(name, parsed, document)
        else:
            self._drop(name, parsed or "")

    def get_policy(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetPolicy's body: ``Policy`` (the document as JSON) and ``RevisionId``.
        Raises ResourceNotFound (no such function, version, alias or policy)."""
        try:
            name, parsed = self._unqualified_latest(*self._registry.locate(function_name, qualifier))
        except ResourceNotFound:
            raise ResourceNotFound(NO_SUCH_RESOURCE) from None
        return self._answer(self._existing(name, parsed))

    # -- Put / Get / DeleteResourcePolicy ---------------------------------------------------

    def put_resource_policy(self, resource_arn: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PutResourcePolicy: replace the policy of the function, version or alias
        ``resource_arn`` names (statements AddPermission added included).

        Raises InvalidParameterValue (not a valid policy; $LATEST), ResourceNotFound,
        PreconditionFailed, PolicyLengthExceeded."""
        return self._once_more(lambda: self._put_resource_policy(resource_arn, body))

    def _put_resource_policy(self, resource_arn: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name, parsed = self._resource(resource_arn)
        if parsed == LATEST:
            raise InvalidParameterValue(LATEST_NOT_SUPPORTED)
        text = body.get("Policy")
        if not isinstance(text, str):
            raise _null("policy")
        document = permissions.parse_document(text)
        self._check_revision(self._policies.get((name, parsed or "")), body.get("RevisionId"))
        return self._answer(self._put(name, parsed, document))

    def get_resource_policy(self, resource_arn: str) -> dict[str, Any]:
        """GetResourcePolicy's body. Raises ResourceNotFound."""
        return self._answer(self._existing(*self._unqualified_latest(*self._resource(resource_arn))))

    def delete_resource_policy(self, resource_arn: str, revision: str | None) -> None:
        """DeleteResourcePolicy. Raises ResourceNotFound, PreconditionFailed."""
        name, parsed = self._unqualified_latest(*self._resource(resource_arn))
        self._check_revision(self._existing(name, parsed), revision)
        self._drop(name, parsed or "")

    # -- registry listeners -----------------------------------------------------------------

    def function_changed(self, name: str, version: str | None) -> None:
        """Version listener: a deleted function loses every policy, a deleted version its own
        (``$LATEST`` changes in place: nothing to drop)."""
        if version is None:
            self._store.delete_function(name)
            self._policies = {key: row for key, row in self._policies.items() if key[0] != name}
        elif version != LATEST:
            self._drop(name, version)

    def alias_deleted(self, name: str, alias: str) -> None:
        """Alias listener: a deleted alias loses its policy."""
        self._drop(name, alias)

    # -- internals --------------------------------------------------------------------------

    def _arn(self, name: str, qualifier: str | None) -> str:
        return function_arn(self._region, self._account_id, name, qualifier)

    @staticmethod
    def _unqualified_latest(name: str, qualifier: str | None) -> tuple[str, str | None]:
        """``$LATEST`` has no policy of its own: it reads as the function's."""
        return name, None if qualifier == LATEST else qualifier

    def _resource(self, resource_arn: str) -> tuple[str, str | None]:
        """The function and qualifier a policy ARN names. A ``runtime/...`` ARN is never found."""
        if ":function:" not in resource_arn:
            raise ResourceNotFound(NO_SUCH_RESOURCE)
        return self._registry.locate(resource_arn, None)

    def _existing(self, name: str, qualifier: str | None) -> PolicyRow:
        row = self._policies.get((name, qualifier or ""))
        if row is None:
            raise ResourceNotFound(NO_SUCH_RESOURCE)
        return row

    @staticmethod
    def _check_revision(current: PolicyRow | None, revision: object) -> None:
        if revision is not None and (current is None or revision != current.revision):
            raise PreconditionFailed(REVISION_MESSAGE)

    @staticmethod
    def _answer(row: PolicyRow) -> dict[str, Any]:
        return {"Policy": permissions.dump(row.document), "RevisionId": row.revision}

    def _once_more(self, change: Callable[[], T]) -> T:
        """``change()``; when the store refused its write (another node changed the policy
        first), read every policy back and make it once more. A second refusal is a conflict."""
        try:
            return change()
        except StaleRevision:
            self.load()
        try:
            return change()
        except StaleRevision:
            self.load()
            raise ResourceConflict(
                "The operation cannot be performed at this time. The policy is being changed by "
                "another request; try again."
            ) from None

    def _put(self, name: str, qualifier: str | None, document: dict[str, Any]) -> PolicyRow:
        """Store ``document`` as the new policy, over the cached one (its RevisionId expected).
        Raises StaleRevision (nothing changed) when a shared store's policy moved."""
        current = self._policies.get((name, qualifier or ""))
        row = PolicyRow(name, qualifier or "", document, str(uuid.uuid4()))
        self._store.put(row, current.revision if current is not None else "")
        self._policies[(name, row.qualifier)] = row
        return row

    def _drop(self, name: str, qualifier: str) -> None:
        if self._policies.pop((name, qualifier), None) is not None:
            self._store.delete(name, qualifier)
