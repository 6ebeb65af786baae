"""Build steps through the wire: ``flare deploy`` installs what a function's requirements.txt /
package.json names (from PyPI / npm, one tiny package each) into its package, from a cache the
second deploy hits without running pip or npm, and a watched directory is built by the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FLARE, FlareServer, launch

PYTHON_APP = """\
import tomli
def handler(event, context):
    return {{"answer": {answer!r}, "parsed": tomli.loads("a = 1")["a"], "version": tomli.__version__}}
"""
NODE_APP = """\
const isNumber = require("is-number");
exports.handler = async () => ({ answer: "node", five: isNumber(5), word: isNumber("five") });
"""
PACKAGE_JSON = json.dumps({"name": "fn", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}})


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-cache")


@pytest.fixture(scope="module")
def flare(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Iterator[FlareServer]:
    """A server sharing the CLI's build cache (as one user's server and CLI do)."""
    before = os.environ.get("FLARE_BUILD_CACHE")
    os.environ["FLARE_BUILD_CACHE"] = str(cache)
    try:
        server = launch(tmp_path_factory.mktemp("flare"))
    finally:
        if before is None:
            del os.environ["FLARE_BUILD_CACHE"]
        else:
            os.environ["FLARE_BUILD_CACHE"] = before
    yield server
    server.stop()


def flare_deploy(
    flare: FlareServer, cache: Path, *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLARE_BUILD_CACHE": str(cache), **(environ or {})}
    return subprocess.run(
        [str(FLARE), "deploy", *args, "--endpoint-url", flare.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def invoke(lam: Any, name: str) -> Any:
    reply = lam.invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(reply["Payload"].read())
    return {"error": payload} if "FunctionError" in reply else payload


def without_pip(tmp_path: Path) -> dict[str, str]:
    """An environment in which any pip run fails: no index, no configuration, no wheels."""
    (tmp_path / "no-wheels").mkdir(exist_ok=True)
    return {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tmp_path / "no-wheels"),
        "PIP_EXTRA_INDEX_URL": "",
    }


def test_a_python_functions_requirements_are_in_its_package_and_a_second_deploy_hits_the_cache(
    flare: FlareServer, lam: Any, cache: Path, tmp_path: Path
) -> None:
    code = tmp_path / "py"
    code.mkdir()
    (code / "app.py").write_text(PYTHON_APP.format(answer="first"))
    (code / "requirements.txt").write_text("tomli==2.0.1\n")
    plain = flare_deploy(flare, cache, "build-py", str(code), "--handler", "app.handler", "--no-build")
    assert plain.returncode == 0, plain.stderr
    assert "No module named 'tomli'" in json.dumps(invoke(lam, "build-py"))

    first = flare_deploy(
        flare, cache, "build-py", str(code), "--handler", "app.handler", "--runtime", "python3.12"
    )
    assert first.returncode == 0, first.stderr
    assert "requirements.txt installed (pip of python3.12" in first.stdout
    assert invoke(lam, "build-py") == {"answer": "first", "parsed": 1, "version": "2.0.1"}

    (code / "app.py").write_text(PYTHON_APP.format(answer="second"))
    again = flare_deploy(
        flare,
        cache,
        "build-py",
        str(code),
        "--handler",
        "app.handler",
        "--runtime",
        "python3.12",
        environ=without_pip(tmp_path),
    )
    assert again.returncode == 0, again.stderr
    assert "requirements.txt from the build cache" in again.stdout
    assert invoke(lam, "build-py") == {"answer": "second", "parsed": 1, "version": "2.0.1"}


def test_a_node_functions_package_json_is_installed_and_a_second_deploy_hits_the_cache(
    flare: FlareServer, lam: Any, cache: Path, tmp_path: Path
) -> None:
    code = tmp_path / "node"
    code.mkdir()
    (code / "index.js").write_text(NODE_APP)
    (code / "package.json").write_text(PACKAGE_JSON)
    args = ("build-node", str(code), "--handler", "index.handler", "--runtime", "nodejs20.x")
    first = flare_deploy(flare, cache, *args)
    assert first.returncode == 0, first.stderr
    assert "package.json installed (npm install" in first.stdout
    assert not (code / "node_modules").exists()  # installed into the cache, not the sources
    assert invoke(lam, "build-node") == {"answer": "node", "five": True, "word": False}

    (tmp_path / "empty-npm-cache").mkdir()
    offline = {"npm_config_offline": "true", "npm_config_cache": str(tmp_path / "empty-npm-cache")}
    again = flare_deploy(flare, cache, *args, environ=offline)
    assert again.returncode == 0, again.stderr
    assert "package.json from the build cache" in again.stdout


def test_a_failed_install_fails_the_deploy_with_pips_own_words(
    flare: FlareServer, cache: Path, tmp_path: Path
) -> None:
    code = tmp_path / "broken"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (code / "requirements.txt").write_text("tomli==0.0.0.404\n")
    done = flare_deploy(
        flare, cache, "build-broken", str(code), "--handler", "app.handler", environ=without_pip(tmp_path)
    )
    assert done.returncode == 1
    assert "build failed: requirements.txt" in done.stderr
    assert "tomli==0.0.0.404" in done.stderr  # pip's own message follows


def wait_for(lam: Any, name: str, wanted: dict[str, Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    answer = invoke(lam, name)
    while answer != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = invoke(lam, name)
    return answer


def test_a_watched_directory_is_rebuilt_when_its_requirements_change_not_its_code(
    flare: FlareServer, lam: Any, cache: Path, tmp_path: Path
) -> None:
    code = tmp_path / "watched"
    code.mkdir()
    (code / "app.py").write_text(PYTHON_APP.format(answer="watched"))
    (code / "requirements.txt").write_text("tomli==2.0.1\n")
    args = ("build-watch", str(code), "--handler", "app.handler", "--runtime", "python3.12", "--watch")
    done = flare_deploy(flare, cache, *args)
    assert done.returncode == 0, done.stderr
    assert invoke(lam, "build-watch") == {"answer": "watched", "parsed": 1, "version": "2.0.1"}
    trees = sorted(path.name for path in cache.iterdir())

    (code / "app.py").write_text(PYTHON_APP.format(answer="edited"))
    assert (
        wait_for(lam, "build-watch", {"answer": "edited", "parsed": 1, "version": "2.0.1"})["answer"]
        == "edited"
    )
    assert sorted(path.name for path in cache.iterdir()) == trees  # a code change installs nothing

    (code / "requirements.txt").write_text("tomli==2.0.2\n")
    wanted = {"answer": "edited", "parsed": 1, "version": "2.0.2"}
    assert wait_for(lam, "build-watch", wanted) == wanted
    assert len(list(cache.iterdir())) == len(trees) + 1


SAM_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Parser:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: build-sam
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 1024
"""


def test_a_sam_functions_code_uri_is_built_as_sam_build_would(
    flare: FlareServer, lam: Any, cache: Path, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(PYTHON_APP.format(answer="sam"))
    (tmp_path / "src" / "requirements.txt").write_text("tomli==2.0.1\n")
    (tmp_path / "template.yaml").write_text(SAM_TEMPLATE)
    done = flare_deploy(flare, cache, "--template", str(tmp_path / "template.yaml"))
    assert done.returncode == 0, done.stderr
    assert "Parser: requirements.txt" in done.stdout
    assert invoke(lam, "build-sam") == {"answer": "sam", "parsed": 1, "version": "2.0.1"}
