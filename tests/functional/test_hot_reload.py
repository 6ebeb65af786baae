"""Hot reload through the wire: a function whose code is a host directory (LocalStack's
``S3Bucket: hot-reload``), reloaded on every change without a redeploy call."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FLARE, ROLE, FlareServer, launch, python_function

ANSWER = """
def handler(event, context):
    return {answer!r}
"""

# Reads a file of its code, sleeps, reads it again: an edit while it sleeps must change neither.
SLOW_READER = """
import os, time
def read():
    with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "data.txt")) as f:
        return f.read()
def handler(event, context):
    first = read()
    time.sleep(event.get("sleep", 0))
    return [first, read()]
"""

NEW_ANSWER_WITHIN_S = 10.0


def hot_code(directory: Path, bucket: str = "hot-reload") -> dict[str, str]:
    return {"S3Bucket": bucket, "S3Key": str(directory)}


def write(path: Path, text: str) -> None:
    """As an editor saves: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.rename(path)


def invoke(client: Any, name: str, event: dict[str, Any] | None = None, **extra: Any) -> Any:
    reply = client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **extra)
    assert "FunctionError" not in reply, reply["Payload"].read()
    return json.loads(reply["Payload"].read())


def wait_for_answer(client: Any, name: str, wanted: Any, timeout: float = NEW_ANSWER_WITHIN_S) -> Any:
    deadline = time.monotonic() + timeout
    answer = invoke(client, name)
    while answer != wanted and time.monotonic() < deadline:
        time.sleep(0.02)
        answer = invoke(client, name)
    return answer


def create_hot(client: Any, name: str, directory: Path, source: str | None = None, **config: Any) -> Any:
    directory.mkdir(parents=True, exist_ok=True)
    if source is not None:
        write(directory / "app.py", source)
    return client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        MemorySize=1024,
        Code=hot_code(directory),
        **config,
    )


def test_editing_the_handler_changes_the_next_invokes_answer(lam: Any, tmp_path: Path) -> None:
    created = create_hot(lam, "hot-edit", tmp_path / "edit", ANSWER.format(answer="one"))
    assert invoke(lam, "hot-edit") == "one"
    write(tmp_path / "edit" / "app.py", ANSWER.format(answer="two"))
    assert wait_for_answer(lam, "hot-edit", "two") == "two"
    after = lam.get_function(FunctionName="hot-edit")["Configuration"]
    assert after["CodeSha256"] != created["CodeSha256"]
    assert after["RevisionId"] != created["RevisionId"]


def test_the_older_bucket_name_binds_too(lam: Any, tmp_path: Path) -> None:
    directory = tmp_path / "local"
    directory.mkdir()
    write(directory / "app.py", ANSWER.format(answer="local"))
    lam.create_function(
        FunctionName="hot-local",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code=hot_code(directory, "__local__"),
    )
    assert invoke(lam, "hot-local") == "local"


def test_an_edit_during_an_invocation_does_not_change_what_it_runs(lam: Any, tmp_path: Path) -> None:
    directory = tmp_path / "slow"
    directory.mkdir()
    (directory / "data.txt").write_text("before")
    create_hot(lam, "hot-slow", directory, SLOW_READER)
    assert invoke(lam, "hot-slow") == ["before", "before"]  # warm: the next starts at once
    answers: list[Any] = []
    running = threading.Thread(target=lambda: answers.append(invoke(lam, "hot-slow", {"sleep": 1.5})))
    running.start()
    time.sleep(0.5)  # the invocation has started and sleeps
    write(directory / "data.txt", "after")
    running.join()
    assert answers == [["before", "before"]]
    assert wait_for_answer(lam, "hot-slow", ["after", "after"]) == ["after", "after"]


def test_a_published_version_keeps_the_code_it_was_published_with(lam: Any, tmp_path: Path) -> None:
    create_hot(lam, "hot-publish", tmp_path / "publish", ANSWER.format(answer="first"))
    version = lam.publish_version(FunctionName="hot-publish")["Version"]
    write(tmp_path / "publish" / "app.py", ANSWER.format(answer="second"))
    assert wait_for_answer(lam, "hot-publish", "second") == "second"
    assert invoke(lam, "hot-publish", Qualifier=version) == "first"


