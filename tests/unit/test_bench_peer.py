"""The serverless-offline peer project (bench/peer.py): what it writes and how it reads its log."""

from __future__ import annotations

import json
from pathlib import Path

from bench import peer
from bench.harness import HANDLER_SOURCE

NODE_HELLO = "exports.handler = async () => ({ ok: true });\n"


def test_serverless_yml_serves_the_python_and_the_node_hello_world() -> None:
    text = peer.serverless_yml(3000, 3002, 3001, 3003)
    assert "provider:\n  name: aws\n  runtime: python3.11\n" in text
    assert "  hello:\n    handler: app.handler\n    runtime: python3.11\n" in text
    assert "  hellonode:\n    handler: index.handler\n    runtime: nodejs20.x\n" in text
    assert "    lambdaPort: 3002\n" in text


def test_write_project_writes_each_functions_handler_and_the_pins(tmp_path: Path) -> None:
    peer.write_project(tmp_path)
    assert (tmp_path / "app.py").read_text() == HANDLER_SOURCE
    assert (tmp_path / "index.js").read_text() == NODE_HELLO
    assert json.loads((tmp_path / "package.json").read_text())["devDependencies"] == peer.VERSIONS


def test_function_name_from_log_reads_the_asked_functions_own_line() -> None:
    log = "Functions:\n   * hello: flarebench-dev-hello\n   * hellonode: flarebench-dev-hellonode\n"
    assert peer.function_name_from_log(log, peer.PYTHON) == "flarebench-dev-hello"
    assert peer.function_name_from_log(log, peer.NODE) == "flarebench-dev-hellonode"
    assert peer.function_name_from_log("   * hello: flarebench-dev-hello\n", peer.NODE) is None
