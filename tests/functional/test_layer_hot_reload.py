"""Hot reload of layers through the wire: a layer version published from a host directory
(``Content={"S3Bucket": "hot-reload", "S3Key": <dir>}``) and the functions listing it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.conftest import create_function, python_function

APP = """
import greeting
def handler(event, context):
    return greeting.WORD
"""


def save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.saving")
    temporary.write_text(text)
    temporary.rename(path)


def invoke(lam: Any, name: str, qualifier: str = "$LATEST") -> Any:
    reply = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=b"{}")
    assert "FunctionError" not in reply, reply["Payload"].read()
    return json.loads(reply["Payload"].read())


def wait_for(lam: Any, name: str, wanted: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    answer = invoke(lam, name)
    while answer != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = invoke(lam, name)
    return answer


def publish_hot(lam: Any, name: str, directory: Path) -> dict[str, Any]:
    published: dict[str, Any] = lam.publish_layer_version(
        LayerName=name, Content={"S3Bucket": "hot-reload", "S3Key": str(directory)}
    )
    return published


def test_a_change_under_a_hot_layer_reaches_every_latest_listing_it(lam: Any, tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    save(layer / "python" / "greeting.py", 'WORD = "one"\n')
    published = publish_hot(lam, "hot-layer", layer)
    arn = published["LayerVersionArn"]
    for name in ("layer-user-a", "layer-user-b"):
        create_function(lam, name, python_function(APP), Layers=[arn])
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        assert invoke(lam, name) == "one"
    frozen = lam.publish_version(FunctionName="layer-user-a")["Version"]
    revision = lam.get_function(FunctionName="layer-user-b")["Configuration"]["RevisionId"]

    save(layer / "python" / "greeting.py", 'WORD = "two"\n')
    assert wait_for(lam, "layer-user-a", "two") == "two"
    assert invoke(lam, "layer-user-b") == "two"  # a fresh environment: the module imported anew
    assert lam.get_function(FunctionName="layer-user-b")["Configuration"]["RevisionId"] != revision
    assert invoke(lam, "layer-user-a", frozen) == "one"  # a published version never changes
    shown = lam.get_layer_version_by_arn(Arn=arn)["Content"]["CodeSha256"]
    assert shown == published["Content"]["CodeSha256"]  # the version as published


def test_deleting_a_hot_layer_version_stops_its_reloads(lam: Any, tmp_path: Path) -> None:
    layer = tmp_path / "gone"
    save(layer / "python" / "greeting.py", 'WORD = "kept"\n')
    published = publish_hot(lam, "hot-layer-gone", layer)
    create_function(lam, "layer-user-gone", python_function(APP), Layers=[published["LayerVersionArn"]])
    lam.get_waiter("function_active_v2").wait(FunctionName="layer-user-gone")
    assert invoke(lam, "layer-user-gone") == "kept"
    lam.delete_layer_version(LayerName="hot-layer-gone", VersionNumber=published["Version"])
    save(layer / "python" / "greeting.py", 'WORD = "edited"\n')
    time.sleep(1.0)
    assert invoke(lam, "layer-user-gone") == "kept"


def test_a_layer_directory_outside_what_the_server_allows_is_refused(lam: Any, tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    try:
        publish_hot(lam, "hot-layer-missing", tmp_path / "nowhere")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "InvalidParameterValueException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("a missing directory was bound")
