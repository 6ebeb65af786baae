"""The access keys ``flare serve --auth sigv4`` verifies signatures against, durable.

Schema (concern ``access_keys``, global: a key is Flare's, not one account's)::

    access_keys
        access_key_id  TEXT  the key id a request's SigV4 credential names
        secret         TEXT  its secret access key (HMAC needs it in the clear: the database
                             file is 0600, see ``store/database.py``)
        account        TEXT  the account it acts in (``flare.scope.account_of`` its key id)
        created        REAL  epoch seconds
        admin          INTEGER  1 for the key made (or adopted) at the first ``--auth sigv4`` start
        PRIMARY KEY (access_key_id)

A key of the default account has an ``AKIA``-style id; a key of another account has that
account's 12 digits as its id (so the account a request acts in is still its key id's, as in
``--auth open``), and there is at most one such key per account. ``flare keys`` and the engine
may use the file at once (SQLite's WAL): the engine re-reads a key at most a second after
``flare keys`` changed it (``auth/authenticator.py``). All the SQL is here.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from flare.store.database import Database, Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT    NOT NULL PRIMARY KEY,
    secret        TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    created       REAL    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0
);
"""
_COLUMNS = "access_key_id, secret, account, created, admin"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One stored key."""

    access_key_id: str
    secret: str
    account: str
    created: float
    admin: bool = False


class KeyExists(Exception):
    """The key id (an account's only key) is already stored."""


def new_key_id(account: str, default_account: str) -> str:
    """The id of a new key of ``account``: ``AKIA`` and 16 random characters for the default
    account, else the account id itself."""
    if account == default_account:
        return "AKIA" + base64.b32encode(secrets.token_bytes(10)).decode()
    return account


def new_secret() -> str:
    """A random 40-character secret access key."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


class AccessKeyStore(Tables):
    concern = "access_keys"

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def create(self, account: str, default_account: str, now: float, admin: bool = False) -> AccessKey:
        """A new key of ``account`` (``new_key_id``), stored. Raises KeyExists when the account
        (not the default one) already has its key."""
        key = AccessKey(new_key_id(account, default_account), new_secret(), account, now, admin)
        self.add(key)
        return key

    def add(self, key: AccessKey) -> None:
        """Store ``key`` as it is. Raises KeyExists when its id is taken."""
        with self._lock, self._conn:
            found = self._conn.execute(
                "SELECT 1 FROM access_keys WHERE access_key_id = ?", (key.access_key_id,)
            ).fetchone()
            if found is not None:
                raise KeyExists(key.access_key_id)
            self._conn.execute(
                f"INSERT INTO access_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (key.access_key_id, key.secret, key.account, key.created, int(key.admin)),
            )

    def find(self, access_key_id: str) -> AccessKey | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM access_keys WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
        return None if row is None else AccessKey(row[0], row[1], row[2], row[3], bool(row[4]))

    def list(self) -> list[AccessKey]:
        """Every key, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM access_keys ORDER BY created, access_key_id"
            ).fetchall()
        return [AccessKey(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows]

    def delete(self, access_key_id: str) -> bool:
        """Remove a key; False when there was none."""
        with self._lock, self._conn:
            return (
                self._conn.execute(
                    "DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,)
                ).rowcount
                > 0
            )

    def count(self) -> int:
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM access_keys").fetchone()
        return int(count)
