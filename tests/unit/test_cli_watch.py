"""``flare deploy --watch``: where it may bind, and the Node.js source-map switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flare.cli.main import main
from flare.cli.watch import SOURCE_MAPS, is_local, with_watch_variables


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("http://127.0.0.1:9000", True),
        ("http://localhost:9000", True),
        ("http://[::1]:9000", True),
        ("http://127.0.0.2:9000", True),
        ("http://10.0.0.5:9000", False),
        ("https://flare.example.com", False),
    ],
)
def test_only_a_server_on_this_machine_can_watch(endpoint: str, local: bool) -> None:
    assert is_local(endpoint) is local


@pytest.mark.parametrize(
    ("fields", "existing", "variables"),
    [
        ({"Runtime": "nodejs20.x"}, None, {"NODE_OPTIONS": SOURCE_MAPS}),
        ({"Runtime": "nodejs20.x"}, {"A": "1"}, {"A": "1", "NODE_OPTIONS": SOURCE_MAPS}),
        (
            {"Runtime": "nodejs20.x", "Environment": {"Variables": {"B": "2"}}},
            {"A": "1"},
            {"B": "2", "NODE_OPTIONS": SOURCE_MAPS},
        ),
        ({"Runtime": "nodejs20.x"}, {"NODE_OPTIONS": "--inspect"}, None),
        ({"Runtime": "python3.12"}, None, None),
    ],
)
def test_node_functions_get_source_maps_unless_they_chose_node_options(
    fields: dict[str, Any], existing: dict[str, str] | None, variables: dict[str, str] | None
) -> None:
    changed = with_watch_variables(fields, existing)
    if variables is None:
        assert changed == fields
    else:
        assert changed["Environment"]["Variables"] == variables


def test_watch_refuses_a_remote_endpoint(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["deploy", "fn", str(tmp_path), "--handler", "a.b", "--watch", "--endpoint-url", "http://10.9.9.9:9"],
    )
    assert result.exit_code == 2
    assert "not local" in result.output


def test_watch_refuses_a_zip(tmp_path: Path) -> None:
    (tmp_path / "code.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    result = CliRunner().invoke(
        main, ["deploy", "fn", str(tmp_path / "code.zip"), "--handler", "a.b", "--watch"]
    )
    assert result.exit_code == 2
    assert "not one" in result.output
