"""The function resource's HTTP API, driven through real boto3 against a real aiohttp server.

The server carries only ``flare.api.functions`` routes over a ``Registry`` on a temporary data
directory; it runs on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import io
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

from flare.api import code
from flare.api.functions import add_routes
from flare.api.request_check import check_request
from flare.clock import SystemClock
from flare.control.code_url import CodeUrls
from flare.control.registry import Registry
from flare.scope import Scope
from flare.store.blobs import BlobStore
from flare.store.database import Database
from flare.store.functions import FunctionStore
from tests.conftest import free_port

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_lambda.type_defs import FunctionConfigurationResponseTypeDef, WaiterConfigTypeDef

ROLE = "arn:aws:iam::000000000000:role/flare"
NOT_FOUND = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:"


def make_zip(source: str = "def handler(event, context):\n    return event\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


class Server:
    """An aiohttp app with the function routes behind the model check, served from a thread on a
    free local port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> None:
        self._thread.start()
        self._call(self._start())

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(10)

    async def _start(self) -> None:
        scope = Scope("000000000000", "us-east-1")
        db = FunctionStore(Database(self.data_dir / "flare.db", scope), scope)
        blobs, clock = BlobStore(self.data_dir), SystemClock()
        registry = Registry(db, blobs, "us-east-1", "000000000000", clock)
        registry.load()
        app = web.Application(client_max_size=80 * 2**20, middlewares=[check_request])
        urls = CodeUrls(b"k" * 32, clock)
        add_routes(app, lambda request: registry, urls)
        code.add_routes(app, urls, blobs)
        self._db = db
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        self._db.close()


def lambda_client(url: str, validate: bool = True) -> LambdaClient:
    config = Config(retries={"total_max_attempts": 1}, parameter_validation=validate)
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> LambdaClient:
    return lambda_client(server.url)


@pytest.fixture
def raw_client(server: Server) -> LambdaClient:
    """A client that skips botocore's own checks, so the server's validation is what answers."""
    return lambda_client(server.url, validate=False)


def create(client: LambdaClient, name: str = "fn", **fields: Any) -> FunctionConfigurationResponseTypeDef:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip()},
    }
    params.update(fields)
    return client.create_function(**params)


