"""Layers through real boto3 against a real ``flare serve``: the layer API as AWS answers it,
and functions that list layers getting them under ``/opt``, in order, read-only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.sandbox.cgroups import Cgroups
from tests.conftest import FlareServer, create_function, python_function, zip_files

ACCOUNT = "000000000000"
LAYER_ARN = re.compile(rf"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:[a-zA-Z0-9-_]+")
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")

PROBE = """
import json, os, sys

def handler(event, context):
    answer = {"sys_path": sys.path, "path": os.environ["PATH"], "ld": os.environ["LD_LIBRARY_PATH"]}
    for module in event.get("imports", []):
        answer[module] = __import__(module).VALUE
    for name in event.get("read", []):
        with open(name) as file:
            answer[name] = file.read()
    if "write" in event:
        try:
            open(event["write"], "w").close()
            answer["write"] = "written"
        except OSError as error:
            answer["write"] = type(error).__name__
    return answer
"""


def layer_zip(files: dict[str, str]) -> bytes:
    return zip_files(dict(files))


def publish(lam: Any, name: str, files: dict[str, str], **fields: Any) -> dict[str, Any]:
    answer: dict[str, Any] = lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": layer_zip(files)}, **fields
    )
    return answer


def invoke(lam: Any, name: str, event: dict[str, Any], qualifier: str | None = None) -> dict[str, Any]:
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    result: dict[str, Any] = payload
    return result


def error_of(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


# -- the layer API ---------------------------------------------------------------------------------


def test_publish_answers_aws_shape_and_location_downloads_the_zip(lam: Any, flare: FlareServer) -> None:
    data = layer_zip({"python/shape_pkg.py": "VALUE = 1\n"})
    answer = lam.publish_layer_version(
        LayerName="shape",
        Description="a layer",
        Content={"ZipFile": data},
        CompatibleRuntimes=["python3.12", "python3.11"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )

    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert answer["LayerArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:shape"
    assert answer["LayerVersionArn"] == f"{answer['LayerArn']}:1"
    assert answer["Version"] == 1
    assert answer["Description"] == "a layer"
    assert answer["LicenseInfo"] == "MIT"
    assert answer["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert answer["CompatibleArchitectures"] == ["x86_64"]
    assert DATE.fullmatch(answer["CreatedDate"])
    content = answer["Content"]
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert content["CodeSize"] == len(data)
    digest = hashlib.sha256(data).hexdigest()
    assert content["Location"].startswith(f"{flare.url}/_flare/code/{digest}.zip?X-Amz-Algorithm=")
    assert download(content["Location"]) == data

    got = lam.get_layer_version(LayerName="shape", VersionNumber=1)
    by_arn = lam.get_layer_version_by_arn(Arn=answer["LayerVersionArn"])
    for same in (got, by_arn):
        assert same["ResponseMetadata"]["HTTPStatusCode"] == 200
        for field in ("LayerArn", "LayerVersionArn", "Version", "Description", "CreatedDate", "LicenseInfo"):
            assert same[field] == answer[field]
        assert same["Content"]["CodeSha256"] == content["CodeSha256"]
        assert download(same["Content"]["Location"]) == data


def test_omitted_fields_are_omitted_and_empty_lists_kept(lam: Any) -> None:
    bare = publish(lam, "bare", {"f": "x"})
    empty = publish(lam, "empty-lists", {"f": "x"}, CompatibleRuntimes=[], CompatibleArchitectures=[])

    assert bare["Description"] == ""
    for field in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        assert field not in bare
    assert empty["CompatibleRuntimes"] == []
    assert empty["CompatibleArchitectures"] == []


def test_download_link_refuses_a_tampered_signature(lam: Any) -> None:
    location = publish(lam, "tamper", {"f": "x"})["Content"]["Location"]
    tampered = location[:-4] + ("0000" if not location.endswith("0000") else "1111")

    with pytest.raises(urllib.error.HTTPError) as caught:
        download(tampered)

    assert caught.value.code == 403
    assert b"signature" in caught.value.read()


def test_versions_count_up_and_numbers_are_never_reused(lam: Any) -> None:
    assert publish(lam, "counted", {"f": "1"})["Version"] == 1
    assert publish(lam, "counted", {"f": "1"})["Version"] == 2

    listed = lam.list_layer_versions(LayerName="counted")["LayerVersions"]
    assert [item["Version"] for item in listed] == [2, 1]
    assert "Content" not in listed[0] and "LayerArn" not in listed[0]
    assert listed[0]["LayerVersionArn"].endswith(":counted:2")

    lam.delete_layer_version(LayerName="counted", VersionNumber=1)
    lam.delete_layer_version(LayerName="counted", VersionNumber=2)
    assert lam.list_layer_versions(LayerName="counted")["LayerVersions"] == []
    assert publish(lam, "counted", {"f": "1"})["Version"] == 3


def test_layer_name_may_be_its_arn(lam: Any) -> None:
    arn = publish(lam, "by-arn", {"f": "1"})["LayerArn"]

    assert publish(lam, arn, {"f": "2"})["Version"] == 2
    assert lam.get_layer_version(LayerName=arn, VersionNumber=2)["LayerVersionArn"] == f"{arn}:2"
    assert [item["Version"] for item in lam.list_layer_versions(LayerName=arn)["LayerVersions"]] == [2, 1]


def test_missing_versions_and_bad_numbers_get_aws_errors(lam: Any) -> None:
    arn = publish(lam, "errors", {"f": "1"})["LayerArn"]

    assert error_of(lambda: lam.get_layer_version(LayerName="no-such-layer", VersionNumber=1)) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )
    assert error_of(lambda: lam.get_layer_version(LayerName="errors", VersionNumber=2))[0] == (
        "ResourceNotFoundException"
    )
    assert error_of(lambda: lam.get_layer_version_by_arn(Arn=f"{arn}:2"))[:2] == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    for call in (
        lambda: lam.get_layer_version(LayerName="errors", VersionNumber=0),
        lambda: lam.delete_layer_version(LayerName="errors", VersionNumber=-1),
    ):
        assert error_of(call) == (
            "InvalidParameterValueException",
            "Layer Version Cannot be less than 1",
            400,
        )
    # deleting is idempotent, as on AWS
    assert (
        lam.delete_layer_version(LayerName="no-such-layer", VersionNumber=1)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert (
        lam.delete_layer_version(LayerName="errors", VersionNumber=9)["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    assert lam.list_layer_versions(LayerName="no-such-layer")["LayerVersions"] == []


def test_s3_content_is_refused_clearly(lam: Any) -> None:
    code, message, status = error_of(
        lambda: lam.publish_layer_version(
            LayerName="s3", Content={"S3Bucket": "bucket", "S3Key": "layer.zip"}
        )
    )

    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "Flare has no S3" in message and "ZipFile" in message


def test_list_layers_shows_latest_matching_version_with_filters_and_pages(flare: FlareServer) -> None:
    lam = flare.client()
    publish(lam, "list-a", {"f": "1"}, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    publish(lam, "list-b", {"f": "1"}, CompatibleRuntimes=["nodejs22.x"], CompatibleArchitectures=["arm64"])
    publish(lam, "list-c", {"f": "1"}, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    publish(lam, "list-c", {"f": "2"}, CompatibleRuntimes=["nodejs22.x"], CompatibleArchitectures=["arm64"])

    def listed(**filters: Any) -> dict[str, int]:
        layers = lam.list_layers(**filters)["Layers"]
        return {
            item["LayerName"]: item["LatestMatchingVersion"]["Version"]
            for item in layers
            if item["LayerName"].startswith("list-")
        }

    assert listed() == {"list-a": 1, "list-b": 1, "list-c": 2}
    assert listed(CompatibleRuntime="python3.12") == {"list-a": 1, "list-c": 1}
    assert listed(CompatibleArchitecture="arm64") == {"list-b": 1, "list-c": 2}
    assert listed(CompatibleRuntime="python3.12", CompatibleArchitecture="arm64") == {}
    item = next(i for i in lam.list_layers()["Layers"] if i["LayerName"] == "list-c")
    assert item["LayerArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:list-c"
    assert item["LatestMatchingVersion"]["LayerVersionArn"] == f"{item['LayerArn']}:2"
    assert "Content" not in item["LatestMatchingVersion"]

    everything = [item["LayerName"] for item in lam.list_layers()["Layers"]]
    paged, marker = [], None
    while True:
        page = lam.list_layers(MaxItems=2, **({"Marker": marker} if marker else {}))
        paged += [item["LayerName"] for item in page["Layers"]]
        marker = page.get("NextMarker")
        if marker is None:
            break
    assert paged == everything == sorted(everything)
    versions = lam.list_layer_versions(LayerName="list-c", MaxItems=1)
    assert [v["Version"] for v in versions["LayerVersions"]] == [2]
    rest = lam.list_layer_versions(LayerName="list-c", MaxItems=1, Marker=versions["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert "NextMarker" not in rest
    paginator = lam.get_paginator("list_layer_versions")
    pages = paginator.paginate(LayerName="list-c", PaginationConfig={"PageSize": 1})
    assert [v["Version"] for page in pages for v in page["LayerVersions"]] == [2, 1]


# -- permissions -----------------------------------------------------------------------------------


def test_layer_version_permissions_write_aws_policy_documents(lam: Any) -> None:
    arn = publish(lam, "shared", {"f": "1"})["LayerVersionArn"]
    assert error_of(lambda: lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
        404,
    )

    everyone = lam.add_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="all", Action="lambda:GetLayerVersion", Principal="*"
    )
    assert everyone["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(everyone["Statement"]) == {
        "Sid": "all",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
    }
    account = lam.add_layer_version_permission(
        LayerName="shared",
        VersionNumber=1,
        StatementId="one-account",
        Action="lambda:GetLayerVersion",
        Principal="123456789012",
        RevisionId=everyone["RevisionId"],
    )
    org = lam.add_layer_version_permission(
        LayerName="shared",
        VersionNumber=1,
        StatementId="org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-abcdefghij",
    )
    assert account["RevisionId"] != everyone["RevisionId"] != org["RevisionId"]

    policy = lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert policy["RevisionId"] == org["RevisionId"]
    assert policy["Policy"].startswith('{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"all"')
    statements = json.loads(policy["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["all", "one-account", "org"]
    assert statements[1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert statements[2]["Principal"] == "*"
    assert statements[2]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}

    lam.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="one-account")
    after = lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert [s["Sid"] for s in json.loads(after["Policy"])["Statement"]] == ["all", "org"]
    assert after["RevisionId"] != policy["RevisionId"]


def test_layer_permission_errors(lam: Any) -> None:
    publish(lam, "guarded", {"f": "1"})

    def add(sid: str, **extra: Any) -> Any:
        return lambda: lam.add_layer_version_permission(
            LayerName="guarded",
            VersionNumber=1,
            StatementId=sid,
            Action="lambda:GetLayerVersion",
            Principal="*",
            **extra,
        )

    add("s1")()
    assert error_of(add("s1")) == (
        "ResourceConflictException",
        "The statement id (s1) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
        409,
    )
    code, message, status = error_of(add("s2", RevisionId="not-the-revision"))
    assert (code, status) == ("PreconditionFailedException", 412)
    assert "Call the GetLayerPolicy API to retrieve the latest Revision Id" in message
    assert error_of(
        lambda: lam.remove_layer_version_permission(LayerName="guarded", VersionNumber=1, StatementId="nope")
    ) == ("ResourceNotFoundException", "Statement nope is not found in resource policy.", 404)
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:guarded:7"
    for call in (
        lambda: lam.get_layer_version_policy(LayerName="guarded", VersionNumber=7),
        lambda: lam.remove_layer_version_permission(LayerName="guarded", VersionNumber=7, StatementId="s1"),
        lambda: lam.add_layer_version_permission(
            LayerName="guarded",
            VersionNumber=7,
            StatementId="s",
            Action="lambda:GetLayerVersion",
            Principal="*",
        ),
    ):
        assert error_of(call) == (
            "ResourceNotFoundException",
            f"Layer version {missing} does not exist.",
            404,
        )


# -- functions with layers ------------------------------------------------------------------------


def test_function_imports_a_package_from_its_layer(lam: Any) -> None:
    layer = publish(
        lam,
        "pkg-layer",
        {
            "python/greeting/__init__.py": "VALUE = 'hello from a layer'\n",
            "python/lib/python3.12/site-packages/deep.py": "VALUE = 'from site-packages'\n",
            # a .pth file of a site directory is read, as Lambda's runtime reads it
            "python/lib/python3.12/site-packages/extra.pth": "/opt/pth_target\n",
            "pth_target/pth_mod.py": "VALUE = 'from a .pth entry'\n",
        },
    )
    config = create_function(
        lam, "uses-layer", python_function(PROBE), runtime="python3.12", Layers=[layer["LayerVersionArn"]]
    )

    assert config["Layers"] == [{"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}]
    assert lam.get_function_configuration(FunctionName="uses-layer")["Layers"] == config["Layers"]
    answer = invoke(lam, "uses-layer", {"imports": ["greeting", "deep", "pth_mod"], "write": "/opt/new-file"})
    assert answer["greeting"] == "hello from a layer"
    assert answer["deep"] == "from site-packages"
    assert answer["pth_mod"] == "from a .pth entry"
    assert answer["write"] in ("OSError", "PermissionError")  # /opt is read-only
    path = answer["sys_path"]
    assert path[:3] == ["/var/task", "/opt/python/lib/python3.12/site-packages", "/opt/python"]
    assert "/opt/bin" in answer["path"].split(":")
    assert "/opt/lib" in answer["ld"].split(":")


def test_later_layers_override_earlier_ones_in_order(lam: Any) -> None:
    first = publish(
        lam,
        "order-first",
        {"python/shared_mod.py": "VALUE = 'first'\n", "data.txt": "first", "only-first.txt": "kept"},
    )["LayerVersionArn"]
    second = publish(
        lam, "order-second", {"python/shared_mod.py": "VALUE = 'second'\n", "data.txt": "second"}
    )["LayerVersionArn"]
    create_function(lam, "ordered", python_function(PROBE), runtime="python3.12", Layers=[first, second])
    event = {"imports": ["shared_mod"], "read": ["/opt/data.txt", "/opt/only-first.txt"]}

    answer = invoke(lam, "ordered", event)
    assert (answer["shared_mod"], answer["/opt/data.txt"], answer["/opt/only-first.txt"]) == (
        "second",
        "second",
        "kept",
    )

    lam.update_function_configuration(FunctionName="ordered", Layers=[second, first])
    answer = invoke(lam, "ordered", event)
    assert (answer["shared_mod"], answer["/opt/data.txt"]) == ("first", "first")


def test_function_layer_errors_are_aws_errors(lam: Any) -> None:
    arns = [publish(lam, f"limit-{n}", {"f": str(n)})["LayerVersionArn"] for n in range(6)]
    second_version = publish(lam, "limit-0", {"f": "again"})["LayerVersionArn"]
    code = python_function(PROBE)

    def create(layers: list[str]) -> Any:
        return lambda: create_function(lam, "limited", code, Layers=layers)

    assert error_of(create(arns)) == (
        "InvalidParameterValueException",
        "Cannot reference more than 5 layers.",
        400,
    )
    missing = arns[0].rsplit(":", 1)[0] + ":9"
    assert error_of(create([missing])) == (
        "InvalidParameterValueException",
        f"Layer version {missing} does not exist.",
        400,
    )
    assert error_of(create([arns[0], second_version]))[1] == (
        "Two different versions of the same layer are not allowed to be referenced in the same function. "
        f"{arns[0]} and {second_version} are versions of the same layer."
    )
    other_region = arns[0].replace("us-east-1", "eu-west-1")
    assert error_of(create([other_region]))[1] == (
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1."
    )
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="limited")


def test_deleting_a_layer_version_does_not_break_functions_using_it(flare: FlareServer) -> None:
    lam = flare.client()
    arn = publish(lam, "doomed", {"python/doomed_mod.py": "VALUE = 'still here'\n"})["LayerVersionArn"]
    create_function(lam, "survivor", python_function(PROBE), runtime="python3.12", Layers=[arn])
    lam.delete_layer_version(LayerName="doomed", VersionNumber=1)

    assert lam.get_function_configuration(FunctionName="survivor")["Layers"][0]["Arn"] == arn
    assert invoke(lam, "survivor", {"imports": ["doomed_mod"]})["doomed_mod"] == "still here"
    assert error_of(lambda: create_function(lam, "latecomer", python_function(PROBE), Layers=[arn]))[1] == (
        f"Layer version {arn} does not exist."
    )
    # a new environment (changed configuration) and a restarted engine still find it
    lam.update_function_configuration(FunctionName="survivor", MemorySize=512)
    assert invoke(lam, "survivor", {"imports": ["doomed_mod"]})["doomed_mod"] == "still here"
    flare.restart()
    lam = flare.client()
    assert invoke(lam, "survivor", {"imports": ["doomed_mod"]})["doomed_mod"] == "still here"
    assert error_of(lambda: lam.get_layer_version(LayerName="doomed", VersionNumber=1))[0] == (
        "ResourceNotFoundException"
    )


def test_published_versions_keep_their_layers(lam: Any) -> None:
    old = publish(lam, "versioned", {"python/vmod.py": "VALUE = 'v1'\n"})["LayerVersionArn"]
    new = publish(lam, "versioned", {"python/vmod.py": "VALUE = 'v2'\n"})["LayerVersionArn"]
    create_function(lam, "pinned", python_function(PROBE), runtime="python3.12", Layers=[old], Publish=True)
    lam.update_function_configuration(FunctionName="pinned", Layers=[new])

    assert invoke(lam, "pinned", {"imports": ["vmod"]}, qualifier="1")["vmod"] == "v1"
    assert invoke(lam, "pinned", {"imports": ["vmod"]})["vmod"] == "v2"
    assert lam.get_function_configuration(FunctionName="pinned", Qualifier="1")["Layers"][0]["Arn"] == old


def test_removing_every_layer_omits_the_field(lam: Any) -> None:
    arn = publish(lam, "removable", {"python/gone.py": "VALUE = 1\n"})["LayerVersionArn"]
    create_function(lam, "unlayered", python_function(PROBE), runtime="python3.12", Layers=[arn])

    config = lam.update_function_configuration(FunctionName="unlayered", Layers=[])

    assert "Layers" not in config
    answer = invoke(lam, "unlayered", {})
    assert not any(entry.startswith("/opt") for entry in answer["sys_path"])


BOOTSTRAP_IN_LAYER = """#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")" || exit 1
  ID="$(tr -d '\\r' < "$HEADERS" | grep -i '^lambda-runtime-aws-request-id:' | cut -d: -f2- | tr -d ' ')"
  curl -sS -o /dev/null -X POST --data-binary "{\\"from\\":\\"$0\\",\\"tool\\":\\"$(layer-tool)\\"}" \\
    "$API/invocation/$ID/response" || exit 1
