"""What each store the rest of Flare calls must answer: one Protocol per concern, so that a
Redis-backed store (``flare.cluster``) can replace the SQLite one whole (``store/backend.py``
builds them). mypy strict checks that both kinds fit.

    FunctionStorage          the functions, versions, aliases and version counters of one scope
    AccessKeyStorage         the access keys ``--auth sigv4`` verifies (Flare's, not one scope's)
    PolicyStorage            the resource-based policies of one scope's functions, versions, aliases
    LayerStorage             the layer versions of one scope, their counters and permissions
    UrlStorage               the function URL configs of one scope
    FunctionSettingsStorage  the recursion and runtime management configs of one scope
    CodeSigningStorage       the code signing configs of one scope and their functions
    InvokeConfigStorage      the event invoke configs of one scope's functions
    MappingStorage           the event source mappings of one scope
    ScheduleStorage          the keep-warm schedules of one scope, and who runs each firing
    SettingsStorage          the reserved and provisioned concurrency settings of one scope
    RolePolicyStorage        the execution roles' policies (global: roles span regions)
    SecretStorage            Flare's own secrets (global)
    DurableStorage           the durable executions of one scope, their operations and history

What a store raises is part of its Protocol. ``flare.errors.StaleRevision`` is the one new
word: a store shared by several writers refuses a write made against a row that moved (another
node changed or deleted it, or created what this one thought new).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from flare.store.access_keys import AccessKey
from flare.store.code_signing import CodeSigningRow
from flare.store.durable import CHANGEABLE, ExecutionRow
from flare.store.function_settings import RuntimeManagementRow
from flare.store.functions import AliasRow, FunctionRow
from flare.store.layers import LayerVersionRow
from flare.store.policies import PolicyRow
from flare.store.schedules import ScheduleRow
from flare.store.settings import ProvisionedRow
from flare.store.urls import UrlRow


class FunctionStorage(Protocol):
    """The functions, published versions, aliases and version counters of one scope.

    Rows are ``FunctionRow``/``AliasRow`` (``store/functions.py``). A write is durable when it
    returns. Writes against a row that moved raise ``StaleRevision`` (a store with one writer
    never does)."""

    def transaction(self) -> AbstractContextManager[object]:
        """One transaction around the caller's writes to this and the other stores of the node's
        database (deleting a function with what belongs to it)."""
        ...

    def insert_function(self, row: FunctionRow) -> FunctionRow:
        """Store a new version; returns it with its creation ``seq``."""
        ...

    def update_function(self, row: FunctionRow, expected_revision: str | None = None) -> None:
        """Replace config, code and tags of an existing version (its ``seq`` kept). With
        ``expected_revision``, only if the stored version's RevisionId is still that."""
        ...

    def publish_version(self, row: FunctionRow) -> FunctionRow:
        """Store published version ``row.version`` and raise the function's counter to it."""
        ...

    def version_counters(self) -> dict[str, int]:
        """The highest version number ever published, per function name."""
        ...

    def version_counter(self, name: str) -> int | None:
        """The highest version number ever published for ``name`` (None: none, or no function)."""
        ...

    def delete_function(self, name: str) -> int:
        """Delete every version, alias and the counter of ``name`` at once; how many versions went."""
        ...

    def delete_version(self, name: str, version: str) -> int:
        """Delete one version; 1 if it existed, else 0."""
        ...

    def get_function(self, name: str, version: str) -> FunctionRow | None: ...

    def function_rows(self, name: str) -> list[FunctionRow]:
        """Every stored version of ``name``, in creation order ([] when there is none)."""
        ...

    def all_functions(self) -> list[FunctionRow]:
        """Every stored version, in creation order."""
        ...

    def code_digests(self) -> set[str]:
        """Every code digest some stored version of any scope uses."""
        ...

    def put_alias(self, row: AliasRow, expected_revision: str | None = None) -> None:
        """Insert or replace one alias. With ``expected_revision``, only while the stored alias
        has that RevisionId ('' : while there is none); a shared store also refuses an alias of a
        function that went. Raises StaleRevision when refused."""
        ...

    def delete_alias(self, name: str, alias: str) -> int: ...

    def all_aliases(self) -> list[AliasRow]:
        """Every stored alias, by function then alias name."""
        ...

    def function_aliases(self, name: str) -> list[AliasRow]:
        """The aliases of ``name``, by alias name."""
        ...