def test_code_given_as_a_zip_unbinds_the_directory(lam: Any, tmp_path: Path) -> None:
    create_hot(lam, "hot-unbind", tmp_path / "unbind", ANSWER.format(answer="watched"))
    lam.update_function_code(FunctionName="hot-unbind", ZipFile=python_function(ANSWER.format(answer="zip")))
    lam.get_waiter("function_updated_v2").wait(FunctionName="hot-unbind")
    sha = lam.get_function(FunctionName="hot-unbind")["Configuration"]["CodeSha256"]
    write(tmp_path / "unbind" / "app.py", ANSWER.format(answer="edited"))
    time.sleep(1.0)
    assert invoke(lam, "hot-unbind") == "zip"
    assert lam.get_function(FunctionName="hot-unbind")["Configuration"]["CodeSha256"] == sha


def test_deleting_the_function_stops_the_watch(lam: Any, tmp_path: Path) -> None:
    create_hot(lam, "hot-delete", tmp_path / "delete", ANSWER.format(answer="old"))
    lam.delete_function(FunctionName="hot-delete")
    lam.create_function(
        FunctionName="hot-delete",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_function(ANSWER.format(answer="zip"))},
    )
    write(tmp_path / "delete" / "app.py", ANSWER.format(answer="edited"))
    time.sleep(1.0)
    assert invoke(lam, "hot-delete") == "zip"


def test_a_code_signing_config_under_enforce_stops_reloads(lam: Any, tmp_path: Path) -> None:
    create_hot(lam, "hot-signed", tmp_path / "signed", ANSWER.format(answer="unsigned"))
    config = lam.create_code_signing_config(
        AllowedPublishers={
            "SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/t"]
        },
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    lam.put_function_code_signing_config(FunctionName="hot-signed", CodeSigningConfigArn=config)
    write(tmp_path / "signed" / "app.py", ANSWER.format(answer="also unsigned"))
    time.sleep(1.0)
    assert invoke(lam, "hot-signed") == "unsigned"


def test_a_directory_removed_and_made_again_is_watched_again(lam: Any, tmp_path: Path) -> None:
    directory = tmp_path / "dist"
    create_hot(lam, "hot-rebuilt", directory, ANSWER.format(answer="first build"))
    shutil.rmtree(directory)
    time.sleep(0.5)
    assert invoke(lam, "hot-rebuilt") == "first build"  # the code it had stays meanwhile
    directory.mkdir()
    write(directory / "app.py", ANSWER.format(answer="second build"))
    assert wait_for_answer(lam, "hot-rebuilt", "second build") == "second build"
    write(directory / "app.py", ANSWER.format(answer="an edit after it"))
    assert wait_for_answer(lam, "hot-rebuilt", "an edit after it") == "an edit after it"


def test_update_function_code_can_bind_a_directory(lam: Any, tmp_path: Path) -> None:
    lam.create_function(
        FunctionName="hot-later",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_function(ANSWER.format(answer="zip"))},
    )
    directory = tmp_path / "later"
    directory.mkdir()
    write(directory / "app.py", ANSWER.format(answer="bound"))
    lam.update_function_code(FunctionName="hot-later", **hot_code(directory))
    lam.get_waiter("function_updated_v2").wait(FunctionName="hot-later")
    assert invoke(lam, "hot-later") == "bound"
    write(directory / "app.py", ANSWER.format(answer="edited"))
    assert wait_for_answer(lam, "hot-later", "edited") == "edited"