done
"""


def test_custom_runtime_bootstrap_and_tools_from_a_layer(lam: Any) -> None:
    arn = lam.publish_layer_version(
        LayerName="runtime-layer",
        Content={
            "ZipFile": zip_files(
                {"bootstrap": BOOTSTRAP_IN_LAYER, "bin/layer-tool": "#!/bin/sh\necho tool-ok\n"},
                {"bootstrap": 0o755, "bin/layer-tool": 0o755},
            )
        },
    )["LayerVersionArn"]
    create_function(
        lam,
        "layer-runtime",
        zip_files({"README": "no bootstrap here"}),
        handler="x",
        runtime="provided.al2023",
        Layers=[arn],
    )

    assert invoke(lam, "layer-runtime", {}) == {"from": "/opt/bootstrap", "tool": "tool-ok"}


def test_no_sandbox_server_gives_layers_too(tmp_path: Any) -> None:
    from tests.conftest import launch

    server = launch(tmp_path, "--no-sandbox")
    try:
        lam = server.client()
        arn = publish(
            lam, "plain", {"python/plain_mod.py": "VALUE = 'plain'\n", "bin/x": "", "data.txt": "d"}
        )
        create_function(
            lam, "plain-fn", python_function(PROBE), runtime="python3.12", Layers=[arn["LayerVersionArn"]]
        )
        answer = invoke(lam, "plain-fn", {"imports": ["plain_mod"]})
        assert answer["plain_mod"] == "plain"
        opt = answer["sys_path"][2].removesuffix("/python")
        assert opt != "/opt" and answer["sys_path"][1] == f"{opt}/python/lib/python3.12/site-packages"
        assert f"{opt}/bin" in answer["path"].split(":")
        assert f"{opt}/lib" in answer["ld"].split(":")
    finally:
        server.stop()


@pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None,
    reason="SnapStart restores need the sandbox (root and cgroups)",
)
def test_snapstart_restores_see_the_layers_of_their_version(lam: Any) -> None:
    arn = publish(lam, "snap-layer", {"python/snap_mod.py": "VALUE = 'layer in a snapshot'\n"})[
        "LayerVersionArn"
    ]
    source = "import snap_mod\n\ndef handler(event, context):\n    return {'value': snap_mod.VALUE}\n"
    create_function(
        lam,
        "snap-layered",
        python_function(source),
        runtime="python3.12",
        SnapStart={"ApplyOn": "PublishedVersions"},
        Layers=[arn],
    )
    version = lam.publish_version(FunctionName="snap-layered")["Version"]
    deadline = time.monotonic() + 60
    while (
        lam.get_function_configuration(FunctionName="snap-layered", Qualifier=version)["State"] == "Pending"
    ):
        assert time.monotonic() < deadline, "the snapshot was never made"
        time.sleep(0.05)

    response = lam.invoke(FunctionName="snap-layered", Qualifier=version, LogType="Tail")

    assert json.loads(response["Payload"].read()) == {"value": "layer in a snapshot"}
    assert "Restore Duration" in base64.b64decode(response["LogResult"]).decode()
