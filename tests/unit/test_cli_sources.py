"""``flare sources`` against a stub HTTP server answering ``GET /flare/v1/event-sources``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from flare.cli.main import main
from flare.cli.sources import parse_sources, render_table

DOCUMENT: dict[str, Any] = {
    "Mappings": [
        {
            "UUID": "u-1",
            "EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:orders",
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:worker",
            "State": "Enabled",
            "LastProcessingResult": "OK",
            "received": 1200,
            "succeeded": 1190,
            "failed": 1,
            "retried": 1,
            "dead_lettered": 10,
            "oldest_age_s": 2.25,
        },
        {
            "UUID": "u-2",
            "EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/clicks",
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:counter:live",
            "State": "Disabled",
            "received": 0,
            "succeeded": 0,
            "failed": 0,
            "retried": 0,
            "dead_lettered": 0,
            "oldest_age_s": 0.0,
        },
    ],
    "AsyncQueues": {
        "notify": {
            "received": 5,
            "succeeded": 3,
            "failed": 4,
            "retried": 2,
            "dead_lettered": 1,
            "oldest_age_s": 61.0,
            "waiting": 1,
        }
    },
}


class _Handler(BaseHTTPRequestHandler):
    answer: tuple[int, bytes, dict[str, str]] = (200, b"{}", {})
    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        status, body, headers = type(self).answer
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"paths": [], "answer": (200, json.dumps(DOCUMENT).encode(), {})})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_sources_prints_a_row_per_mapping_and_async_queue(stub: tuple[str, type[_Handler]]) -> None:
    url, handler = stub
    result = CliRunner().invoke(main, ["sources", "--endpoint-url", url + "/"])
    assert result.exit_code == 0, result.output
    assert handler.paths == ["/flare/v1/event-sources"]
    header, sqs, kinesis, async_row = result.output.splitlines()
    assert header.split() == [
        "KIND", "SOURCE", "FUNCTION", "STATE", "RECEIVED", "SUCCEEDED", "FAILED", "RETRIED", "DLQ", "OLDEST"
    ]  # fmt: skip
    assert sqs.split() == ["sqs", "orders", "worker", "Enabled", "1200", "1190", "1", "1", "10", "2.2s"]
    assert kinesis.split() == ["kinesis", "clicks", "counter:live", "Disabled", *["0"] * 5, "0.0s"]
    assert async_row.split() == ["async", "1", "waiting", "notify", "-", "5", "3", "4", "2", "1", "61.0s"]
    # numbers are right-aligned under their header
    assert sqs.index("1200") + len("1200") == header.index("RECEIVED") + len("RECEIVED")


def test_sources_uses_the_endpoint_from_the_environment(
    stub: tuple[str, type[_Handler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = stub
    monkeypatch.setenv("FLARE_ENDPOINT_URL", url)
    result = CliRunner().invoke(main, ["sources", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == DOCUMENT


def test_sources_with_nothing_says_so() -> None:
    assert render_table(parse_sources(b'{"Mappings": [], "AsyncQueues": {}}')) == (
        "no event source mappings or async queues"
    )


def test_sources_error_answer_is_one_line(stub: tuple[str, type[_Handler]]) -> None:
    url, handler = stub
    handler.answer = (500, b'{"Message": "boom"}', {"x-amzn-ErrorType": "ServiceException"})
    result = CliRunner().invoke(main, ["sources", "--endpoint-url", url])
    assert result.exit_code == 1
    assert "error: ServiceException: boom" in result.output


def test_sources_unexpected_document_is_one_line(stub: tuple[str, type[_Handler]]) -> None:
    url, handler = stub
    handler.answer = (200, b'{"nope": 1}', {})
    result = CliRunner().invoke(main, ["sources", "--endpoint-url", url])
    assert result.exit_code == 1
    assert "not a Flare event-sources document" in result.output


def test_sources_unreachable_is_one_line() -> None:
    result = CliRunner().invoke(main, ["sources", "--endpoint-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach Flare" in result.output