def test_excluded_files_change_nothing(lam: Any, tmp_path: Path) -> None:
    directory = tmp_path / "exclude"
    created = create_hot(
        lam,
        "hot-exclude",
        directory,
        ANSWER.format(answer="x"),
        Environment={"Variables": {"FLARE_HOT_RELOAD_EXCLUDE": "*.log"}},
    )
    (directory / "__pycache__").mkdir()
    (directory / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"stale")
    (directory / "debug.log").write_text("noise")
    write(directory / "other.txt", "a change that counts")
    deadline = time.monotonic() + NEW_ANSWER_WITHIN_S
    sha = created["CodeSha256"]
    while sha == created["CodeSha256"] and time.monotonic() < deadline:
        time.sleep(0.05)
        sha = lam.get_function(FunctionName="hot-exclude")["Configuration"]["CodeSha256"]
    assert sha != created["CodeSha256"]
    location = lam.get_function(FunctionName="hot-exclude")["Code"]["Location"]
    with urllib.request.urlopen(location) as reply:  # the snapshot, as any code is downloadable
        names = zipfile.ZipFile(io.BytesIO(reply.read())).namelist()
    assert sorted(names) == ["app.py", "other.txt"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("relative/path", "absolute"),
        ("/no/such/directory/anywhere", "does not exist"),
        ("./app", "absolute"),
    ],
)
def test_a_bad_directory_is_an_invalid_parameter(lam: Any, key: str, message: str) -> None:
    with pytest.raises(ClientError) as caught:
        lam.create_function(
            FunctionName="hot-bad",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"S3Bucket": "hot-reload", "S3Key": key},
        )
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error["Error"]["Message"]


def test_a_file_is_not_a_directory(lam: Any, tmp_path: Path) -> None:
    (tmp_path / "file.py").write_text("x = 1")
    with pytest.raises(ClientError) as caught:
        lam.create_function(
            FunctionName="hot-file",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code=hot_code(tmp_path / "file.py"),
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "not a directory" in caught.value.response["Error"]["Message"]


def test_watching_resumes_after_a_restart(tmp_path: Path) -> None:
    server: FlareServer = launch(tmp_path)
    try:
        client = server.client()
        directory = tmp_path / "code"
        create_hot(client, "hot-restart", directory, ANSWER.format(answer="before"))
        assert invoke(client, "hot-restart") == "before"
        server.stop()
        write(directory / "app.py", ANSWER.format(answer="while down"))
        server.restart()
        assert wait_for_answer(client, "hot-restart", "while down") == "while down"
        write(directory / "app.py", ANSWER.format(answer="after"))
        assert wait_for_answer(client, "hot-restart", "after") == "after"
    finally:
        server.stop()


def test_a_server_with_roots_refuses_directories_outside_them(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    server = launch(tmp_path, "--hot-reload-root", str(allowed))
    try:
        client = server.client()
        with pytest.raises(ClientError) as caught:
            create_hot(client, "hot-outside", tmp_path / "outside", ANSWER.format(answer="no"))
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert "outside" in caught.value.response["Error"]["Message"]
        create_hot(client, "hot-inside", allowed / "fn", ANSWER.format(answer="yes"))
        assert invoke(client, "hot-inside") == "yes"
    finally:
        server.stop()


NODE_HANDLER = """exports.handler = async () => new Error("boom").stack;
//# sourceMappingURL=index.js.map
"""
NODE_MAP = '{"version":3,"file":"index.js","sources":["index.ts"],"names":[],"mappings":"AAAA"}'


def deploy_watch(flare: FlareServer, name: str, directory: Path, *extra: str) -> str:
    result = subprocess.run(
        [str(FLARE), "deploy", name, str(directory), "--endpoint-url", flare.url, "--watch", *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_deploy_watch_binds_the_directory(flare: FlareServer, lam: Any, tmp_path: Path) -> None:
    write(tmp_path / "app.py", ANSWER.format(answer="deployed"))
    output = deploy_watch(flare, "hot-cli", tmp_path, "--handler", "app.handler", "--runtime", "python3.11")
    assert f"watching {tmp_path.resolve()}" in output
    assert invoke(lam, "hot-cli") == "deployed"
    write(tmp_path / "app.py", ANSWER.format(answer="edited"))
    assert wait_for_answer(lam, "hot-cli", "edited") == "edited"
    write(tmp_path / "app.py", ANSWER.format(answer="again"))
    deploy_watch(flare, "hot-cli", tmp_path, "--handler", "app.handler", "--runtime", "python3.11")
    assert invoke(lam, "hot-cli") == "again"


def test_deploy_watch_maps_node_stack_traces_to_the_sources(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    (tmp_path / "index.js").write_text(NODE_HANDLER)
    (tmp_path / "index.js.map").write_text(NODE_MAP)
    deploy_watch(flare, "hot-node", tmp_path, "--handler", "index.handler", "--runtime", "nodejs20.x")
    stack = invoke(lam, "hot-node")
    assert "/var/task/index.ts:1" in stack, stack