def error_of(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_create_then_get_and_get_configuration_agree(client: LambdaClient) -> None:
    created = create(client, MemorySize=256, Environment={"Variables": {"GREETING": "hi"}})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    fetched = client.get_function(FunctionName="fn")
    configuration = client.get_function_configuration(FunctionName="fn")
    for field in ("FunctionArn", "CodeSha256", "RevisionId", "MemorySize", "Environment", "LastModified"):
        assert fetched["Configuration"][field] == created[field] == configuration[field]
    assert fetched["Code"]["RepositoryType"] == "S3"
    assert configuration["State"] == "Active"


def test_functions_can_be_named_by_arn_and_qualifier(client: LambdaClient) -> None:
    create(client)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert client.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == "fn"
    assert (
        client.get_function(FunctionName="fn", Qualifier="$LATEST")["Configuration"]["Version"] == "$LATEST"
    )
    assert (
        client.get_function_configuration(FunctionName="000000000000:function:fn:$LATEST")["Version"]
        == "$LATEST"
    )


def test_list_functions_pages_by_two_over_five(client: LambdaClient) -> None:
    for name in ["e", "c", "a", "d", "b"]:
        create(client, name)
    first = client.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    assert "NextMarker" in first
    pages = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
    sizes = [len(page["Functions"]) for page in pages]
    assert sizes == [2, 2, 1]
    names = [
        f["FunctionName"]
        for page in client.get_paginator("list_functions").paginate()
        for f in page["Functions"]
    ]
    assert names == ["a", "b", "c", "d", "e"]


def test_update_code_changes_code_sha256(client: LambdaClient) -> None:
    before = create(client)
    after = client.update_function_code(FunctionName="fn", ZipFile=make_zip("x = 2\n"))
    assert after["CodeSha256"] != before["CodeSha256"]
    assert after["RevisionId"] != before["RevisionId"]
    assert client.get_function(FunctionName="fn")["Configuration"]["CodeSha256"] == after["CodeSha256"]


def test_update_configuration_changes_only_given_fields(client: LambdaClient) -> None:
    create(client, MemorySize=512)
    updated = client.update_function_configuration(FunctionName="fn", Timeout=30, Description="new")
    assert (updated["Timeout"], updated["Description"], updated["MemorySize"]) == (30, "new", 512)


def test_stale_revision_id_is_412_precondition_failed(client: LambdaClient) -> None:
    revision = create(client)["RevisionId"]
    client.update_function_configuration(FunctionName="fn", Timeout=5, RevisionId=revision)
    code, status, message = error_of(
        lambda: client.update_function_configuration(FunctionName="fn", Timeout=6, RevisionId=revision)
    )
    assert (code, status) == ("PreconditionFailedException", 412)
    assert message.startswith("The Revision Id provided does not match the latest Revision Id.")
    code, status, _ = error_of(
        lambda: client.update_function_code(FunctionName="fn", ZipFile=make_zip(), RevisionId=revision)
    )
    assert (code, status) == ("PreconditionFailedException", 412)


def test_delete_then_every_call_is_404_with_aws_message(client: LambdaClient) -> None:
    create(client)
    assert client.delete_function(FunctionName="fn")["ResponseMetadata"]["HTTPStatusCode"] == 204
    calls: list[Callable[[], Any]] = [
        lambda: client.get_function(FunctionName="fn"),
        lambda: client.get_function_configuration(FunctionName="fn"),
        lambda: client.update_function_configuration(FunctionName="fn", Timeout=5),
        lambda: client.update_function_code(FunctionName="fn", ZipFile=make_zip()),
        lambda: client.delete_function(FunctionName="fn"),
    ]
    for call in calls:
        assert error_of(call) == ("ResourceNotFoundException", 404, NOT_FOUND + "fn")


def test_not_found_names_the_exact_arn(client: LambdaClient) -> None:
    assert error_of(lambda: client.get_function(FunctionName="nope")) == (
        "ResourceNotFoundException",
        404,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
    )


def test_duplicate_create_is_409(client: LambdaClient) -> None:
    create(client)
    assert error_of(lambda: create(client)) == (
        "ResourceConflictException",
        409,
        "Function already exist: fn",
    )


@pytest.mark.parametrize(
    ("fields", "expected_code", "message_part"),
    [
        (
            {"MemorySize": 64},
            "ValidationException",
            "Value '64' at 'memorySize' failed to satisfy constraint",
        ),
        ({"MemorySize": 10241}, "ValidationException", "'MemorySize' value failed to satisfy constraint"),
        ({"Timeout": 901}, "ValidationException", "Value '901' at 'timeout' failed to satisfy constraint"),
        (
            {"Environment": {"Variables": {"AWS_REGION": "x"}}},
            "InvalidParameterValueException",
            "Reserved keys used in this request: AWS_REGION",
        ),
        (
            {"Environment": {"Variables": {"BIG": "v" * 4096}}},
            "InvalidParameterValueException",
            "exceeded the 4KB limit",
        ),
        ({"Runtime": "python2.5"}, "InvalidParameterValueException", "] or be a valid ARN"),
        ({"Runtime": "ruby3.3"}, "InvalidParameterValueException", "not supported by Flare"),
        (
            {"Runtime": "python3.7"},
            "InvalidParameterValueException",
            "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use the new runtime (python3.14)",
        ),
        ({"Code": {"ZipFile": b"this is not a zip"}}, "InvalidParameterValueException", "Could not unzip"),
        (
            {"Code": {"S3Bucket": "bucket", "S3Key": "k"}},
            "InvalidParameterValueException",
            "Code.ZipFile only",
        ),
        ({"Role": "not-a-role"}, "ValidationException", "Value 'not-a-role' at 'role' failed to satisfy"),
        (
            {"PackageType": "Image", "Code": {"ImageUri": "x"}},
            "InvalidParameterValueException",
            "Zip packages",
        ),
        ({"MemorySize": "big"}, "InvalidRequestContentException", "'memorySize'"),
    ],
)
def test_invalid_create_is_400_and_stores_nothing(
    raw_client: LambdaClient, fields: dict[str, Any], expected_code: str, message_part: str
) -> None:
    code, status, message = error_of(lambda: create(raw_client, **fields))
    assert (code, status) == (expected_code, 400)
    assert message_part in message
    assert error_of(lambda: raw_client.get_function(FunctionName="fn"))[1] == 404


def test_a_malformed_function_name_is_a_validation_exception(client: LambdaClient) -> None:
    code, status, message = error_of(lambda: client.get_function(FunctionName="my-function!"))
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
    )


