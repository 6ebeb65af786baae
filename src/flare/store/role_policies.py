"""Policies of execution roles, durable: a table in Flare's SQLite file.

Roles belong to an account, not to a region (as in IAM), and outlive the functions that use
them: nothing but ``delete`` / ``delete_role`` removes a row, so this table is global (``Tables``,
not ``ScopedTables``); the role ARN names the account. Schema (concern ``role_policies``)::

    role_policies
        role_arn  TEXT  the role's ARN (arn:aws:iam::<account>:role/<path/>name)
        name      TEXT  the policy's name (IAM's inline policy name)
        document  TEXT  the policy document, JSON as given
        PRIMARY KEY (role_arn, name)

All its SQL is here.
"""

from __future__ import annotations

from flare.store.database import Database, Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS role_policies (
    role_arn TEXT NOT NULL,
    name     TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (role_arn, name)
);
"""


class RolePolicyStore(Tables):
    """Named policy documents (JSON text) by role ARN."""

    concern = "role_policies"
    version = 1

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def put(self, role_arn: str, name: str, document: str) -> None:
        """Add or replace ``role_arn``'s policy ``name``."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO role_policies (role_arn, name, document) VALUES (?, ?, ?) "
                "ON CONFLICT (role_arn, name) DO UPDATE SET document = excluded.document",
                (role_arn, name, document),
            )

    def documents(self, role_arn: str) -> list[tuple[str, str]]:
        """``(name, document)`` of every policy of ``role_arn``, by name."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, document FROM role_policies WHERE role_arn = ? ORDER BY name", (role_arn,)
            ).fetchall()
        return [(str(name), str(document)) for name, document in rows]

    def roles(self, account: str) -> list[tuple[str, list[str]]]:
        """``(role ARN, policy names)`` of every role of ``account`` with a policy, by ARN."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT role_arn, name FROM role_policies WHERE role_arn LIKE ? ORDER BY role_arn, name",
                (f"arn:%:iam::{account}:role/%",),
            ).fetchall()
        found: dict[str, list[str]] = {}
        for role_arn, name in rows:
            found.setdefault(str(role_arn), []).append(str(name))
        return list(found.items())

    def delete(self, role_arn: str, name: str) -> bool:
        """Drop ``role_arn``'s policy ``name``; True if there was one."""
        with self._lock, self._conn:
            return (
                self._conn.execute(
                    "DELETE FROM role_policies WHERE role_arn = ? AND name = ?", (role_arn, name)
                ).rowcount
                > 0
            )

    def delete_role(self, role_arn: str) -> int:
        """Drop every policy of ``role_arn``; how many went."""
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM role_policies WHERE role_arn = ?", (role_arn,)).rowcount
