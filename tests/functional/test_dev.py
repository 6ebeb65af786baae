"""``flare dev`` as a user runs it: a subprocess in a project directory, driven with boto3,
edited, interrupted with SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.conftest import FLARE, FlareServer, children_of, free_port

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: dev-greeter
      CodeUri: greeter/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 1024
      Timeout: 10
"""

HANDLER = """\
import time
def handler(event, context):
    print("greeting with {word}")
    time.sleep(event.get("sleep", 0))
    return "{word}"
"""
CYAN = "\x1b[36m"


def start_dev(
    project: Path, endpoint: str, build: bool = False, environ: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    command = [str(FLARE), "dev", str(project), "--endpoint-url", endpoint, "--color"]
    return subprocess.Popen(
        command if build else [*command, "--no-build"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(environ or {})},
    )


def wait_for_line(process: subprocess.Popen[str], wanted: str, seen: list[str], timeout: float = 90) -> None:
    """Read ``process``'s output into ``seen`` until a line holds ``wanted``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"flare dev ended before {wanted!r}:\n{''.join(seen)}")
        seen.append(line)
        if wanted in line:
            return
    raise AssertionError(f"no {wanted!r} after {timeout} s:\n{''.join(seen)}")


def client(endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> Any:
    reply = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    assert "FunctionError" not in reply
    return json.loads(reply["Payload"].read())


def save(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.saving")
    temporary.write_text(text)
    temporary.rename(path)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_flare_dev_serves_deploys_reloads_tails_and_stops_on_sigint(tmp_path: Path) -> None:
    (tmp_path / "greeter").mkdir()
    save(tmp_path / "greeter" / "app.py", HANDLER.format(word="hello"))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    endpoint = f"http://127.0.0.1:{free_port()}"
    dev = start_dev(tmp_path, endpoint)
    seen: list[str] = []
    try:
        wait_for_line(dev, "watching for changes", seen)
        engine = int(re.findall(r"started flare serve \(pid (\d+)\)", "".join(seen))[0])
        lam = client(endpoint)
        assert invoke(lam, "dev-greeter") == "hello"
        wait_for_line(dev, f"{CYAN}dev-greeter | \x1b[0mgreeting with hello", seen)

        slow: list[Any] = []
        running = threading.Thread(target=lambda: slow.append(invoke(lam, "dev-greeter", {"sleep": 1.5})))
        running.start()
        time.sleep(0.5)  # it has started and sleeps: the edit lands mid-invocation
        save(tmp_path / "greeter" / "app.py", HANDLER.format(word="bonjour"))
        running.join()
        assert slow == ["hello"]
        deadline = time.monotonic() + 10
        while invoke(lam, "dev-greeter") != "bonjour" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert invoke(lam, "dev-greeter") == "bonjour"
        wait_for_line(dev, "greeting with bonjour", seen)
        assert "flare | \x1b[0mhot reload of dev-greeter from" in "".join(seen)  # the engine's word
        descendants = children_of(dev.pid)
        assert engine in descendants
    finally:
        dev.send_signal(signal.SIGINT)
        out, _ = dev.communicate(timeout=60)
    assert dev.returncode == 0, "".join(seen) + out
    assert f"stopped flare serve (pid {engine}, exit 0)" in out
    time.sleep(0.5)
    assert [pid for pid in descendants if alive(pid)] == []


def test_flare_dev_uses_an_engine_already_running_and_leaves_it_running(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    project = tmp_path / "dev-single"
    project.mkdir()
    save(project / "app.py", 'def handler(event, context):\n    return "single"\n')
    dev = start_dev(project, flare.url)
    seen: list[str] = []
    try:
        wait_for_line(dev, "watching for changes", seen)
        assert f"using the Flare already running at {flare.url}" in "".join(seen)
        assert invoke(lam, "dev-single") == "single"
        save(project / "app.py", 'def handler(event, context):\n    return "edited"\n')
        deadline = time.monotonic() + 10
        while invoke(lam, "dev-single") != "edited" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert invoke(lam, "dev-single") == "edited"
    finally:
        dev.send_signal(signal.SIGINT)
        dev.communicate(timeout=60)
    assert dev.returncode == 0
    assert flare.process.poll() is None
    assert invoke(lam, "dev-single") == "edited"


LAYERED = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Words:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: dev-words
      ContentUri: words/
  Speaker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: dev-speaker
      CodeUri: speaker/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 1024
      Layers:
        - !Ref Words
"""


def test_under_flare_dev_a_sam_layers_content_uri_is_hot_reloaded(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    save_new(tmp_path / "words" / "python" / "words.py", 'WORD = "layer one"\n')
    save_new(
        tmp_path / "speaker" / "app.py", "import words\ndef handler(event, context):\n    return words.WORD\n"
    )
    (tmp_path / "template.yaml").write_text(LAYERED)
    dev = start_dev(tmp_path, flare.url)
    seen: list[str] = []
    try:
        wait_for_line(dev, "watching for changes", seen)
        assert invoke(lam, "dev-speaker") == "layer one"
        save(tmp_path / "words" / "python" / "words.py", 'WORD = "layer two"\n')
        deadline = time.monotonic() + 10
        while invoke(lam, "dev-speaker") != "layer two" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert invoke(lam, "dev-speaker") == "layer two"
    finally:
        dev.send_signal(signal.SIGINT)
        dev.communicate(timeout=60)
    assert dev.returncode == 0


def save_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, text)


BUILT = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Parser:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: dev-parser
      CodeUri: parser/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 1024
"""
PARSER = (
    "import tomli\ndef handler(event, context):\n    return {answer!r} + str(tomli.loads('a = 1')['a'])\n"
)


def test_flare_dev_builds_a_functions_requirements_and_the_bound_snapshot_has_them(tmp_path: Path) -> None:
    save_new(tmp_path / "parser" / "app.py", PARSER.format(answer="parsed "))
    (tmp_path / "parser" / "requirements.txt").write_text("tomli==2.0.1\n")
    (tmp_path / "template.yaml").write_text(BUILT)
    endpoint, cache = f"http://127.0.0.1:{free_port()}", tmp_path / "build-cache"
    dev = start_dev(tmp_path, endpoint, build=True, environ={"FLARE_BUILD_CACHE": str(cache)})
    seen: list[str] = []
    try:
        wait_for_line(dev, "watching for changes", seen)
        assert "parser: requirements.txt installed (pip of python3.12" in "".join(seen)
        lam = client(endpoint)
        assert invoke(lam, "dev-parser") == "parsed 1"
        save(tmp_path / "parser" / "app.py", PARSER.format(answer="edited "))
        deadline = time.monotonic() + 10
        while invoke(lam, "dev-parser") != "edited 1" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert invoke(lam, "dev-parser") == "edited 1"  # the edit reinstalled nothing: one tree
        assert len([tree for tree in cache.iterdir() if not tree.name.startswith(".")]) == 1
    finally:
        dev.send_signal(signal.SIGINT)
        dev.communicate(timeout=60)
    assert dev.returncode == 0


SERVERLESS = """\
service: devsls
provider:
  name: aws
  runtime: python3.12
  memorySize: 1024
functions:
  hello:
    handler: handler.hello
"""


def test_a_serverless_project_whose_code_is_the_project_with_the_engines_data_in_it(tmp_path: Path) -> None:
    """The service's directory is the code and holds ``.flare``, where the engine ``flare dev``
    started writes its database and logs: those writes are not code changes."""
    save(tmp_path / "handler.py", 'def hello(event, context):\n    return "sls one"\n')
    (tmp_path / "serverless.yml").write_text(SERVERLESS)
    endpoint = f"http://127.0.0.1:{free_port()}"
    dev = start_dev(tmp_path, endpoint)
    seen: list[str] = []
    try:
        wait_for_line(dev, "watching for changes", seen)
        lam = client(endpoint)
        assert invoke(lam, "devsls-dev-hello") == "sls one"
        sha = lam.get_function(FunctionName="devsls-dev-hello")["Configuration"]["CodeSha256"]
        for _ in range(10):  # the engine writes logs into .flare meanwhile
            invoke(lam, "devsls-dev-hello")
            time.sleep(0.1)
        assert lam.get_function(FunctionName="devsls-dev-hello")["Configuration"]["CodeSha256"] == sha
        assert (tmp_path / ".flare").is_dir()
        save(tmp_path / "handler.py", 'def hello(event, context):\n    return "sls two"\n')
        deadline = time.monotonic() + 10
        while invoke(lam, "devsls-dev-hello") != "sls two" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert invoke(lam, "devsls-dev-hello") == "sls two"
    finally:
        dev.send_signal(signal.SIGINT)
        dev.communicate(timeout=60)
    assert dev.returncode == 0


def test_flare_deploy_template_watch_binds_the_functions_without_staying(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    save_new(tmp_path / "greeter" / "app.py", HANDLER.format(word="watched"))
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("dev-greeter", "watched-greeter"))
    command = [str(FLARE), "deploy", "--template", str(tmp_path / "template.yaml"), "--watch"]
    done = subprocess.run(
        [*command, "--endpoint-url", flare.url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert invoke(lam, "watched-greeter") == "watched"
    save(tmp_path / "greeter" / "app.py", HANDLER.format(word="rewatched"))
    deadline = time.monotonic() + 10
    while invoke(lam, "watched-greeter") != "rewatched" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert invoke(lam, "watched-greeter") == "rewatched"