def test_invalid_update_is_400_and_changes_nothing(raw_client: LambdaClient) -> None:
    before = create(raw_client)
    code, status, _ = error_of(
        lambda: raw_client.update_function_configuration(FunctionName="fn", MemorySize=64)
    )
    assert (code, status) == ("ValidationException", 400)
    assert raw_client.get_function_configuration(FunctionName="fn")["RevisionId"] == before["RevisionId"]


def test_create_answers_pending_as_aws_does_and_turns_active(client: LambdaClient) -> None:
    created = create(client)
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in created and "Layers" not in created
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith(
        "arn:aws:lambda:us-east-1::runtime:"
    )
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
    client.get_waiter("function_active_v2").wait(
        FunctionName="fn", WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    active = client.get_function(FunctionName="fn")["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert not {"StateReason", "StateReasonCode", "LastUpdateStatusReason"} & set(active)


def test_an_update_answers_in_progress_then_successful(client: LambdaClient) -> None:
    create(client)
    client.get_waiter("function_active_v2").wait(
        FunctionName="fn", WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    updated = client.update_function_configuration(FunctionName="fn", Timeout=10)
    assert (updated["State"], updated["LastUpdateStatus"], updated["LastUpdateStatusReasonCode"]) == (
        "Active",
        "InProgress",
        "Creating",
    )
    client.get_waiter("function_updated_v2").wait(
        FunctionName="fn", WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    assert client.get_function_configuration(FunctionName="fn")["LastUpdateStatus"] == "Successful"


def test_list_functions_leaves_out_what_only_get_function_shows(client: LambdaClient) -> None:
    create(client)
    listed = client.list_functions()["Functions"][0]
    assert listed["FunctionName"] == "fn"
    assert not {"State", "StateReason", "LastUpdateStatus", "RuntimeVersionConfig", "Layers"} & set(listed)


def test_code_location_downloads_the_exact_zip_and_only_while_signed(client: LambdaClient) -> None:
    data = make_zip("def handler(event, context):\n    return 'zip'\n")
    create(client, Code={"ZipFile": data})
    location = client.get_function(FunctionName="fn")["Code"]["Location"]
    assert location.startswith(f"http://127.0.0.1:{client.meta.endpoint_url.rsplit(':', 1)[1]}/_flare/code/")
    with urllib.request.urlopen(location, timeout=5) as response:
        assert response.headers["Content-Type"] == "application/zip"
        assert response.read() == data
    tampered = location.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=5)
    assert refused.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()


def test_waiters_for_active_and_updated_pass_at_once(client: LambdaClient) -> None:
    create(client)
    fast: WaiterConfigTypeDef = {"Delay": 1, "MaxAttempts": 2}
    client.get_waiter("function_active_v2").wait(FunctionName="fn", WaiterConfig=fast)
    client.update_function_configuration(FunctionName="fn", Timeout=10)
    client.get_waiter("function_updated_v2").wait(FunctionName="fn", WaiterConfig=fast)
    client.get_waiter("function_exists").wait(FunctionName="fn", WaiterConfig=fast)


def test_functions_survive_a_server_restart(tmp_path: Path) -> None:
    first = Server(tmp_path)
    first.start()
    try:
        created = create(lambda_client(first.url), Description="durable")
    finally:
        first.stop()
    second = Server(tmp_path)
    second.start()
    try:
        again = lambda_client(second.url).get_function_configuration(FunctionName="fn")
    finally:
        second.stop()
    assert again["Description"] == "durable"
    assert again["RevisionId"] == created["RevisionId"]
    assert again["CodeSha256"] == created["CodeSha256"]
