"""The CLI's requests and output, checked against a tiny in-test stub of Flare's HTTP API.

The stub answers only the calls the CLI makes (CreateFunction, GetFunction, UpdateFunctionCode,
UpdateFunctionConfiguration, Invoke, and Flare's log endpoint) with canned AWS-shaped JSON, and
records every request so the tests can check what boto3 actually sent.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from click.testing import CliRunner

from flare.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"
FUNCTIONS = "/2015-03-31/functions"
LOG_TAIL = (
    "START RequestId: r-1\nhello from the function\nEND RequestId: r-1\n"
    "REPORT RequestId: r-1\tDuration: 1.20 ms\n"
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stub:
    """What the fake Flare knows: functions by name, log events by name, and every request seen."""

    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    function_error: str | None = None

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


def _configuration(name: str, fields: dict[str, Any], code: bytes) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        "Runtime": fields.get("Runtime", "python3.12"),
        "Handler": fields.get("Handler"),
        "Role": fields.get("Role"),
        "MemorySize": fields.get("MemorySize", 128),
        "Timeout": fields.get("Timeout", 3),
        "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
        "CodeSize": len(code),
        "State": "Active",
        "LastUpdateStatus": "Successful",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StubServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self) -> Recorded:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        recorded = Recorded(
            self.command, unquote(url.path), parse_qs(url.query), dict(self.headers), self.rfile.read(length)
        )
        self.server.stub.requests.append(recorded)
        return recorded

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode())

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"Type": "User", "Message": message}).encode()
        self._send(status, body, {"x-amzn-ErrorType": code})

    def do_GET(self) -> None:
        request = self._record()
        parts = request.path.strip("/").split("/")
        stub = self.server.stub
        if request.path.startswith("/flare/v1/functions/") and parts[-1] == "logs":
            name = parts[3]
            if name not in stub.functions:
                return self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
            offset = int(request.query.get("offset", ["0"])[0])
            events = stub.logs.get(name, [])
            return self._json(200, {"events": events[offset:], "nextOffset": len(events)})
        name = parts[-1]
        if name not in stub.functions:
            return self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
        return self._json(200, {"Configuration": stub.functions[name], "Code": {}})

    def do_POST(self) -> None:
        request = self._record()
        stub = self.server.stub
        if request.path == FUNCTIONS:
            fields = request.json()
            name = fields["FunctionName"]
            if name in stub.functions:
                return self._error(409, "ResourceConflictException", f"Function already exist: {name}")
            code = base64.b64decode(fields["Code"]["ZipFile"])
            stub.functions[name] = _configuration(name, fields, code)
            return self._json(201, stub.functions[name])
        name = request.path.split("/")[-2]
        if name not in stub.functions:
            return self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
        headers = {"X-Amz-Log-Result": base64.b64encode(LOG_TAIL.encode()).decode()}
        headers["X-Amz-Executed-Version"] = "$LATEST"
        if stub.function_error:
            headers["X-Amz-Function-Error"] = stub.function_error
        return self._send(200, b'{"echo":' + request.body + b"}", headers)

    def do_PUT(self) -> None:
        request = self._record()
        *_, name, what = request.path.split("/")
        current = self.server.stub.functions[name]
        if what == "code":
            code = base64.b64decode(request.json()["ZipFile"])
            current.update(CodeSha256=base64.b64encode(hashlib.sha256(code).digest()).decode())
        else:
            current.update({k: v for k, v in request.json().items() if k in current})
        return self._json(200, current)


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = Stub()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[_StubServer]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    stub_server = _StubServer()
    thread = threading.Thread(target=stub_server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("FLARE_ENDPOINT_URL", stub_server.url)
    yield stub_server
    stub_server.shutdown()
    stub_server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    root.mkdir()
    (root / "app.py").write_text("def handler(event, context):\n    return event\n")
    return root


def _flare(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_deploy_new_function_sends_create_function_with_zip_and_settings(
    server: _StubServer, function_dir: Path
) -> None:
    result = _flare(
        "deploy", "hello", str(function_dir), "--handler", "app.handler", "--memory", "256", "--env", "A=1"
    )
    assert result.exit_code == 0, result.output
    (create,) = server.stub.calls("POST", FUNCTIONS)
    body = create.json()
    assert body["FunctionName"] == "hello"
    assert body["Handler"] == "app.handler"
    assert body["Runtime"] == "python3.12"
    assert body["MemorySize"] == 256
    assert "Timeout" not in body
    assert body["Environment"] == {"Variables": {"A": "1"}}
    assert body["Role"] == "arn:aws:iam::000000000000:role/flare"
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(body["Code"]["ZipFile"])))
    assert archive.namelist() == ["app.py"]
    assert "Credential=flare/" in create.headers["Authorization"]
    sha = server.stub.functions["hello"]["CodeSha256"]
    assert result.stdout == f"created hello (python3.12, 256 MB) CodeSha256={sha}\n"


def test_deploying_twice_updates_code_then_only_the_given_configuration(
    server: _StubServer, function_dir: Path
) -> None:
    assert _flare("deploy", "hello", str(function_dir), "--handler", "app.handler").exit_code == 0
    (function_dir / "extra.py").write_text("X = 1\n")
    result = _flare("deploy", "hello", str(function_dir), "--handler", "app.main", "--timeout", "30")
    assert result.exit_code == 0, result.output
    (code,) = server.stub.calls("PUT", f"{FUNCTIONS}/hello/code")
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(code.json()["ZipFile"])))
    assert archive.namelist() == ["app.py", "extra.py"]
    (configuration,) = server.stub.calls("PUT", f"{FUNCTIONS}/hello/configuration")
    assert configuration.json() == {"Handler": "app.main", "Runtime": "python3.12", "Timeout": 30}
    order = [(r.method, r.path.rsplit("/", 1)[-1]) for r in server.stub.requests[-5:]]
    assert order == [
        ("POST", "functions"),
        ("PUT", "code"),
        ("GET", "hello"),
        ("PUT", "configuration"),
        ("GET", "hello"),
    ]
    assert result.stdout.startswith("updated hello (python3.12, 128 MB) CodeSha256=")


def test_invoke_prints_pretty_payload_on_stdout_and_log_tail_on_stderr(server: _StubServer) -> None:
    server.stub.functions["hello"] = _configuration("hello", {}, b"")
    result = _flare("invoke", "hello", "--payload", '{"n": 1}', "--qualifier", "live")
    assert result.exit_code == 0, result.output
    (call,) = server.stub.calls("POST", f"{FUNCTIONS}/hello/invocations")
    assert call.body == b'{"n": 1}'
    assert call.headers["X-Amz-Log-Type"] == "Tail"
    assert call.query == {"Qualifier": ["live"]}
    assert result.stdout == '{\n  "echo": {\n    "n": 1\n  }\n}\n'
    assert result.stderr == LOG_TAIL


def test_invoke_quiet_shows_only_the_report_line(server: _StubServer) -> None:
    server.stub.functions["hello"] = _configuration("hello", {}, b"")
    result = _flare("invoke", "hello", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == "REPORT RequestId: r-1\tDuration: 1.20 ms\n"
    assert json.loads(result.stdout) == {"echo": {}}


def test_invoke_function_error_exits_1_after_printing_the_error_payload(server: _StubServer) -> None:
    server.stub.functions["hello"] = _configuration("hello", {}, b"")
    server.stub.function_error = "Unhandled"
    result = _flare("invoke", "hello", "--quiet")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"echo": {}}
    assert result.stderr.endswith("FunctionError: Unhandled\n")


def test_invoke_missing_function_is_one_error_line(server: _StubServer) -> None:
    result = _flare("invoke", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: ResourceNotFoundException: Function not found: nope\n"
    assert result.stdout == ""


def test_logs_prints_each_message_and_since_drops_old_ones(server: _StubServer) -> None:
    server.stub.functions["hello"] = _configuration("hello", {}, b"")
    now_ms = int(time.time() * 1000)
    server.stub.logs["hello"] = [
        {"timestamp": now_ms - 3_600_000, "logStream": "s", "message": "an hour ago"},
        {"timestamp": now_ms, "logStream": "s", "message": "just now"},
    ]
    assert _flare("logs", "hello").stdout == "an hour ago\njust now\n"
    assert _flare("logs", "hello", "--since", "60").stdout == "just now\n"


def test_logs_for_missing_function_is_one_error_line(server: _StubServer) -> None:
    result = _flare("logs", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: ResourceNotFoundException: Function not found: nope\n"


def test_logs_follow_prints_new_lines_and_exits_0_on_ctrl_c(server: _StubServer) -> None:
    server.stub.functions["hello"] = _configuration("hello", {}, b"")
    server.stub.logs["hello"] = [{"timestamp": 1, "logStream": "s", "message": "first"}]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "flare.cli.main", "logs", "hello", "--follow"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "first\n"
        server.stub.logs["hello"].append({"timestamp": 2, "logStream": "s", "message": "second"})
        assert proc.stdout.readline() == "second\n"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in stderr
    offsets = [r.query["offset"][0] for r in server.stub.requests if r.path.endswith("/logs")]
    assert offsets[:2] == ["0", "1"]
