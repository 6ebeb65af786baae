"""The Python runtime's cheaper reads: ``bootstrap.json_of`` decodes exactly as ``json.loads``
does, and ``context.environment_variable`` reads exactly what ``os.environ.get`` would, changes
made through ``os.environ`` included."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import flare

sys.path.insert(0, str(Path(flare.__file__).parent / "runtimes"))
from lambda_python import bootstrap, context

TEXTS = ['{"a": 1}', "[1, 2]", '"é ✓ 𝄞"', "7", "true", " {}", '{"big": 123456789012345678901234567890}']


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"]
)
def test_json_of_decodes_every_encoding_json_loads_takes(text: str, encoding: str) -> None:
    raw = text.encode(encoding)
    assert bootstrap.json_of(raw) == json.loads(raw)


@pytest.mark.parametrize("raw", [b"{", b"{}x", b"\xff\xfe", b"\x80", b"nul", b'"\xed\xa0\x80"'])
def test_json_of_fails_or_passes_as_json_loads_does(raw: bytes) -> None:
    try:
        expected: Any = json.loads(raw)
    except ValueError as error:
        with pytest.raises(type(error)):
            bootstrap.json_of(raw)
    else:
        assert bootstrap.json_of(raw) == expected


def test_environment_variable_follows_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "FLARE_TEST_CONTEXT_READ"
    monkeypatch.delenv(name, raising=False)
    assert context.environment_variable(name.encode()) is None
    monkeypatch.setenv(name, "first")
    assert context.environment_variable(name.encode()) == "first"
    os.environ[name] = "ünïcode"
    assert context.environment_variable(name.encode()) == os.environ.get(name) == "ünïcode"
    os.environ[name] = "\udcff"  # a byte that is no UTF-8, as os.environ keeps it
    assert context.environment_variable(name.encode()) == os.environ.get(name)
    del os.environ[name]
    assert context.environment_variable(name.encode()) is None


def test_the_context_reads_the_function_variables_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "one")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    first = context.LambdaContext("r1", None, None, 0, "arn")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "two")
    second = context.LambdaContext("r2", None, None, 0, "arn")
    assert (first.function_name, second.function_name) == ("one", "two")
    assert second.memory_limit_in_mb == "128"
