"""The store layer's tables as Flare wrote them before scopes (main at 4e6b178), with rows.

A frozen copy of the old format, for the migration tests: ``build(path)`` writes a ``flare.db``
as that Flare left it (its DDL, its ``schema_versions``, a few rows in every table);
``build_separate(path, concern)`` writes an older Flare's ``events.db`` or ``services.db``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

# concern => its DDL, verbatim
DDL = {
    "functions": """
CREATE TABLE IF NOT EXISTS functions (
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    config      TEXT    NOT NULL,
    code_digest TEXT    NOT NULL,
    tags        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS version_counters (
    name        TEXT    NOT NULL PRIMARY KEY,
    last        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    name        TEXT    NOT NULL,
    alias       TEXT    NOT NULL,
    config      TEXT    NOT NULL,
    PRIMARY KEY (name, alias)
);
""",
    "layers": """
CREATE TABLE IF NOT EXISTS layer_versions (
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    config          TEXT    NOT NULL,
    code_digest     TEXT    NOT NULL,
    unzipped_size   INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    policy          TEXT    NOT NULL DEFAULT '[]',
    policy_revision TEXT,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS layer_counters (
    name TEXT    NOT NULL PRIMARY KEY,
    last INTEGER NOT NULL
);
""",
    "settings": """
CREATE TABLE IF NOT EXISTS function_concurrency (
    name     TEXT    NOT NULL PRIMARY KEY,
    reserved INTEGER NOT NULL CHECK (reserved >= 0)
);
CREATE TABLE IF NOT EXISTS provisioned_concurrency (
    name          TEXT    NOT NULL,
    qualifier     TEXT    NOT NULL,
    requested     INTEGER NOT NULL CHECK (requested >= 1),
    last_modified TEXT    NOT NULL,
    PRIMARY KEY (name, qualifier)
);
""",
    "policies": """
CREATE TABLE IF NOT EXISTS function_policies (
    name      TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    document  TEXT NOT NULL,
    revision  TEXT NOT NULL,
    PRIMARY KEY (name, qualifier)
);
""",
    "services": """
CREATE TABLE IF NOT EXISTS queues (
    name       TEXT    PRIMARY KEY,
    seq        INTEGER NOT NULL,
    created    REAL    NOT NULL,
    modified   REAL    NOT NULL,
    attributes TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    attributes    TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    sent          REAL    NOT NULL,
    visible_at    REAL    NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive REAL,
    receipt       TEXT,
    UNIQUE (queue, id)
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_sent ON messages (queue, sent);
CREATE TABLE IF NOT EXISTS streams (
    name            TEXT    PRIMARY KEY,
    seq             INTEGER NOT NULL,
    created         REAL    NOT NULL,
    shard_count     INTEGER NOT NULL,
    retention_hours INTEGER NOT NULL,
    mode            TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    stream        TEXT    NOT NULL,
    shard         INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    partition_key TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    arrival       REAL    NOT NULL,
    PRIMARY KEY (stream, shard, position)
) WITHOUT ROWID;
""",
    "code_signing": """
CREATE TABLE IF NOT EXISTS code_signing_configs (
    id     TEXT    NOT NULL PRIMARY KEY,
    seq    INTEGER NOT NULL,
    config TEXT    NOT NULL,
    tags   TEXT    NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS function_code_signing (
    name      TEXT NOT NULL PRIMARY KEY,
    config_id TEXT NOT NULL
);
""",
    "log_index": """
CREATE TABLE IF NOT EXISTS log_groups (
    name        TEXT    NOT NULL PRIMARY KEY,
    created_ms  INTEGER NOT NULL,
    retention   INTEGER,
    group_class TEXT    NOT NULL DEFAULT 'STANDARD',
    next_seq    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS log_streams (
    grp         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    first_ms    INTEGER,
    last_ms     INTEGER,
    ingested_ms INTEGER,
    bytes       INTEGER NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (grp, name)
);
""",
    "function_settings": """
CREATE TABLE IF NOT EXISTS recursion_configs (
    name           TEXT NOT NULL PRIMARY KEY,
    recursive_loop TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runtime_management_configs (
    name                TEXT NOT NULL,
    version             TEXT NOT NULL,
    update_runtime_on   TEXT NOT NULL,
    runtime_version_arn TEXT,
    PRIMARY KEY (name, version)
);
""",
    "events": """
CREATE TABLE IF NOT EXISTS async_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    function        TEXT    NOT NULL,
    qualifier       TEXT,
    invoked_arn     TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    enqueued        REAL    NOT NULL,
    due             REAL    NOT NULL,
    function_errors INTEGER NOT NULL DEFAULT 0,
    other_failures  INTEGER NOT NULL DEFAULT 0,
    last            TEXT,
    tenant_id       TEXT
);
CREATE TABLE IF NOT EXISTS invoke_configs (
    function  TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    config    TEXT NOT NULL,
    PRIMARY KEY (function, qualifier)
);
CREATE TABLE IF NOT EXISTS mappings (
    uuid   TEXT    PRIMARY KEY,
    seq    INTEGER NOT NULL,
    config TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    uuid     TEXT NOT NULL,
    shard    TEXT NOT NULL,
    sequence TEXT NOT NULL,
    PRIMARY KEY (uuid, shard)
);
""",
    "urls": """
CREATE TABLE IF NOT EXISTS function_urls (
    function    TEXT NOT NULL,
    qualifier   TEXT NOT NULL,
    url_id      TEXT NOT NULL UNIQUE,
    auth_type   TEXT NOT NULL,
    cors        TEXT,
    invoke_mode TEXT,
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    PRIMARY KEY (function, qualifier)
);
""",
    "schedules": """
CREATE TABLE IF NOT EXISTS schedules (
    id         TEXT NOT NULL PRIMARY KEY,
    function   TEXT NOT NULL,
    qualifier  TEXT,
    expression TEXT NOT NULL,
    input      TEXT,
    created    REAL NOT NULL
);
""",
}

# the versions that Flare recorded in ``schema_versions`` (the other concerns recorded none)
VERSIONS = {"functions": 2, "services": 1, "events": 2}

_CONFIG = json.dumps({"FunctionName": "fn", "Runtime": "python3.12"})

# table => rows, every column in the old order
ROWS: dict[str, list[tuple[Any, ...]]] = {
    "functions": [
        ("fn", "$LATEST", 1, _CONFIG, "digest-fn", json.dumps({"team": "a"})),
        ("fn", "3", 2, _CONFIG, "digest-fn", "{}"),
        ("fn", "4", 3, _CONFIG, "digest-fn", "{}"),
        ("other", "$LATEST", 4, _CONFIG, "digest-other", "{}"),
    ],
    "version_counters": [("fn", 4)],
    "aliases": [("fn", "live", json.dumps({"Name": "live", "FunctionVersion": "4"}))],
    "layer_versions": [
        ("lib", 1, json.dumps({"Version": 1}), "digest-lib", 10, 0, "[]", None),
        ("lib", 2, json.dumps({"Version": 2}), "digest-lib2", 20, 1, json.dumps([{"Sid": "s"}]), "rev"),
    ],
    "layer_counters": [("lib", 2)],
    "function_concurrency": [("fn", 5)],
    "provisioned_concurrency": [("fn", "live", 2, "2026-01-01T00:00:00.000+0000")],
    "function_policies": [("fn", "", json.dumps({"Version": "2012-10-17", "Statement": []}), "rev-1")],
    "queues": [
        ("q", 1, 1.0, 1.0, json.dumps({"VisibilityTimeout": "30"}), "{}"),
        ("dlq", 2, 1.0, 1.0, "{}", "{}"),
    ],
    "messages": [
        (1, "q", "m1", "hello", "{}", "{}", 1.0, 1.0, 0, None, None),
        (2, "q", "m2", "world", "{}", "{}", 2.0, 2.0, 1, 2.5, "nonce"),
    ],
    "streams": [("s", 1, 1.0, 2, 24, "PROVISIONED")],
    "counters": [("queues", 2), ("streams", 1)],
    "records": [("s", 0, 1, "pk", b"\x00data", 1.0), ("s", 1, 1, "pk2", b"more", 2.0)],
    "code_signing_configs": [("csc-0123456789abcdefg", 1, json.dumps({"Description": "d"}), "{}")],
    "function_code_signing": [("fn", "csc-0123456789abcdefg")],
    "log_groups": [("/aws/lambda/fn", 1000, 7, "STANDARD", 3)],
    "log_streams": [("/aws/lambda/fn", "2026/01/01/[$LATEST]abc", 1000, 1000, 2000, 2100, 42, 2)],
    "recursion_configs": [("fn", "Allow")],
    "runtime_management_configs": [("fn", "$LATEST", "Manual", "arn:aws:lambda:::runtime:abc")],
    "async_events": [
        (1, "req-1", "fn", None, "arn:fn", b"{}", 1.0, 1.0, 0, 0, None, None),
        (
            2,
            "req-2",
            "fn",
            "live",
            "arn:fn:live",
            b"[]",
            2.0,
            3.0,
            1,
            0,
            json.dumps({"statusCode": 200}),
            "t",
        ),
    ],
    "invoke_configs": [("fn", "$LATEST", json.dumps({"MaximumRetryAttempts": 1}))],
    "mappings": [("uuid-1", 1, json.dumps({"UUID": "uuid-1", "State": "Enabled"}))],
    "checkpoints": [
        ("uuid-1", "shardId-000000000000", "49590338271490256608559692538361571095921575989136588898")
    ],
    "function_urls": [("fn", "", "a" * 32, "NONE", None, None, "created", "modified")],
    "schedules": [("sched-1", "fn", None, "rate(5 minutes)", None, 1.0)],
}

# which concern each table is of
TABLES = {
    "functions": ("functions", "version_counters", "aliases"),
    "layers": ("layer_versions", "layer_counters"),
    "settings": ("function_concurrency", "provisioned_concurrency"),
    "policies": ("function_policies",),
    "services": ("queues", "messages", "streams", "counters", "records"),
    "code_signing": ("code_signing_configs", "function_code_signing"),
    "log_index": ("log_groups", "log_streams"),
    "function_settings": ("recursion_configs", "runtime_management_configs"),
    "events": ("async_events", "invoke_configs", "mappings", "checkpoints"),
    "urls": ("function_urls",),
    "schedules": ("schedules",),
}


def _write(path: Path, concerns: list[str], versions: dict[str, int] | None) -> None:
    raw = sqlite3.connect(path)
    if versions is not None:
        raw.execute(
            "CREATE TABLE schema_versions (concern TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL)"
        )
        raw.executemany("INSERT INTO schema_versions VALUES (?, ?)", versions.items())
    for concern in concerns:
        raw.executescript(DDL[concern])
        for table in TABLES[concern]:
            for row in ROWS[table]:
                raw.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", row)
    raw.commit()
    raw.close()


def build(path: Path) -> None:
    """A ``flare.db`` of every concern, as the Flare before scopes wrote it."""
    _write(path, list(DDL), VERSIONS)


def build_separate(path: Path, concern: str) -> None:
    """An ``events.db`` or ``services.db`` of an older Flare still (one concern per file, its
    version in ``PRAGMA user_version``)."""
    _write(path, [concern], None)
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={VERSIONS[concern]}")
    raw.close()