class AccessKeyStorage(Protocol):
    """The access keys ``--auth sigv4`` verifies signatures against (``store/access_keys.py``)."""

    def create(self, account: str, default_account: str, now: float, admin: bool = False) -> AccessKey:
        """A new key of ``account``, stored; raises ``KeyExists`` when the account has its key."""
        ...

    def add(self, key: AccessKey) -> None:
        """Store ``key`` as it is; raises ``KeyExists`` when its id is taken."""
        ...

    def find(self, access_key_id: str) -> AccessKey | None: ...

    def list(self) -> list[AccessKey]:
        """Every key, oldest first."""
        ...

    def delete(self, access_key_id: str) -> bool:
        """Remove a key; False when there was none."""
        ...

    def count(self) -> int: ...


class PolicyStorage(Protocol):
    """The resource-based policies of one scope by (function name, qualifier or '')."""

    def all(self) -> list[PolicyRow]:
        """Every policy, by function name then qualifier."""
        ...

    def put(self, row: PolicyRow, expected_revision: str | None = None) -> None:
        """Insert or replace ``row``; with ``expected_revision``, only while the stored policy's
        RevisionId is that ('' : while there is none). Raises StaleRevision otherwise."""
        ...

    def delete(self, name: str, qualifier: str) -> bool:
        """Drop one policy; True if there was one."""
        ...

    def delete_function(self, name: str) -> int:
        """Drop every policy of function ``name``; how many went."""
        ...


class LayerStorage(Protocol):
    """The layer versions of one scope by (name, version) (``store/layers.py``)."""

    def publish(self, name: str, build: Callable[[int], LayerVersionRow]) -> LayerVersionRow:
        """Store ``build(n)`` as version n of ``name``, n one above every number ever
        published for it (never reused), and raise the counter; the stored row."""
        ...

    def get(self, name: str, version: int) -> LayerVersionRow | None:
        """Version ``version`` of ``name``, deleted or not."""
        ...

    def live(self, name: str | None = None) -> list[LayerVersionRow]:
        """Every version not deleted (of ``name`` only, when given), by name then newest first."""
        ...

    def mark_deleted(self, name: str, version: int) -> bool:
        """Hide a version; True if it was live."""
        ...

    def set_policy(
        self,
        name: str,
        version: int,
        policy: list[dict[str, Any]],
        revision: str | None,
        expected_revision: str | None = None,
    ) -> None:
        """Replace the policy statements and RevisionId of a stored version. With
        ``expected_revision``, only while the stored policy's RevisionId is that ('' : while there
        is none); raises StaleRevision otherwise."""
        ...

    def purge_deleted(self, keep: set[tuple[str, int]]) -> list[tuple[str, int]]:
        """Drop the deleted versions not in ``keep``; the dropped (name, version) pairs."""
        ...

    def code_digests(self) -> set[str]:
        """The zip digest of every stored version of any scope (deleted ones included)."""
        ...


class UrlStorage(Protocol):
    """One scope's function URL configs by (function, alias or None) (``store/urls.py``)."""

    def all(self) -> list[UrlRow]:
        """Every config, by function then qualifier."""
        ...

    def put(self, row: UrlRow) -> None:
        """Insert ``row``, or replace the config of its (function, qualifier)."""
        ...

    def delete(self, function: str, qualifier: str | None) -> bool: ...

    def delete_function(self, function: str) -> int: ...


