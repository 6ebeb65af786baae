"""``flare dev``'s pure parts: which project a directory holds, and the log's prefixes."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from flare.cli.dev_logs import LogTail, engine_lines, prefixes
from flare.cli.dev_project import ProjectKind, find_project
from flare.cli.logs import LogEvent, LogPage


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        (["template.yaml", "serverless.yml", "app.py"], ProjectKind.SAM),
        (["template.json"], ProjectKind.SAM),
        (["serverless.yml", "app.py"], ProjectKind.SERVERLESS),
        (["app.py"], ProjectKind.FUNCTIONS),
        (["a/index.mjs", "b/lambda_function.py", "c/README.md"], ProjectKind.FUNCTIONS),
        (["README.md"], None),
    ],
)
def test_the_project_is_a_template_first_then_functions(
    tmp_path: Path, files: list[str], kind: object
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = find_project(tmp_path)
    assert (found.kind if found else None) == kind


def test_a_directory_of_functions_names_each_by_its_directory_and_handler_file(tmp_path: Path) -> None:
    for name in ("py/app.py", "js/index.js", "plain/lambda_function.py", ".hidden/app.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = find_project(tmp_path)
    assert found is not None
    assert [(f.name, f.handler, f.runtime) for f in found.functions] == [
        ("js", "index.handler", "nodejs20.x"),
        ("plain", "lambda_function.lambda_handler", "python3.12"),
        ("py", "app.handler", "python3.12"),
    ]


def test_each_function_has_its_own_colour_and_the_names_line_up() -> None:
    styled = prefixes(["b", "long-name", "b"])
    assert click.unstyle(styled["b"]) == "b         | "
    assert click.unstyle(styled["long-name"]) == "long-name | "
    assert styled["b"] != click.style("b         | ", fg=None)
    assert len({value.split("m", 1)[0] for value in styled.values()}) == 2


def test_the_tail_shows_new_lines_of_every_function_from_where_it_left() -> None:
    pages = {
        ("a", 0): LogPage([LogEvent(0, "s", "old"), LogEvent(2**62, "s", "one\ntwo\n")], 7),
        ("b", 0): LogPage([LogEvent(2**62, "s", "bee")], 3),
        ("a", 7): LogPage([], 7),
        ("b", 3): LogPage([LogEvent(2**62, "s", "again")], 4),
    }
    shown: list[str] = []
    tail = LogTail("http://unused", shown.append, lambda name, offset: pages[(name, offset)])
    tail.follow(["a", "b"])
    assert tail.poll_once()
    assert tail.poll_once()
    assert [click.unstyle(line) for line in shown] == ["a | one", "a | two", "b | bee", "b | again"]


def test_the_engines_hot_reload_lines_are_shown_with_what_continues_them() -> None:
    text = (
        "Flare is serving the Lambda API on http://127.0.0.1:9000\n"
        "2026-12-05 04:16:26,888 INFO watchfiles.main: 1 change detected\n"
        "2026-12-05 04:16:26,893 INFO flare.code_watch: hot reload of hello from /src/hello\n"
        "2026-12-05 04:16:27,001 WARNING flare.code_watch: reload of p: requirements.txt: pip failed\n"
        "ERROR: No matching distribution found for tomli==0.0.0\n"
        "2026-12-05 04:16:28,000 WARNING flare.zygote: zygote exited\n"
        "a line after it\n"
    )
    shown, showing = engine_lines(text, False)
    assert shown == [
        "hot reload of hello from /src/hello",
        "reload of p: requirements.txt: pip failed",
        "ERROR: No matching distribution found for tomli==0.0.0",
    ]
    assert not showing
    assert engine_lines("more of it\n", True) == (["more of it"], True)
