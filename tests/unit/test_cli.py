"""The CLI's pure parts and argument handling, with no server."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flare.cli.client import (
    DEFAULT_ENDPOINT_URL,
    CommandFailed,
    error_message,
    resolve_endpoint,
    resolve_region,
)
from flare.cli.deploy import configuration_changes, load_code, parse_env, zip_directory
from flare.cli.invoke import decode_log_tail, format_payload, parse_payload, report_line
from flare.cli.logs import LogEvent, LogPage, logs_url, newer_than, parse_page, tail
from flare.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def _make_tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text("def handler(event, context):\n    return event\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "bootstrap").write_text("#!/bin/sh\nexec python3 app.py\n")
    (root / "bootstrap").chmod(0o700)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00junk")
    return root


# --- zipping -------------------------------------------------------------------------------


def test_zip_of_same_tree_is_byte_identical_even_after_mtime_changes(tmp_path: Path) -> None:
    root = _make_tree(tmp_path / "fn")
    first = zip_directory(root)
    os.utime(root / "app.py", (1_000_000, 1_000_000))
    assert zip_directory(root) == first


def test_zip_entries_are_sorted_relative_posix_paths_without_pycache(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(zip_directory(_make_tree(tmp_path / "fn"))))
    assert archive.namelist() == ["app.py", "bootstrap", "pkg/__init__.py"]
    assert archive.read("app.py").startswith(b"def handler")


def test_zip_keeps_exec_bit_and_normalises_modes(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(zip_directory(_make_tree(tmp_path / "fn"))))
    modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
    assert modes == {"app.py": 0o644, "bootstrap": 0o755, "pkg/__init__.py": 0o644}


def test_zip_timestamps_are_fixed(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(zip_directory(_make_tree(tmp_path / "fn"))))
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_zip_follows_symlinks_but_ends_a_symlink_loop(tmp_path: Path) -> None:
    root = _make_tree(tmp_path / "fn")
    (root / "pkg" / "loop").symlink_to(root)
    (root / "linked.py").symlink_to(root / "app.py")
    names = zipfile.ZipFile(io.BytesIO(zip_directory(root))).namelist()
    assert names == ["app.py", "bootstrap", "linked.py", "pkg/__init__.py"]


def test_load_code_sends_a_zip_file_as_is(tmp_path: Path) -> None:
    path = tmp_path / "code.zip"
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip, not what zip_directory makes
    assert load_code(path) == path.read_bytes()


def test_load_code_rejects_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text("print('hi')\n")
    with pytest.raises(click.BadParameter):
        load_code(path)


# --- endpoint and region -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        ("http://flag:1", {"FLARE_ENDPOINT_URL": "http://env:2"}, "http://flag:1"),
        (None, {"FLARE_ENDPOINT_URL": "http://env:2"}, "http://env:2"),
        (None, {}, DEFAULT_ENDPOINT_URL),
        ("", {"FLARE_ENDPOINT_URL": ""}, DEFAULT_ENDPOINT_URL),
        ("http://flag:1/", {}, "http://flag:1"),
    ],
)
def test_endpoint_precedence_is_flag_then_env_then_default(
    flag: str | None, environ: dict[str, str], expected: str
) -> None:
    assert resolve_endpoint(flag, environ) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-south-1"}, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1"),
        ({}, "us-east-1"),
    ],
)
def test_region_is_aws_region_then_default_region_then_us_east_1(
    environ: dict[str, str], expected: str
) -> None:
    assert resolve_region(environ) == expected


def test_command_failed_prints_one_lowercase_error_line_and_exits_1() -> None:
    @click.command()
    def boom() -> None:
        raise CommandFailed("ResourceNotFoundException: Function not found: x")

    result = CliRunner().invoke(boom, [])
    assert result.exit_code == 1
    assert result.stderr == "error: ResourceNotFoundException: Function not found: x\n"


def test_unreachable_endpoint_is_one_line_not_a_traceback() -> None:
    result = CliRunner().invoke(main, ["logs", "fn", "--endpoint-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach Flare at http://127.0.0.1:9")
    assert "Traceback" not in result.output


# --- --env ---------------------------------------------------------------------------------


def test_env_pairs_parse_with_later_keys_winning_and_equals_in_values() -> None:
    assert parse_env(None, None, ("A=1", "B=x=y", "A=2", "C=")) == {"A": "2", "B": "x=y", "C": ""}


@pytest.mark.parametrize("bad", ["NOEQUALS", "=value"])
def test_env_without_key_or_equals_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    result = CliRunner().invoke(main, ["deploy", "fn", str(tmp_path), "--handler", "a.b", "--env", bad])
    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.stderr


def test_configuration_changes_hold_only_what_was_given() -> None:
    assert configuration_changes("app.h", "python3.12", None, None, {}, None) == {
        "Handler": "app.h",
        "Runtime": "python3.12",
    }
    assert configuration_changes("app.h", "python3.11", 256, 30, {"K": "V"}, "arn:r") == {
        "Handler": "app.h",
        "Runtime": "python3.11",
        "MemorySize": 256,
        "Timeout": 30,
        "Environment": {"Variables": {"K": "V"}},
        "Role": "arn:r",
    }


# --- payload and invoke output -------------------------------------------------------------


def test_payload_defaults_to_empty_object() -> None:
    assert parse_payload(None, None, None) == b"{}"


def test_payload_inline_json_is_sent_as_given() -> None:
    assert parse_payload(None, None, '{"a": 1}') == b'{"a": 1}'


def test_payload_at_file_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text('{"from": "file"}')
    assert parse_payload(None, None, f"@{path}") == b'{"from": "file"}'


@pytest.mark.parametrize("payload", ["{not json", "@/nonexistent/event.json"])
def test_bad_payload_is_a_usage_error_with_exit_2(payload: str) -> None:
    result = CliRunner().invoke(main, ["invoke", "fn", "--payload", payload])
    assert result.exit_code == 2
    assert "--payload" in result.stderr
    assert "Traceback" not in result.output


def test_payload_from_file_with_invalid_json_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text("{oops")
    result = CliRunner().invoke(main, ["invoke", "fn", "--payload", f"@{path}"])
    assert result.exit_code == 2


def test_format_payload_pretty_prints_json_and_passes_other_text_through() -> None:
    assert format_payload(b'{"a":[1,2]}') == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert format_payload(b"plain text") == "plain text"


def test_report_line_is_found_in_the_decoded_log_tail() -> None:
    tail_text = "START RequestId: r1\nhello\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 1.00 ms\n"
    decoded = decode_log_tail(base64.b64encode(tail_text.encode()).decode())
    assert decoded == tail_text
    assert report_line(decoded) == "REPORT RequestId: r1\tDuration: 1.00 ms"
    assert report_line("no report here") is None
    assert decode_log_tail(None) == ""
    assert decode_log_tail("!!!not base64") == ""


# --- logs ----------------------------------------------------------------------------------


def test_logs_url_quotes_the_function_name() -> None:
    url = logs_url("http://h:1", "arn:aws:lambda:us-east-1:0:function:f", 7)
    assert (
        url == "http://h:1/flare/v1/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af/logs?offset=7"
    )


def test_parse_page_reads_the_documented_shape() -> None:
    body = b'{"events": [{"timestamp": 5, "logStream": "s", "message": "hi"}], "nextOffset": 3}'
    assert parse_page(body) == LogPage([LogEvent(5, "s", "hi")], 3)


def test_error_message_uses_aws_type_and_message() -> None:
    body = b'{"Type": "User", "Message": "Function not found: x"}'
    assert error_message(404, "ResourceNotFoundException:http://x", body) == (
        "ResourceNotFoundException: Function not found: x"
    )
    assert error_message(502, None, b"<html>") == "HTTP 502"


def test_newer_than_keeps_events_at_or_after_the_cutoff() -> None:
    events = [LogEvent(1, "s", "old"), LogEvent(10, "s", "edge"), LogEvent(11, "s", "new")]
    assert [e.message for e in newer_than(events, 10)] == ["edge", "new"]
    assert newer_than(events, None) == events


def test_tail_without_follow_reads_pages_until_one_brings_nothing() -> None:
    pages = {
        0: LogPage([LogEvent(1, "s", "a")], 1),
        1: LogPage([LogEvent(2, "s", "b")], 2),
        2: LogPage([], 2),
    }
    asked: list[int] = []
    lines: list[str] = []

    def fetch(offset: int) -> LogPage:
        asked.append(offset)
        return pages[offset]

    tail(fetch, lines.append, cutoff_ms=None, follow=False, sleep=_no_sleep)
    assert lines == ["a", "b"]
    assert asked == [0, 1, 2]


def test_tail_with_follow_polls_from_the_last_offset_until_interrupted() -> None:
    pages = iter([LogPage([LogEvent(1, "s", "a")], 1), LogPage([], 1), LogPage([LogEvent(2, "s", "b")], 2)])
    asked: list[int] = []
    lines: list[str] = []
    sleeps: list[float] = []

    def fetch(offset: int) -> LogPage:
        asked.append(offset)
        try:
            return next(pages)
        except StopIteration:
            raise KeyboardInterrupt from None

    with pytest.raises(KeyboardInterrupt):
        tail(fetch, lines.append, cutoff_ms=None, follow=True, sleep=sleeps.append)
    assert lines == ["a", "b"]
    assert asked == [0, 1, 1, 2]
    assert sleeps == [0.5]


def _no_sleep(seconds: float) -> None:
    raise AssertionError("tail without --follow must not sleep")


# --- the command group ---------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "deploy", "invoke", "logs"):
        assert f"  {command} " in result.output


def test_version_prints_the_package_version() -> None:
    from flare import __version__

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_importing_the_cli_imports_neither_boto3_nor_aiohttp() -> None:
    code = "import sys, flare.cli.main; print('boto3' in sys.modules, 'aiohttp' in sys.modules)"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_serve_builds_the_config_from_its_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import types

    from flare.config import ServerConfig

    seen: list[ServerConfig] = []
    fake = types.ModuleType("flare.server")
    monkeypatch.setattr(fake, "serve", seen.append, raising=False)
    monkeypatch.setitem(sys.modules, "flare.server", fake)
    args = [
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "9100",
        "--data-dir",
        str(tmp_path),
        "--idle-timeout",
        "5",
    ]
    result = CliRunner().invoke(main, [*args, "--region", "eu-west-1", "--auth", "sigv4"])
    assert result.exit_code == 0, result.output
    assert seen == [
        ServerConfig(
            host="0.0.0.0", port=9100, data_dir=tmp_path, idle_timeout_s=5.0, region="eu-west-1", auth="sigv4"
        )
    ]


def fake_serve(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What ``flare serve`` would have served: the configs it built, without serving."""
    import types

    seen: list[object] = []
    fake = types.ModuleType("flare.server")
    monkeypatch.setattr(fake, "serve", seen.append, raising=False)
    monkeypatch.setitem(sys.modules, "flare.server", fake)
    return seen


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "flare.example"])
def test_serve_refuses_a_non_loopback_host_without_sigv4(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str
) -> None:
    seen = fake_serve(monkeypatch)
    result = CliRunner().invoke(main, ["serve", "--host", host, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and not seen
    assert "add --auth sigv4" in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_serve_takes_open_mode_on_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str
) -> None:
    seen = fake_serve(monkeypatch)
    result = CliRunner().invoke(main, ["serve", "--host", host, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