class FunctionSettingsStorage(Protocol):
    """One scope's recursion configs by function and runtime management configs by (function,
    version) (``store/function_settings.py``)."""

    def recursion(self) -> dict[str, str]: ...

    def put_recursion(self, name: str, recursive_loop: str) -> None: ...

    def runtime_management(self) -> list[RuntimeManagementRow]: ...

    def put_runtime_management(self, row: RuntimeManagementRow) -> None: ...

    def delete_version(self, name: str, version: str) -> None: ...

    def delete_function(self, name: str) -> None: ...


class CodeSigningStorage(Protocol):
    """One scope's code signing configs by id and bindings by function (``store/code_signing.py``)."""

    def configs(self) -> list[CodeSigningRow]:
        """Every config, oldest first."""
        ...

    def put_config(self, row: CodeSigningRow) -> CodeSigningRow:
        """Insert or replace a config (a new one gets the next ``seq``); as stored."""
        ...

    def delete_config(self, config_id: str) -> bool: ...

    def bindings(self) -> dict[str, str]:
        """Function name => the config id it uses."""
        ...

    def bind(self, name: str, config_id: str) -> None: ...

    def unbind(self, name: str) -> bool: ...


class InvokeConfigStorage(Protocol):
    """One scope's FunctionEventInvokeConfigs by (function, qualifier) (``store/events.py``)."""

    def put_invoke_config(self, function: str, qualifier: str, config: dict[str, Any]) -> None: ...

    def delete_invoke_configs(self, function: str, qualifier: str | None = None) -> int:
        """Delete one qualifier's config, or every config of ``function`` (qualifier None)."""
        ...

    def invoke_configs(self) -> dict[tuple[str, str], dict[str, Any]]: ...


class MappingStorage(Protocol):
    """One scope's event source mappings by UUID, each its configuration as a JSON object (AWS's
    field names and the private ``_`` keys of ``events/mappings.py``; ``_revision`` names the
    write that stored it) (``store/events.py``)."""

    def put_mapping(self, uuid: str, config: dict[str, Any], expected_revision: str | None = None) -> None:
        """Insert (at the end of creation order) or replace a mapping. With ``expected_revision``,
        only while the stored mapping's ``_revision`` is that ('' : while there is none, and no
        other mapping has its EventSourceArn and FunctionArn); else StaleRevision (a store with
        one writer never refuses)."""
        ...

    def delete_mapping(self, uuid: str) -> None:
        """Forget a mapping and its stream checkpoints (nothing if it is gone)."""
        ...

    def get_mapping(self, uuid: str) -> dict[str, Any] | None: ...

    def mappings(self) -> list[dict[str, Any]]:
        """Every mapping's configuration, in creation order."""
        ...


class ScheduleStorage(Protocol):
    """One scope's keep-warm schedules by id (``store/schedules.py``)."""

    def all(self) -> list[ScheduleRow]:
        """Every schedule, oldest first."""
        ...

    def put(self, row: ScheduleRow) -> None: ...

    def delete(self, schedule_id: str) -> bool: ...

    def claim(self, schedule_id: str, due: float) -> bool:
        """Whether this node runs the firing of ``schedule_id`` due at ``due`` (of several nodes
        whose timers fire for it, one does)."""
        ...


class SettingsStorage(Protocol):
    """One scope's reservations by function and provisioned configs by (function, qualifier)
    (``store/settings.py``)."""

    def reserved(self) -> dict[str, int]: ...

    def put_reserved(self, name: str, reserved: int) -> None: ...

    def delete_reserved(self, name: str) -> bool: ...

    def provisioned(self) -> list[ProvisionedRow]:
        """Every provisioned concurrency config, by name then qualifier."""
        ...

    def put_provisioned(self, row: ProvisionedRow) -> None: ...

    def delete_provisioned(self, name: str, qualifier: str) -> bool: ...


class RolePolicyStorage(Protocol):
    """Named policy documents (JSON text) by role ARN (``store/role_policies.py``)."""

    def put(self, role_arn: str, name: str, document: str) -> None: ...

    def documents(self, role_arn: str) -> list[tuple[str, str]]:
        """``(name, document)`` of every policy of ``role_arn``, by name."""
        ...

    def roles(self, account: str) -> list[tuple[str, list[str]]]:
        """``(role ARN, policy names)`` of every role of ``account`` with a policy, by ARN."""
        ...

    def delete(self, role_arn: str, name: str) -> bool: ...

    def delete_role(self, role_arn: str) -> int: ...


class SecretStorage(Protocol):
    """Flare's own random keys by name (``store/secrets.py``)."""

    def key(self, name: str) -> bytes:
        """The key ``name``: made the first time it is asked for, the same bytes ever after."""
        ...


class DurableStorage(Protocol):
    """One scope's durable executions by ARN, unique by (function, name), with their operations
    (in checkpoint order) and their history (``store/durable.py``).

    ``transaction()`` groups writes: in SQLite one transaction (nested ones join the outer);
    on Redis each block is one script run when the block ends (writes only inside: a read does
    not see the block's writes yet)."""

    def transaction(self) -> AbstractContextManager[object]: ...

    def insert(self, row: ExecutionRow) -> None:
        """Raises StaleRevision: an execution of that function already has that name."""
        ...

    def update(
        self, row: ExecutionRow, expect_token: str | None = None, only: tuple[str, ...] = CHANGEABLE
    ) -> None:
        """Store ``row``'s fields ``only`` (of ``store.durable.CHANGEABLE``: by default all of
        them) over the execution of its ARN, so that a writer that changes a few fields leaves
        another node's change of the others alone; with ``expect_token``, only while the stored
        checkpoint token is still that one (StaleRevision otherwise: another writer moved it, and
        nothing of the transaction is kept)."""
        ...

    def get(self, arn: str) -> ExecutionRow | None: ...

    def named(self, function: str, name: str) -> ExecutionRow | None: ...

    def mark_updated(self, arn: str, operation_ids: list[str]) -> None:
        """Add ``operation_ids`` to ``arn``'s operations changed since its last invocation."""
        ...

    def queued_as(self, request_id: str) -> ExecutionRow | None:
        """The execution whose first invocation waits in the async queue as ``request_id``."""
        ...

    def of_function(self, function: str) -> list[ExecutionRow]:
        """Every execution of ``function``, oldest first."""
        ...

    def with_status(self, *statuses: str) -> list[ExecutionRow]:
        """The executions in any of ``statuses``, oldest first."""
        ...

    def counts(self) -> list[tuple[str, str, int]]:
        """``(function, status, how many)`` of every execution kept, by function and status."""
        ...

    def expired(self, now: float) -> list[str]:
        """The ARNs of executions ended longer ago than their retention."""
        ...

    def delete(self, arns: list[str]) -> None:
        """Drop executions ``arns`` with their operations and events."""
        ...

    def delete_function(self, function: str) -> int:
        """Drop every execution of ``function`` with its operations and events; how many."""
        ...

    def operations(self, arn: str, after: int = 0, limit: int = -1) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, Operation)`` of ``arn`` in checkpoint order, those with seq > ``after``
        (``limit`` of them; -1: all)."""
        ...

    def operation(self, arn: str, operation_id: str) -> dict[str, Any] | None: ...

    def put_operations(self, arn: str, operations: list[dict[str, Any]]) -> None:
        """Store each Operation over the one of its Id (a new one goes last)."""
        ...

    def add_events(self, arn: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` to ``arn``'s history, numbering them (``EventId``) from 1."""
        ...

    def events(self, arn: str) -> list[dict[str, Any]]:
        """``arn``'s history, oldest first, each with its ``EventId``."""
        ...
